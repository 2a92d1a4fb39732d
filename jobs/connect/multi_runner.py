"""Many scenarios in one job against real Kafka and Elasticsearch (docs/decisions/0021-many-campaigns-one-job.md).

Inputs: each topic is read by ONE KafkaSource (changelogs: one upsert-kafka table) whatever the number of
scenarios reading it, with the consumer group `kairos-<job name>`; scenarios that give the same topic different
time settings (time field, out-of-orderness, idleness) read it twice, since watermarks are assigned per topic.
Outputs stay per scenario, exactly as if each ran alone: `<scenario>.actions.<channel>`,
`<scenario>.dead_letter`, the index `kairos-detections-<scenario>`.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from jobs.compiler.plan import Plan
from jobs.config.naming import Naming
from jobs.config.settings import Connections
from jobs.connect.runner import (  # noqa: PLC2701 - the same outputs and latency settings as one scenario
    STREAMING_LATENCY,
    ConnectOptions,
    _outputs,
    execute_until_done,
    prepare,
)
from jobs.flink.control import CONTROL_TOPIC, control_source
from jobs.flink.multi_ops import CONTROL
from jobs.lang.model import Source


def kafka_input_id(prefix: str = ""):
    """input_id for plan_many: one id per (topic, kind, time settings)."""
    ids: dict[tuple, str] = {}

    def input_id(name: str, source: Source) -> str:
        topic = prefix + source.topic
        if source.kind == "changelog":
            same = (topic, source.kind, source.key)
        else:
            same = (topic, source.kind, source.time, source.out_of_orderness_ms, source.idleness_ms)
        return ids.setdefault(same, f"in{len(ids)}_{name}")

    return input_id


class _Deferred:
    """A TableEnv seen by one scenario's outputs: shares the job's table environment and insert list, but
    attaching the statement set happens once, for all scenarios (attaching it twice would duplicate inserts)."""

    def __init__(self, shared):
        self.shared, self.env, self.inserts = shared, shared.env, shared.inserts

    @property
    def t_env(self):
        return self.shared.t_env

    def attach_inserts(self) -> None:
        return None


class MultiKafkaInputs:
    assigns_watermarks = True

    def __init__(self, conns: Connections, naming: Naming, tables, opts: ConnectOptions):
        from jobs.flink.kafka_io import KafkaInputs

        self.base = KafkaInputs(conns.kafka, naming, tables, opts.start, opts.bounded)
        self.job_name = naming.scenario
        self.streams: dict = {}

    def raw_stream(self, env, group):
        for input_id, (_, source) in group.inputs.items():
            if input_id not in self.streams:  # read once, then fanned out to every group reading it
                one = SimpleNamespace(scenario=SimpleNamespace(name=self.job_name, sources={input_id: source}))
                self.streams[input_id] = self.base.raw_stream(env, one)
        if CONTROL not in self.streams:  # erase requests (jobs/flink/control.py): one reader for all groups
            one = SimpleNamespace(scenario=SimpleNamespace(name=self.job_name, sources={CONTROL: control_source()}))
            self.streams[CONTROL] = self.base.raw_stream(env, one)
        streams = [self.streams[i] for i in group.inputs] + [self.streams[CONTROL]]
        return streams[0].union(*streams[1:])


class MultiKafkaOutputs:
    def __init__(self, conns: Connections, opts: ConnectOptions, tables):
        self.conns, self.opts, self.tables = conns, opts, tables

    def attach_all(self, plans: list[Plan], sides) -> None:
        for index, plan in enumerate(plans):
            outputs = _outputs(plan, self.conns, self.opts, _Deferred(self.tables))
            outputs.table_tag = f"s{index}_"  # table names per scenario (kafka_io._actions)
            per = sides[index]
            outputs.attach(plan, per["actions"], per["detected"], per["dead_letter"])
        self.tables.attach_inserts()


def build_many(plans: list[Plan], conns: Connections, opts: ConnectOptions, job_name: str, embedded: bool = True):
    from jobs.flink.job import JobOptions, make_environment
    from jobs.flink.kafka_io import TableEnv
    from jobs.flink.multi import build_multi_job, plan_many

    conns = conns.for_job(embedded)
    multi = plan_many(plans, kafka_input_id(opts.prefix))
    job_options = JobOptions(parallelism=opts.parallelism, deterministic=False,
                             checkpoint_interval_ms=opts.checkpoint_ms,
                             pipeline_jars=[opts.kafka_jar] if opts.kafka_jar else [],
                             extra_config={**STREAMING_LATENCY, **(opts.extra_config or {})}, embedded=embedded)
    env = make_environment(job_options)
    tables = TableEnv(env)
    naming = Naming(job_name, opts.prefix, opts.dry_run)
    inputs = MultiKafkaInputs(conns, naming, tables, opts)
    build_multi_job(env, multi, inputs, MultiKafkaOutputs(conns, opts, tables), job_options, job_name)
    return env, multi


def prepare_many(plans: list[Plan], conns: Connections, opts: ConnectOptions) -> None:
    """Before the job starts (embedded or `kairos submit`): every scenario's index template and output topics,
    and the control topic the job reads erase requests from."""
    from jobs.connect.topics import ensure_topics

    for plan in plans:
        prepare(plan, conns, opts)
    ensure_topics(conns.kafka, [opts.prefix + CONTROL_TOPIC])


def run_many_embedded(plans: list[Plan], conns: Connections, opts: ConnectOptions, job_name: str,
                      max_seconds: float | None = None,
                      on_progress: Callable[[str], None] | None = None) -> float:
    """All scenarios in one job on the in-process MiniCluster, until bounded input ends, max_seconds, Ctrl-C."""
    from jobs.flink.embedded import prepare_python_path

    prepare_python_path()
    opts.extra_config = {"restart-strategy.type": "none", **(opts.extra_config or {})}
    prepare_many(plans, conns, opts)
    env, _ = build_many(plans, conns, opts, job_name)
    return execute_until_done(env, f"kairos/{job_name}", max_seconds, on_progress)
