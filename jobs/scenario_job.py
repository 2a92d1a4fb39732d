"""Job entry point for a Flink cluster: `flink run -py jobs/scenario_job.py --scenario FILE ...`.

The same compiled job as `kairos run`; here the client only builds the job graph and submits it.
File mode (paths must be readable by the TaskManagers):
  flink run -m HOST:PORT -py jobs/scenario_job.py --pyFiles jobs,udfs \\
      --scenario scenarios/card_fraud_velocity/card_fraud_velocity.yaml \\
      --events scenarios/card_fraud_velocity/events.jsonl --out /tmp/fraud-out
Kafka mode (what `kairos submit` runs; credentials from KAIROS_* variables or --secrets FILE, never arguments;
the job graph holds only where they are, and the JobManager and TaskManagers read them there: decision 0011):
  flink run -m HOST:PORT -d -j flink-sql-connector-kafka-5.0.0-2.2.jar -py jobs/scenario_job.py --pyFiles jobs,udfs \\
      --scenario scenarios/low_balance_offer/low_balance_offer.yaml --kafka BROKER:9092 --es https://es:9200
Many campaigns in one job (`kairos submit A.yaml B.yaml` / `kairos submit DIR`): `--scenario` once per file and
`--job-name NAME` (consumer group kairos-NAME); each topic is read once, outputs stay per scenario, and the job
reads the control topic (erase requests): jobs/connect/multi_runner.py, decision 0021.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # project root for `jobs`

from jobs.compiler.plan import make_plan  # noqa: E402
from jobs.compiler.validate import load  # noqa: E402
from jobs.config.settings import SettingsError  # noqa: E402
from jobs.lang.errors import ScenarioError  # noqa: E402
from jobs.runtime.files import InputError, load_plan  # noqa: E402


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scenario_job", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", required=True, action="append",
                   help="the scenario file (Kafka mode: repeat it to run several scenarios in one job)")
    p.add_argument("--job-name", help="Kafka mode: a many-campaigns job of this name (kairos-NAME is its group)")
    p.add_argument("--events", action="append", default=[])
    p.add_argument("--changelog", action="append", default=[])
    p.add_argument("--reference", action="append", default=[])
    p.add_argument("--out", help="directory for the output part files (file mode)")
    p.add_argument("--parallelism", type=int, default=1)
    k = p.add_argument_group("Kafka mode")
    k.add_argument("--kafka", help="bootstrap servers: read the scenario's topics instead of files")
    k.add_argument("--es", help="Elasticsearch URL for detections")
    k.add_argument("--secrets", action="append", default=[],
                   help="KEY=VALUE file with KAIROS_KAFKA_* / KAIROS_ES_* credentials, read here and, by path, "
                        "by the running job (repeatable: later files win)")
    k.add_argument("--no-prepare", action="store_true",
                   help="the index template and topics exist already (`kairos prepare`): no admin access here; "
                        "secrets files this machine cannot read are left to the TaskManagers")
    k.add_argument("--exactly-once", action="store_true")
    k.add_argument("--dry-run", action="store_true")
    k.add_argument("--prefix", default="")
    k.add_argument("--start", choices=("committed", "earliest", "latest"), default="committed")
    k.add_argument("--bounded", action="store_true")
    k.add_argument("--checkpoint-ms", type=int, default=None)
    k.add_argument("--kafka-jar", help="add this jar to the job (not needed with `flink run -j`)")
    args = p.parse_args(argv)
    if not args.kafka and not args.out:
        p.error("--out is required in file mode (or give --kafka)")
    if not args.kafka and (len(args.scenario) > 1 or args.job_name):
        p.error("several scenarios in one job need --kafka (file runs of many: `kairos run DIR --out ...`)")
    return args


def build_kafka_job(args: argparse.Namespace):
    """(environment with the job, its name) for Kafka mode; raises ScenarioError / SettingsError."""
    from jobs.config.settings import load_connections
    from jobs.connect.runner import ConnectOptions, build, prepare

    if len(args.scenario) > 1 or args.job_name:
        return build_many_job(args)
    plan = make_plan(load(args.scenario[0]))
    conns = load_connections(args.kafka, args.es, args.secrets, skip_unreadable=args.no_prepare)
    opts = ConnectOptions.from_args(args, args.kafka_jar)
    env = build(plan, conns, opts, embedded=False)  # before prepare: a secret the job cannot reach fails first
    if not args.no_prepare:
        prepare(plan, conns, opts)  # index template and output topics exist before the job starts
    return env, f"kairos/{plan.scenario.name}"


def build_many_job(args: argparse.Namespace):
    """Several scenarios, one job (jobs/connect/multi_runner.py): (environment, name); raises ScenarioError
    (every file's diagnostics at once), SettingsError, or MultiPlanError (as an InputError)."""
    from jobs.config.settings import load_connections
    from jobs.connect.multi_runner import build_many, prepare_many
    from jobs.connect.runner import ConnectOptions
    from jobs.flink.multi import MultiPlanError

    plans, problems = [], []
    for path in args.scenario:
        try:
            plans.append(make_plan(load(path)))
        except ScenarioError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise ScenarioError(problems)
    name = args.job_name or "campaigns"
    conns = load_connections(args.kafka, args.es, args.secrets, skip_unreadable=args.no_prepare)
    opts = ConnectOptions.from_args(args, args.kafka_jar)
    try:
        env, _ = build_many(plans, conns, opts, name, embedded=False)
    except MultiPlanError as exc:
        raise InputError(str(exc)) from None
    if not args.no_prepare:
        prepare_many(plans, conns, opts)  # every scenario's index and topics, and the control topic
    return env, f"kairos/{name}"


def build_file_job(args: argparse.Namespace):
    """(environment with the job, its name) for file mode; raises ScenarioError / InputError."""
    plan, files = load_plan(args.scenario[0], args.events, args.changelog, args.reference)
    from jobs.flink.files_io import FileInputs, FileOutputs
    from jobs.flink.job import JobOptions, build_job, make_environment

    options = JobOptions(parallelism=args.parallelism, deterministic=True, checkpoint_interval_ms=1000,
                         embedded=False)
    env = make_environment(options)
    build_job(env, plan, FileInputs(files, os.path.join(args.out, ".work")), FileOutputs(args.out), options)
    return env, f"kairos/{plan.scenario.name}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        env, name = build_kafka_job(args) if args.kafka else build_file_job(args)
    except ScenarioError as exc:  # every diagnostic, file:line:col
        print(exc, file=sys.stderr)
        return 1
    except (InputError, SettingsError) as exc:  # the options, the input files, the connection settings
        print(f"scenario_job: {exc}", file=sys.stderr)
        return 2
    env.execute(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
