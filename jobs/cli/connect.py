"""kairos subcommands for real Kafka, Elasticsearch and Flink clusters (docs/production.md).

  kairos run SCENARIO --kafka HOST:PORT --es URL [--exactly-once] [--dry-run] [--bounded | --max-seconds N]
  kairos submit SCENARIO --cluster HOST:PORT --kafka HOST:PORT --es URL [...]
  kairos submit A.yaml B.yaml | DIR --cluster HOST:PORT --kafka HOST:PORT [--job-name NAME]   (one job for all)
  kairos prepare SCENARIO --kafka HOST:PORT --es URL   (template, index, topics; then submit with --no-prepare)
  kairos jobs --cluster HOST:PORT            kairos cancel JOB_ID --cluster HOST:PORT
  kairos produce FILE --topic T --kafka HOST:PORT [--key FIELD]
  kairos tail TOPIC --kafka HOST:PORT [--from-beginning] [--max N]
Credentials: KAIROS_KAFKA_* / KAIROS_ES_* environment variables or --secrets FILE; never on the command line.
"""

from __future__ import annotations

import argparse
import json
import sys

from jobs.cli.registry import command, print_errors
from jobs.lang.errors import ScenarioError


def add_connect_args(p: argparse.ArgumentParser, for_run: bool = True) -> None:
    """Kafka/Elasticsearch options of `kairos run` (and `submit`)."""
    g = p.add_argument_group("real Kafka / Elasticsearch (instead of files)")
    g.add_argument("--kafka", metavar="HOST:PORT[,HOST:PORT]", help="Kafka bootstrap servers")
    g.add_argument("--es", metavar="URL", help="Elasticsearch URL for detections (without: Kafka topic)")
    g.add_argument("--secrets", metavar="FILE", action="append", default=[],
                   help="KEY=VALUE file with KAIROS_KAFKA_* / KAIROS_ES_* credentials (repeatable; on a cluster "
                        "the JobManager and TaskManagers read it at the same path)")
    g.add_argument("--exactly-once", action="store_true", help="transactional Kafka writes, committed on checkpoints")
    g.add_argument("--dry-run", action="store_true",
                   help="read the real topics, write to <topic>.dryrun and the index <index>-dryrun")
    g.add_argument("--prefix", default="", help="put in front of every topic, group and index name")
    g.add_argument("--start", choices=("committed", "earliest", "latest"), default="committed",
                   help="where event sources start without a checkpoint (committed falls back to earliest)")
    g.add_argument("--checkpoint-ms", type=int, default=None, help="checkpoint interval (default 5000)")
    g.add_argument("--kafka-jar", metavar="JAR", help="flink-sql-connector-kafka jar (default: .cache/jars/flink)")
    g.add_argument("--print-config", action="store_true", help="print what would be read/written (masked) and exit")
    if for_run:
        g.add_argument("--bounded", action="store_true", help="read up to the offsets at start, then finish")
        g.add_argument("--max-seconds", type=float, default=None, help="stop (cancel) the job after N seconds")
    if any(a.dest == "parallelism" for a in p._actions):
        return
    p.add_argument("--parallelism", type=int, default=1)


def _options(args: argparse.Namespace):
    from jobs.connect.runner import ConnectOptions, default_kafka_jar

    return ConnectOptions.from_args(args, args.kafka_jar or default_kafka_jar())


def _load(args: argparse.Namespace, what: str):
    """(plan, connections) or an exit code after printing the problem (every connected command needs --kafka)."""
    from jobs.compiler.plan import make_plan
    from jobs.compiler.validate import load
    from jobs.config.settings import SettingsError, load_connections

    if not args.kafka:
        print(f"kairos {what}: --kafka is required", file=sys.stderr)
        return 2
    try:
        plan = make_plan(load(args.scenario))
    except ScenarioError as exc:
        print_errors(exc)
        return 1
    try:
        conns = load_connections(args.kafka, args.es, args.secrets)
    except SettingsError as exc:
        print(f"kairos {what}: {exc}", file=sys.stderr)
        return 2
    return plan, conns


def run_connected(args: argparse.Namespace) -> int:
    """`kairos run --kafka ...`: the scenario on the embedded engine against real Kafka / Elasticsearch."""
    from jobs.connect.runner import describe, run_embedded

    loaded = _load(args, "run")
    if isinstance(loaded, int):
        return loaded
    plan, conns = loaded
    opts = _options(args)
    if not opts.kafka_jar:
        print("kairos run: no Kafka connector jar; run `make jars` or pass --kafka-jar", file=sys.stderr)
        return 2
    config = describe(plan, conns, opts)
    if args.print_config:
        print(json.dumps(config, indent=2))
        return 0
    quiet = getattr(args, "quiet", False)
    if not quiet:
        print(f"kairos run: {plan.scenario.name}: {json.dumps({k: config[k] for k in config if k != 'connections'})}",
              file=sys.stderr, flush=True)
    from jobs.config.settings import SettingsError

    try:
        seconds = run_embedded(plan, conns, opts, max_seconds=args.max_seconds)
    except SettingsError as exc:
        print(f"kairos run: {exc}", file=sys.stderr)
        return 2
    if not quiet:
        print(f"kairos run: stopped after {seconds:.1f}s", file=sys.stderr)
    return 0


# -- submit / jobs / cancel ------------------------------------------------------------------------
def _cluster_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cluster", required=True, metavar="HOST:PORT", help="Flink REST address of the session cluster")


def _submit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", metavar="SCENARIO", nargs="+",
                   help="the scenario YAML file; several files or directories: all in one job")
    _cluster_arg(p)
    from jobs.cli.campaigns import add_many_args

    add_many_args(p)  # [multi] --job-name
    add_connect_args(p, for_run=False)
    from jobs.cli.ops import add_restore_args

    add_restore_args(p)  # --from-savepoint, --allow-non-restored-state, --against (jobs/cli/ops.py)


def job_arguments(args: argparse.Namespace, scenarios: list[str] | None = None) -> list[str]:
    """Arguments for jobs/scenario_job.py: names and paths only (secrets stay in the environment / file).
    `scenarios`: the files of a many-campaigns job (absolute paths: the client runs them from elsewhere)."""
    import os

    out = [a for path in scenarios or [args.scenario] for a in ("--scenario", path)]
    out += ["--kafka", args.kafka, "--start", args.start, "--parallelism", str(args.parallelism)]
    for path in args.secrets:
        out += ["--secrets", os.path.abspath(path)]  # the job's machines read it at this path
    for flag, value in (("--es", args.es), ("--prefix", args.prefix), ("--checkpoint-ms", args.checkpoint_ms)):
        if value:
            out += [flag, str(value)]
    return out + [f for f, on in (("--exactly-once", args.exactly_once), ("--dry-run", args.dry_run)) if on]


def _submit(args: argparse.Namespace) -> int:
    import os

    from jobs.cli.campaigns import one_or_many, submit_many
    from jobs.config.settings import SettingsError
    from jobs.connect.runner import default_kafka_jar, describe

    many = one_or_many(args.scenario, args.job_name)  # [multi] several scenarios or a directory: one job
    if many is not None:
        return submit_many(args, many)
    args.scenario = args.scenario[0]
    loaded = _load(args, "submit")
    if isinstance(loaded, int):
        return loaded
    plan, conns = loaded
    if args.print_config:
        print(json.dumps(describe(plan, conns, _options(args)), indent=2))
        return 0
    jar = args.kafka_jar or default_kafka_jar()
    if not jar:
        print("kairos submit: no Kafka connector jar; run `make jars` or pass --kafka-jar", file=sys.stderr)
        return 2
    try:
        conns.for_job(embedded=False)  # every secret has a place the cluster can read it from
    except SettingsError as exc:
        print(f"kairos submit: {exc}", file=sys.stderr)
        return 2
    job_args = job_arguments(args)
    job_args[1] = os.path.abspath(args.scenario)
    from jobs.cli.ops import check_restore

    if check_restore(args, plan):
        return 1
    return submit_job(args, conns, job_args, jar)


def submit_job(args: argparse.Namespace, conns, job_args: list[str], jar: str) -> int:
    """`flink run` the job program with `job_args` (one scenario or several) and print its job id."""
    from jobs.connect.cluster import ClusterError, submit

    if conns.es:
        job_args[job_args.index("--es") + 1] = conns.es.url  # without credentials: they never travel in arguments
    try:
        job_id = submit(args.cluster, job_args, jar, savepoint=args.from_savepoint,
                        allow_non_restored=args.allow_non_restored_state)
    except ClusterError as exc:
        print(f"kairos submit: {exc}", file=sys.stderr)
        return 3
    print(job_id)
    return 0


def _prepare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", metavar="SCENARIO")
    add_connect_args(p, for_run=False)


def _prepare(args: argparse.Namespace) -> int:
    """The index template, the index and the output topics, with admin credentials, apart from the job (which
    then runs with `--no-prepare`: see k8s/prepare-job.yaml)."""
    from jobs.connect.runner import describe, prepare

    loaded = _load(args, "prepare")
    if isinstance(loaded, int):
        return loaded
    plan, conns = loaded
    opts = _options(args)
    config = describe(plan, conns, opts)
    if not args.print_config:
        prepare(plan, conns, opts)
    print(json.dumps({k: config[k] for k in ("actions", "dead_letter", "detections")}, indent=2))
    return 0


def _jobs_args(p: argparse.ArgumentParser) -> None:
    _cluster_arg(p)
    p.add_argument("--all", action="store_true", help="also finished, failed and cancelled jobs")
    p.add_argument("--json", action="store_true")


def _jobs(args: argparse.Namespace) -> int:
    from jobs.connect.cluster import ClusterError, list_jobs

    try:
        jobs = list_jobs(args.cluster)
    except ClusterError as exc:
        print(f"kairos jobs: {exc}", file=sys.stderr)
        return 3
    if not args.all:
        jobs = [j for j in jobs if j.state not in ("FINISHED", "FAILED", "CANCELED")]
    if args.json:
        print(json.dumps([j.__dict__ for j in jobs], indent=2))
        return 0
    for j in jobs:
        print(f"{j.id}  {j.state:<10} {j.duration_ms / 1000:>8.0f}s  {j.name}")
    return 0


def _cancel_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("job_id", metavar="JOB_ID")
    _cluster_arg(p)


def _cancel(args: argparse.Namespace) -> int:
    from jobs.connect.cluster import ClusterError, cancel_job

    try:
        cancel_job(args.cluster, args.job_id)
    except ClusterError as exc:
        print(f"kairos cancel: {exc}", file=sys.stderr)
        return 3
    print(f"cancelling {args.job_id}")
    return 0


# -- produce / tail ---------------------------------------------------------------------------------
def _kafka_only(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kafka", required=True, metavar="HOST:PORT")
    p.add_argument("--secrets", metavar="FILE", action="append", default=[],
                   help="KEY=VALUE file with KAIROS_KAFKA_* credentials")


def _produce_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="JSON lines ('-' for standard input)")
    p.add_argument("--topic", required=True)
    p.add_argument("--key", metavar="FIELD", help="record key from this field; with _deleted:true -> tombstone")
    _kafka_only(p)


def _produce(args: argparse.Namespace) -> int:
    from jobs.config.settings import load_connections
    from jobs.connect.topics import produce

    kafka = load_connections(args.kafka, None, args.secrets).kafka
    if args.file == "-":
        sent = produce(kafka, args.topic, sys.stdin, args.key)
    else:
        with open(args.file, encoding="utf-8") as handle:
            sent = produce(kafka, args.topic, handle, args.key)
    print(f"{sent} records -> {args.topic}", file=sys.stderr)
    return 0


def _tail_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("topic", metavar="TOPIC")
    _kafka_only(p)
    p.add_argument("--from-beginning", action="store_true")
    p.add_argument("--max", type=int, default=None, help="stop after N records")
    p.add_argument("--idle-ms", type=int, default=None, help="stop after this long without records")
    p.add_argument("--keys", action="store_true", help="print 'key<TAB>value'")


def _tail(args: argparse.Namespace) -> int:
    from jobs.config.settings import load_connections
    from jobs.connect.topics import tail

    kafka = load_connections(args.kafka, None, args.secrets).kafka
    for key, value in tail(kafka, args.topic, args.from_beginning, args.max, args.idle_ms):
        print(f"{key}\t{value}" if args.keys else value, flush=True)
    return 0


command("submit", "submit a scenario to a Flink session cluster (Kafka in, Kafka + Elasticsearch out)")(
    (_submit_args, _submit))
command("prepare", "create the index template, index and output topics of a scenario (admin credentials)")(
    (_prepare_args, _prepare))
command("jobs", "list the jobs of a Flink session cluster")((_jobs_args, _jobs))
command("cancel", "cancel a job on a Flink session cluster")((_cancel_args, _cancel))
command("produce", "send JSON lines to a Kafka topic")((_produce_args, _produce))
command("tail", "print the records of a Kafka topic (read_committed)")((_tail_args, _tail))
