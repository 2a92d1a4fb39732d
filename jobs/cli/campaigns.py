"""Many campaigns in one job: `kairos run A.yaml B.yaml ...` or `kairos run DIR` (docs/scenarios.md).

  kairos run DIR --events atm=events.jsonl --changelog profiles=profiles.jsonl --out out/   (OUT/<scenario>/)
  kairos run DIR --kafka HOST:PORT --es URL [--job-name NAME]                               (one Kafka job)
  kairos submit DIR --cluster HOST:PORT --kafka HOST:PORT --es URL [--job-name NAME]       (the same, on a cluster)
  kairos erase CUSTOMER_KEY --kafka HOST:PORT --es URL [--prefix P]      (GDPR: state and detections of a key)
A source name means one input for every scenario that declares it: `--events atm=FILE` feeds them all.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from jobs.cli.registry import command, console, print_errors
from jobs.lang.errors import ScenarioError
from jobs.runtime.files import parse_pairs


def scenario_files(paths: list[str]) -> list[str]:
    """The scenario files of SCENARIO arguments: files as given, directories searched for *.yaml (without the
    *.tests.yaml test cases), in name order."""
    found: list[str] = []
    for path in paths:
        if Path(path).is_dir():
            found.extend(str(p) for p in sorted(Path(path).rglob("*.yaml")) if not p.name.endswith(".tests.yaml"))
        else:
            found.append(path)
    return found


def one_or_many(paths: list[str], job: str | None = None) -> list[str] | None:
    """None when the arguments name one scenario file (the single-scenario commands apply), else the files.
    `--job-name` makes even one scenario a campaigns job (which obeys erase requests: `kairos erase`)."""
    if len(paths) == 1 and not Path(paths[0]).is_dir() and not job:
        return None
    return scenario_files(paths)


def add_many_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--job-name", metavar="NAME",
                   help="several scenarios: the job's name and Kafka consumer group kairos-NAME (default: from the "
                        "directory, else campaigns-<hash of the scenario names>)")


def job_name(args: argparse.Namespace, paths: list[str], names: list[str]) -> str:
    if getattr(args, "job_name", None):
        return args.job_name
    if len(args.scenario) == 1 and Path(args.scenario[0]).is_dir():
        return "campaigns-" + Path(args.scenario[0]).resolve().name
    return "campaigns-" + hashlib.sha1(",".join(sorted(names)).encode()).hexdigest()[:8]


def _load_all(paths: list[str], references: dict[str, str]):
    from jobs.compiler.plan import make_plan
    from jobs.compiler.validate import load

    plans, failed = [], False
    for path in paths:
        try:
            plans.append(make_plan(load(path, given_references=references)))
        except ScenarioError as exc:
            print_errors(exc)
            failed = True
    return None if failed else plans


def _event_files(plans, events: list[str], changelogs: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    from jobs.runtime.files import InputError

    names = sorted({n for p in plans for n, s in p.scenario.sources.items() if s.kind == "events"})
    by_name: dict[str, str] = {}
    for option in events:
        name, sep, path = option.partition("=")
        if not sep:
            if len(names) != 1:
                raise InputError(f"'{option}': say which source, as NAME=FILE (sources: {', '.join(names)})")
            name, path = names[0], option
        by_name[name] = path
    for path in [*by_name.values(), *parse_pairs(changelogs, "changelog").values()]:
        if not Path(path).is_file():
            raise InputError(f"no such file: {path}")
    return by_name, parse_pairs(changelogs, "changelog")


def run_many(args: argparse.Namespace, paths: list[str]) -> int:
    """`kairos run` with several scenarios: one job, every source read once."""
    from jobs.flink.multi import MultiPlanError
    from jobs.runtime.files import InputError, bind_references

    if not paths:
        print("kairos run: no scenario files found", file=sys.stderr)
        return 2
    try:
        references = parse_pairs(args.reference, "reference")
    except InputError as exc:
        print(f"kairos run: {exc}", file=sys.stderr)
        return 2
    plans = _load_all(paths, references)
    if plans is None:
        return 1
    name = job_name(args, paths, [p.scenario.name for p in plans])
    try:
        if args.kafka:
            return _run_connected(args, plans, name)
        if not args.out:
            print("kairos run: --out DIR is required for a file run (or --kafka HOST:PORT)", file=sys.stderr)
            return 2
        from jobs.flink.multi_files import run_many_files
        from jobs.flink.multi_files import scenario_files as files_of

        events, changelogs = _event_files(plans, args.events, args.changelog)
        files: dict[str, str] = {}
        for plan in plans:
            files.update(files_of(plan, events, changelogs))
            bind_references(plan, references)
        out = console()
        if args.quiet:
            summary = run_many_files(plans, files, args.out, parallelism=args.parallelism)
        else:
            with out.status(f"starting one embedded Flink job for {len(plans)} scenarios...") as status:
                summary = run_many_files(plans, files, args.out, on_progress=status.update,
                                         parallelism=args.parallelism)
            _print_summary(out, summary, args.out)
    except (InputError, MultiPlanError) as exc:
        print(f"kairos run: {exc}", file=sys.stderr)
        return 2
    return 0


def _print_summary(out, summary, out_dir: str) -> None:
    from rich.table import Table

    table = Table(title=f"{len(summary.outputs)} scenarios, one job ({summary.operators} Python operators): "
                        f"{summary.input_lines} input lines in {summary.seconds:.1f}s")
    for column in ("scenario", "actions", "detected", "dead letters"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for name, per in summary.outputs.items():
        table.add_row(name, *(str(len(per[k])) for k in ("actions", "detected", "dead_letter")))
    out.print(table)
    out.print(f"outputs: {out_dir}/<scenario>/actions.jsonl, detected.jsonl, dead_letter.jsonl, counts.json")


def _run_connected(args: argparse.Namespace, plans, name: str) -> int:
    from jobs.cli.connect import _options  # noqa: PLC2701 - the same options as a single-scenario run
    from jobs.config.settings import SettingsError, load_connections
    from jobs.connect.multi_runner import run_many_embedded

    try:
        conns = load_connections(args.kafka, args.es, args.secrets)
    except SettingsError as exc:
        print(f"kairos run: {exc}", file=sys.stderr)
        return 2
    opts = _options(args)
    if not opts.kafka_jar:
        print("kairos run: no Kafka connector jar; run `make jars` or pass --kafka-jar", file=sys.stderr)
        return 2
    config = _many_config(plans, conns, opts, name)
    if args.print_config:
        print(json.dumps(config, indent=2))
        return 0
    quiet = getattr(args, "quiet", False)
    if not quiet:
        print(f"kairos run: {name}: {len(plans)} scenarios in one job", file=sys.stderr, flush=True)
    try:
        seconds = run_many_embedded(plans, conns, opts, name, max_seconds=args.max_seconds)
    except SettingsError as exc:
        print(f"kairos run: {exc}", file=sys.stderr)
        return 2
    if not quiet:
        print(f"kairos run: stopped after {seconds:.1f}s", file=sys.stderr)
    return 0


def _many_config(plans, conns, opts, name: str) -> dict:
    """What a many-campaigns job reads and writes (no secrets): `--print-config` of `run` and `submit`."""
    from jobs.connect.runner import describe

    return {"job": name, "group_id": f"{opts.prefix}kairos-{name}",
            "scenarios": [{k: v for k, v in describe(p, conns, opts).items() if k not in ("connections", "group_id")}
                          for p in plans]}


def submit_many(args: argparse.Namespace, paths: list[str]) -> int:
    """`kairos submit` with several scenarios or a directory: ONE job on the session cluster, built by
    jobs/scenario_job.py from the same files (`--scenario` each, `--job-name`), shipping the code it runs."""
    import os

    from jobs.cli.connect import _options, job_arguments, submit_job  # noqa: PLC2701 - the same options as one scenario
    from jobs.config.settings import SettingsError, load_connections
    from jobs.connect.multi_runner import kafka_input_id
    from jobs.flink.multi import MultiPlanError, plan_many

    if not args.kafka:
        print("kairos submit: --kafka is required", file=sys.stderr)
        return 2
    if not paths:
        print("kairos submit: no scenario files found", file=sys.stderr)
        return 2
    if getattr(args, "against", None):
        print("kairos submit: --against checks one scenario against one old file; not with several "
              "(a many-campaigns job restores by its slots: docs/production.md)", file=sys.stderr)
        return 2
    plans = _load_all(paths, {})
    if plans is None:
        return 1
    name = job_name(args, paths, [p.scenario.name for p in plans])
    try:
        conns = load_connections(args.kafka, args.es, args.secrets)
        opts = _options(args)
        plan_many(plans, kafka_input_id(opts.prefix))  # e.g. two scenarios of one name: said here, not by Flink
        if args.print_config:
            print(json.dumps(_many_config(plans, conns, opts, name), indent=2))
            return 0
        conns.for_job(embedded=False)  # every secret has a place the cluster can read it from
    except (SettingsError, MultiPlanError) as exc:
        print(f"kairos submit: {exc}", file=sys.stderr)
        return 2
    if not opts.kafka_jar:
        print("kairos submit: no Kafka connector jar; run `make jars` or pass --kafka-jar", file=sys.stderr)
        return 2
    job_args = job_arguments(args, [os.path.abspath(p) for p in paths]) + ["--job-name", name]
    return submit_job(args, conns, job_args, opts.kafka_jar)


# -- erase ------------------------------------------------------------------------------------------
def _erase_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("keys", nargs="+", metavar="KEY", help="the key(s) to forget (e.g. a customer id)")
    p.add_argument("--kafka", required=True, metavar="HOST:PORT", help="Kafka bootstrap servers")
    p.add_argument("--es", metavar="URL", help="Elasticsearch: delete the key's detections")
    p.add_argument("--secrets", metavar="FILE", action="append", default=[])
    p.add_argument("--prefix", default="", help="the jobs' --prefix")
    p.add_argument("--wait-s", type=float, default=120.0,
                   help="how long to wait for the running jobs to commit past the request (default 120)")


def _erase(args: argparse.Namespace) -> int:
    from jobs.config.settings import SettingsError, load_connections
    from jobs.connect.erase import erase

    try:
        conns = load_connections(args.kafka, args.es, args.secrets)
    except SettingsError as exc:
        print(f"kairos erase: {exc}", file=sys.stderr)
        return 2
    waiting = False
    for key in args.keys:
        report = erase(conns, args.prefix, key, wait_s=args.wait_s)
        print(json.dumps(report.__dict__))
        waiting = waiting or bool(report.groups_waiting) or not report.groups_done or bool(report.remaining_documents)
    if waiting:
        print("kairos erase: not every job confirmed (or documents remain): run it again", file=sys.stderr)
        return 1
    return 0


command("erase", "forget a key: clear its state in the running campaign jobs and delete its detections")(
    (_erase_args, _erase))
