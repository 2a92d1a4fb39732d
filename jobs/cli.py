"""The `kairos` command line. Each subcommand is a thin layer over the compiler stages.

  kairos validate scenarios/*.yaml
  kairos run scenarios/card_fraud_velocity/card_fraud_velocity.yaml --events events.jsonl --out out/
  kairos schema > docs/scenario.schema.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable

from jobs.compiler.errors import ScenarioError

EPILOG = """\
examples:
  kairos validate scenarios/*/*.yaml
  kairos run scenarios/card_fraud_velocity/card_fraud_velocity.yaml \\
      --events scenarios/card_fraud_velocity/events.jsonl --out out/fraud
  kairos run scenarios/low_balance_offer/low_balance_offer.yaml \\
      --events atm=scenarios/low_balance_offer/events.jsonl \\
      --changelog profiles=scenarios/low_balance_offer/profiles.jsonl --out out/bank
  kairos schema > scenario.schema.json

Docs: README.md (tour), docs/scenarios.md (language), docs/expressions.md (expressions)."""

COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int], str]] = {}


def command(name: str, help_text: str):
    def register(pair):
        configure, run = pair
        COMMANDS[name] = (configure, run, help_text)
        return pair

    return register


def _console():
    from rich.console import Console

    return Console(stderr=False, highlight=False)


def _print_errors(exc: ScenarioError) -> None:
    for diagnostic in exc.diagnostics:
        print(str(diagnostic), file=sys.stderr)


# -- validate --------------------------------------------------------------------------------------
def _validate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="scenario YAML files")
    p.add_argument("--plan", action="store_true", help="also print the operators each scenario compiles to")


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
            _print_errors(exc)
            failed += 1
            continue
        print(f"{path}: ok ({len(graph.order)} nodes)")
        if args.plan:
            print("  " + make_plan(graph).describe().replace("\n", "\n  "))
    return 1 if failed else 0


command("validate", "check scenarios; errors as file:line:col: message")((_validate_args, _validate))


# -- run --------------------------------------------------------------------------------------------
def add_input_args(p: argparse.ArgumentParser) -> None:
    """The scenario and its input files: shared by `run` and the sandbox commands."""
    p.add_argument("scenario", metavar="SCENARIO", help="the scenario YAML file")
    p.add_argument("--events", action="append", default=[], metavar="[SOURCE=]FILE",
                   help="JSON-lines events for a source (repeatable; SOURCE may be left out when there is one)")
    p.add_argument("--changelog", action="append", default=[], metavar="NAME=FILE",
                   help="JSON-lines changelog for a changelog source (repeatable)")
    p.add_argument("--reference", action="append", default=[], metavar="NAME=FILE",
                   help="CSV or JSON-lines file for a reference table (repeatable)")


def _run_args(p: argparse.ArgumentParser) -> None:
    add_input_args(p)
    p.add_argument("--out", metavar="DIR",
                   help="file runs: writes actions.jsonl, detected.jsonl, dead_letter.jsonl and counts.json here")
    p.add_argument("--parallelism", type=int, default=1, help="operator parallelism (default 1)")
    p.add_argument("--quiet", action="store_true", help="no summary, no progress")
    from jobs.cli_connect import add_connect_args

    add_connect_args(p)  # --kafka, --es, --exactly-once, --dry-run ...: run against real servers


def _parse_pairs(options: list[str], what: str) -> dict[str, str]:
    from jobs.runtime.files import InputError

    pairs = {}
    for option in options:
        name, sep, path = option.partition("=")
        if not sep:
            raise InputError(f"--{what} needs NAME=FILE, got '{option}'")
        pairs[name] = path
    return pairs


def load_with_inputs(args: argparse.Namespace, command_name: str):
    """The compiled plan and {source: file} of `add_input_args` options, or the exit code of the problem."""
    from jobs.compiler.plan import make_plan
    from jobs.compiler.validate import load
    from jobs.runtime.files import InputError, bind_references, resolve_event_files

    try:
        references = _parse_pairs(args.reference, "reference")
    except InputError as exc:
        print(f"kairos {command_name}: {exc}", file=sys.stderr)
        return 2
    try:
        graph = load(args.scenario, given_references=references)
    except ScenarioError as exc:
        _print_errors(exc)
        return 1
    plan = make_plan(graph)
    try:
        files = resolve_event_files(graph.scenario, args.events, args.changelog)
        bind_references(plan, references)
    except InputError as exc:
        print(f"kairos {command_name}: {exc}", file=sys.stderr)
        return 2
    return plan, files


def _run(args: argparse.Namespace) -> int:
    if args.kafka:
        from jobs.cli_connect import run_connected

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

    console = _console()
    if args.quiet:
        summary = run_files(plan, files, args.out, parallelism=args.parallelism)
    else:
        with console.status("starting the embedded Flink engine...") as status:
            summary = run_files(plan, files, args.out, on_progress=status.update, parallelism=args.parallelism)
        _print_summary(console, graph.scenario.name, summary, args.out)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kairos", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="kairos: real-time decisioning scenarios (YAML) compiled into Apache Flink jobs.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (configure, _, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text,
                           formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
        configure(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command][1](args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - people get one clear line; KAIROS_DEBUG=1 shows the traceback
        if os.environ.get("KAIROS_DEBUG"):
            raise
        print(f"kairos {args.command}: {_short_error(exc)}\n(run with KAIROS_DEBUG=1 for details)", file=sys.stderr)
        return 3


_HINTS = {
    # kafka-python logs a SASL failure quietly and then times out bootstrapping: say what it most likely is
    "KafkaTimeoutError": "cannot reach Kafka: check the address, and with SASL the user and password",
    "NoBrokersAvailable": "cannot reach Kafka: check the address, and with SASL the user and password",
}


def _short_error(exc: Exception) -> str:
    """Flink errors arrive as pages of Java stack; the last 'Caused by' line is the one that explains."""
    hint = _HINTS.get(type(exc).__name__)
    if hint:
        return f"{hint} ({type(exc).__name__}: {exc})"
    text = str(exc)
    causes = [line.strip() for line in text.splitlines() if line.strip().startswith("Caused by:")]
    return causes[-1] if causes else (text.splitlines() or [type(exc).__name__])[0][:500]


# subcommands that live in their own modules register themselves on import
import jobs.cli_connect  # noqa: E402, F401, I001
import jobs.cli_sandbox  # noqa: E402, F401, I001

if __name__ == "__main__":
    # `python -m jobs.cli` runs this file as __main__; the plugins registered into `jobs.cli`, so use that one
    from jobs.cli import main as registered_main

    sys.exit(registered_main())
