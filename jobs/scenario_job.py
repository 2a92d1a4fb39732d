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
    p.add_argument("--scenario", required=True)
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
    return args


def build_kafka_job(args: argparse.Namespace):
    """(environment with the job, its name) for Kafka mode; raises ScenarioError / SettingsError."""
    from jobs.config.settings import load_connections
    from jobs.connect.runner import DEFAULT_CHECKPOINT_MS, ConnectOptions, build, prepare

    plan = make_plan(load(args.scenario))
    conns = load_connections(args.kafka, args.es, args.secrets, skip_unreadable=args.no_prepare)
    opts = ConnectOptions(exactly_once=args.exactly_once, dry_run=args.dry_run, prefix=args.prefix,
                          start=args.start, bounded=args.bounded, parallelism=args.parallelism,
                          checkpoint_ms=args.checkpoint_ms or DEFAULT_CHECKPOINT_MS, kafka_jar=args.kafka_jar)
    env = build(plan, conns, opts, embedded=False)  # before prepare: a secret the job cannot reach fails first
    if not args.no_prepare:
        prepare(plan, conns, opts)  # index template and output topics exist before the job starts
    return env, f"kairos/{plan.scenario.name}"


def build_file_job(args: argparse.Namespace):
    """(environment with the job, its name) for file mode; raises ScenarioError / InputError."""
    plan, files = load_plan(args.scenario, args.events, args.changelog, args.reference)
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
