"""Build and run a scenario against real Kafka and Elasticsearch: shared by `kairos run --kafka` (embedded),
`kairos submit` and jobs/scenario_job.py (the program `flink run -py` executes on a cluster client)."""

from __future__ import annotations

import glob
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from jobs.compiler.plan import Plan
from jobs.config.naming import Naming
from jobs.config.project import PROJECT_ROOT
from jobs.config.settings import Connections

DEFAULT_CHECKPOINT_MS = 5000


def default_kafka_jar() -> str | None:
    """KAIROS_KAFKA_JAR, else the jar services/fetch-jars.sh puts in .cache/jars/flink."""
    if os.environ.get("KAIROS_KAFKA_JAR"):
        return os.environ["KAIROS_KAFKA_JAR"]
    found = sorted(glob.glob(os.path.join(PROJECT_ROOT, ".cache", "jars", "flink", "flink-sql-connector-kafka-*.jar")))
    return found[-1] if found else None


@dataclass
class ConnectOptions:
    exactly_once: bool = False
    dry_run: bool = False
    prefix: str = ""
    start: str = "committed"
    bounded: bool = False
    parallelism: int = 1
    checkpoint_ms: int = DEFAULT_CHECKPOINT_MS
    kafka_jar: str | None = None  # None: the cluster already has it (flink run -j) or KAIROS_KAFKA_JAR
    partitions: int = 1
    extra_config: dict[str, str] | None = None
    fuse: bool = True  # one Python operator per event where the plan allows (decision 0022)
    checkpoint_dir: str | None = None  # embedded runs; None: KAIROS_CHECKPOINT_DIR, else a temp directory

    @classmethod
    def from_args(cls, args, kafka_jar: str | None) -> ConnectOptions:
        """The options of `kairos run/submit/prepare --kafka` and of jobs/scenario_job.py (the same flags)."""
        return cls(exactly_once=args.exactly_once, dry_run=args.dry_run, prefix=args.prefix, start=args.start,
                   bounded=getattr(args, "bounded", False), parallelism=args.parallelism,
                   checkpoint_ms=args.checkpoint_ms or DEFAULT_CHECKPOINT_MS, kafka_jar=kafka_jar)

    def naming(self, plan: Plan) -> Naming:
        return Naming(plan.scenario.name, self.prefix, self.dry_run)


def describe(plan: Plan, conns: Connections, opts: ConnectOptions) -> dict:
    """What the job will read and write (no secrets): printed by the CLI, checked by tests."""
    from jobs.config.settings import masked
    from jobs.flink.contacts_io import contacts_topic, shared_policy
    from jobs.flink.kafka_io import action_channels

    naming = opts.naming(plan)
    policy = shared_policy(plan)[0]
    shared = {"contacts": {"policy": policy, "reads": contacts_topic(naming),
                           "writes": contacts_topic(naming, write=True)}} if policy else {}
    return {
        "scenario": plan.scenario.name,
        "inputs": {n: naming.source_topic(s.topic) for n, s in plan.scenario.sources.items()},
        "actions": {c: naming.actions_topic(c) for c in action_channels(plan)},
        "dead_letter": naming.dead_letter_topic,
        "detections": f"elasticsearch:{naming.index}" if conns.es else f"kafka:{naming.detections_topic}",
        "group_id": naming.group_id,
        "delivery": "exactly-once" if opts.exactly_once else "at-least-once",
        "start": opts.start, "bounded": opts.bounded, "dry_run": opts.dry_run,
        "connections": masked(conns), **shared,
        **({"parameters": f"kafka:{naming.source_topic('kairos.control')}"} if plan.scenario.parameters else {}),
    }


def prepare(plan: Plan, conns: Connections, opts: ConnectOptions) -> None:
    """Before the job starts: the index template + index, and the output topics."""
    from jobs.connect.es_template import ensure_index_template
    from jobs.connect.topics import ensure_topics

    naming = opts.naming(plan)
    if conns.es:
        ensure_index_template(conns.es, naming)
    outputs = _outputs(plan, conns, opts)
    ensure_topics(conns.kafka, outputs.topics(plan), partitions=opts.partitions,
                  compacted=getattr(outputs, "compacted", ()))
    if plan.scenario.parameters:  # live parameters: changes come on the control topic (one partition: in order)
        from jobs.flink.param_entry import control_topic

        ensure_topics(conns.kafka, [control_topic(naming)])


def _outputs(plan: Plan, conns: Connections, opts: ConnectOptions, tables=None):
    from jobs.flink.contacts_io import io_classes
    from jobs.flink.kafka_io import TableEnv

    naming = opts.naming(plan)
    detections = None
    if conns.es:
        from jobs.flink.es_io import attach_es_detections

        def detections(stream, es=conns.es, index=naming.index, name=plan.scenario.name):
            return attach_es_detections(stream, es, index, name, buckets=opts.parallelism)
    outputs_class = io_classes(plan)[1]  # + the contacts topic with a shared policy (contacts_io.py)
    return outputs_class(conns.kafka, naming, tables or TableEnv(None), opts.exactly_once, detections)


# Streaming runs flush network buffers after 5 ms (Flink's default: 100 ms) and emit watermarks every 10 ms
# (50 ms), both bounding how long a due action waits. Bank example over Kafka, 500 events/s, same run, load
# 26-47: p50 19 ms with these settings, 231 ms on the two-operator path with the defaults (docs/performance.md).
STREAMING_LATENCY = {"execution.buffer-timeout.interval": "5 ms", "pipeline.auto-watermark-interval": "10 ms"}


def checkpoint_storage(plan: Plan, opts: ConnectOptions) -> dict[str, str]:
    """Checkpoints of an embedded streaming run go to files, not to JobManager memory: Flink's in-memory
    storage refuses a checkpoint over 5 MB, which the bank example passes at 2,000 events/s (~20k pending
    SMS). A cluster keeps its own configuration (flink-conf/cluster)."""
    root = opts.checkpoint_dir or os.environ.get("KAIROS_CHECKPOINT_DIR") or os.path.join(
        tempfile.gettempdir(), "kairos-checkpoints")
    path = os.path.abspath(os.path.join(root, opts.naming(plan).group_id))
    return {"execution.checkpointing.storage": "filesystem", "execution.checkpointing.dir": f"file://{path}"}


def build(plan: Plan, conns: Connections, opts: ConnectOptions, embedded: bool = True):
    """A StreamExecutionEnvironment with the scenario's job added (embedded=False under `flink run`).

    The job gets `conns.for_job()`: secrets by reference only (decision 0011); SettingsError when a secret has
    no place the running job can read it from."""
    from jobs.flink.contacts_io import enable_publishing, io_classes
    from jobs.flink.job import JobOptions, build_job, make_environment
    from jobs.flink.kafka_io import KafkaOutputs, TableEnv

    conns = conns.for_job(embedded)

    # lateness from Flink watermarks (deterministic=False); checkpoints commit offsets and transactions
    extra = {**STREAMING_LATENCY, **(checkpoint_storage(plan, opts) if embedded else {}), **(opts.extra_config or {})}
    job_options = JobOptions(parallelism=opts.parallelism, deterministic=False,
                             checkpoint_interval_ms=opts.checkpoint_ms,
                             pipeline_jars=[opts.kafka_jar] if opts.kafka_jar else [],
                             extra_config=extra, embedded=embedded)
    env = make_environment(job_options)
    tables = TableEnv(env)
    inputs_class, outputs_class = io_classes(plan)
    if outputs_class is not KafkaOutputs:  # a shared policy: this job writes and reads the contacts topic
        enable_publishing(plan)
    inputs = inputs_class(conns.kafka, opts.naming(plan), tables, opts.start, opts.bounded, fuse=opts.fuse)
    build_job(env, plan, inputs, _outputs(plan, conns, opts, tables), job_options)
    return env


def run_embedded(plan: Plan, conns: Connections, opts: ConnectOptions, max_seconds: float | None = None,
                 on_progress: Callable[[str], None] | None = None) -> float:
    """Run on the in-process MiniCluster until the job ends (bounded), `max_seconds` pass, or Ctrl-C."""
    from jobs.flink.embedded import prepare_python_path

    prepare_python_path()
    opts.extra_config = {"restart-strategy.type": "none", **(opts.extra_config or {})}
    prepare(plan, conns, opts)
    env = build(plan, conns, opts)
    return execute_until_done(env, f"kairos/{plan.scenario.name}", max_seconds, on_progress)


def execute_until_done(env, job_name: str, max_seconds: float | None,
                       on_progress: Callable[[str], None] | None) -> float:
    """Run a built job until it ends (bounded input), `max_seconds` pass, or Ctrl-C; the seconds it ran."""
    started = time.monotonic()
    client = env.execute_async(job_name)
    result = client.get_job_execution_result()
    try:
        while not result.done():
            elapsed = time.monotonic() - started
            if max_seconds is not None and elapsed >= max_seconds:
                client.cancel().result()
                break
            if on_progress:
                on_progress(f"running for {elapsed:.0f}s (Ctrl-C stops)")
            time.sleep(0.5)
        else:
            result.result()  # raises with Flink's error when the job failed
    except KeyboardInterrupt:
        client.cancel().result()
    return time.monotonic() - started
