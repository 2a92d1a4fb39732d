"""Job entry point for a Flink cluster: `flink run -py jobs/scenario_job.py --scenario FILE ...`.

The same compiled job as `kairos run`; here the client only builds the job graph and submits it.
File mode (paths must be readable by the TaskManagers):
  flink run -m HOST:PORT -py jobs/scenario_job.py --pyFiles jobs,udfs \\
      --scenario scenarios/card_fraud_velocity/card_fraud_velocity.yaml \\
      --events scenarios/card_fraud_velocity/events.jsonl --out /tmp/fraud-out
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # project root for `jobs`

from jobs.compiler.errors import ScenarioError  # noqa: E402
from jobs.compiler.plan import make_plan  # noqa: E402
from jobs.compiler.validate import load  # noqa: E402
from jobs.runtime.files import InputError, bind_references, resolve_event_files  # noqa: E402


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scenario_job", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", required=True)
    p.add_argument("--events", action="append", default=[])
    p.add_argument("--changelog", action="append", default=[])
    p.add_argument("--reference", action="append", default=[])
    p.add_argument("--out", required=True, help="directory for the output part files")
    p.add_argument("--parallelism", type=int, default=1)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        plan = make_plan(load(args.scenario))
        files = resolve_event_files(plan.scenario, args.events, args.changelog)
        bind_references(plan, dict(r.split("=", 1) for r in args.reference))
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 1
    except InputError as exc:
        print(f"scenario_job: {exc}", file=sys.stderr)
        return 2
    from jobs.flink.files_io import FileInputs, FileOutputs
    from jobs.flink.job import JobOptions, build_job, make_environment

    options = JobOptions(parallelism=args.parallelism, deterministic=True, checkpoint_interval_ms=1000)
    env = make_environment(options)
    build_job(env, plan, FileInputs(files, os.path.join(args.out, ".work")), FileOutputs(args.out), options)
    env.execute(f"kairos/{plan.scenario.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
