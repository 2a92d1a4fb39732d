"""`kairos validate`, `kairos run` (file runs; with --kafka the connected run) and `kairos schema`."""

from __future__ import annotations

import argparse
import json
import sys

from jobs.cli.registry import add_input_args, command, console, load_with_inputs, print_errors
from jobs.lang.errors import ScenarioError


# -- validate --------------------------------------------------------------------------------------
def _validate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="scenario YAML files")
    p.add_argument("--plan", action="store_true", help="also print the operators each scenario compiles to")
    p.add_argument("--against", metavar="OLD.yaml",
                   help="also check that a job of each scenario can start from a savepoint of a job of OLD.yaml "
                        "(stateful nodes unchanged: docs/operations.md)")


def _validate(args: argparse.Namespace) -> int:
    from jobs.compiler.plan import make_plan
    from jobs.compiler.validate import load

    failed = 0
    for path in args.scenarios:
        if path.endswith(".tests.yaml"):  # so that `kairos validate scenarios/*/*.yaml` just works
            print(f"{path}: test cases, skipped (check them with: kairos verify)")
            continue
        try:
            graph = load(path)
        except ScenarioError as exc:
            print_errors(exc)
            failed += 1
            continue
        if args.against:
            from jobs.compiler.compat import require_upgrade

            try:
                require_upgrade(make_plan(load(args.against)), make_plan(graph))
            except ScenarioError as exc:
                print_errors(exc)
                failed += 1
                continue
        print(f"{path}: ok ({len(graph.order)} nodes)" + (f", compatible with a savepoint of {args.against}"
                                                           if args.against else ""))
        if args.plan:
            print("  " + make_plan(graph).describe().replace("\n", "\n  "))
    return 1 if failed else 0


command("validate", "check scenarios; errors as file:line:col: message")((_validate_args, _validate))


# -- run --------------------------------------------------------------------------------------------
def _run_args(p: argparse.ArgumentParser) -> None:
    add_input_args(p, many=True)
    from jobs.cli.campaigns import add_many_args

    add_many_args(p)  # [multi] --job-name
    p.add_argument("--out", metavar="DIR",
                   help="file runs: writes actions.jsonl, detected.jsonl, dead_letter.jsonl and counts.json here")
    p.add_argument("--parallelism", type=int, default=1, help="operator parallelism (default 1)")
    p.add_argument("--quiet", action="store_true", help="no summary, no progress")
    p.add_argument("--control", metavar="FILE", help="file runs: live parameter changes (JSON lines, "
                   "{\"type\": \"param\", ...}), applied in order of their ts with the events (docs/parameters.md)")
    from jobs.cli.connect import add_connect_args

    add_connect_args(p)  # --kafka, --es, --exactly-once, --dry-run ...: run against real servers


def _run(args: argparse.Namespace) -> int:
    from jobs.cli.campaigns import one_or_many, run_many

    many = one_or_many(args.scenario, args.job_name)  # [multi] several scenarios or a directory: one job (campaigns.py)
    if many is not None:
        return run_many(args, many)
    args.scenario = args.scenario[0]
    if args.kafka:
        from jobs.cli.connect import run_connected

        return run_connected(args)
    if not args.out:
        print("kairos run: --out DIR is required for a file run (or --kafka HOST:PORT for real Kafka)", file=sys.stderr)
        return 2
    from jobs.flink.embedded import clear_outputs, run_files

    clear_outputs(args.out)
    prepared = load_with_inputs(args, "run")
    if isinstance(prepared, int):
        return prepared
    plan, files = prepared
    graph = plan.graph
    if args.control and not plan.scenario.parameters:
        print(f"kairos run: --control: {plan.scenario.name} declares no parameters", file=sys.stderr)
        return 2

    out = console()
    if args.quiet:
        summary = run_files(plan, files, args.out, parallelism=args.parallelism, control=args.control)
    else:
        from jobs.cli.ops import line_progress

        with line_progress(out) as on_lines:
            summary = run_files(plan, files, args.out, on_lines=on_lines, parallelism=args.parallelism,
                                    control=args.control)
        _print_summary(out, graph.scenario.name, summary, args.out)
    return 0


def _print_summary(console, name: str, summary, out_dir: str) -> None:
    from rich.table import Table

    table = Table(title=f"{name}: {summary.input_lines} input lines in {summary.seconds:.1f}s")
    for column in ("node", "in", "out", "filtered", "dead letter", "held"):
        table.add_column(column, justify="left" if column == "node" else "right")
    for node, c in summary.counts.items():
        table.add_row(node, *(str(c.get(k, 0)) for k in ("in", "out", "filtered", "dead_letter", "held")))
    console.print(table)
    for kind in ("actions", "detected", "dead_letter"):
        records = summary.outputs.get(kind, [])
        console.print(f"[bold]{kind}[/bold]: {len(records)} -> {out_dir}/{kind}.jsonl")
        for record in records[:3]:
            line = json.dumps(record.get("payload") or record.get("fields") or record, ensure_ascii=False)
            head = record.get("channel") or record.get("kind") or record.get("node")
            who = record.get("to") or record.get("key") or record.get("error", "")
            console.print(f"  {head} -> {who}: {line}", markup=False, no_wrap=True, overflow="ellipsis")


command("run", "run a scenario on the embedded Flink engine with files in and out")((_run_args, _run))


# -- schema -----------------------------------------------------------------------------------------
def _schema_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")


def _schema(args: argparse.Namespace) -> int:
    from jobs.compiler.schema import scenario_schema

    text = json.dumps(scenario_schema(), indent=2) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


command("schema", "print the JSON Schema of scenario files (for editors)")((_schema_args, _schema))


