"""Sandbox subcommands of `kairos`: test (trace a file of events), verify (run .tests.yaml cases), graph (picture).

Registered into jobs.cli.registry.COMMANDS on import; nothing here needs Flink, so each answers in about a second.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from jobs.cli.registry import add_input_args, command, load_with_inputs, print_errors
from jobs.lang.errors import ScenarioError
from jobs.lang.model import SourceKind

DEFAULT_SHOWN = 20


def _load(path: str):
    from jobs.compiler.validate import load

    try:
        return load(path)
    except ScenarioError as exc:
        print_errors(exc)
        return None


# -- test --------------------------------------------------------------------------------------------
def _test_args(p: argparse.ArgumentParser) -> None:
    add_input_args(p)
    p.add_argument("--all", action="store_true", help="show the path of every input line")
    p.add_argument("--limit", type=int, default=DEFAULT_SHOWN, metavar="N",
                   help=f"show the path of the first N input lines (default {DEFAULT_SHOWN})")
    p.add_argument("--json", action="store_true", help="print one JSON document (counts, edges, paths, outputs)")


def _test(args: argparse.Namespace) -> int:
    from jobs.runtime.files import merged_inputs
    from jobs.sandbox.report import render, to_json
    from jobs.sandbox.trace import trace_run

    prepared = load_with_inputs(args, "test")
    if isinstance(prepared, int):
        return prepared
    plan, files = prepared
    graph = plan.graph
    result = trace_run(plan, merged_inputs(graph.scenario, files))
    limit = None if args.all else max(args.limit, 0)
    if args.json:
        json.dump(to_json(result, limit), sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return 0
    from rich.console import Console

    changelogs = {n for n, s in graph.scenario.sources.items() if s.kind == SourceKind.CHANGELOG}
    render(Console(highlight=False), result, limit, [*graph.scenario.sources, *graph.order], changelogs)
    return 0


command("test", "trace events through a scenario without Flink: counts per node and each event's path")(
    (_test_args, _test))


# -- verify ------------------------------------------------------------------------------------------
def _verify_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO",
                   help="scenario YAML files (their NAME.tests.yaml beside them is run); .tests.yaml paths work too")
    p.add_argument("-k", metavar="TEXT", help="only cases whose name contains TEXT")


def scenario_paths(paths: list[str]) -> list[Path]:
    from jobs.sandbox.cases import scenario_file_for

    out: dict[Path, None] = {}
    for path in paths:
        out[scenario_file_for(path) if path.endswith(".tests.yaml") else Path(path)] = None
    return list(out)


def _verify(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from jobs.sandbox.cases import read_cases, tests_file_for
    from jobs.sandbox.verify import verify_cases

    console = Console(highlight=False, soft_wrap=True)  # file:line:col and diff lines must stay whole
    failed = passed = 0
    for scenario_path in scenario_paths(args.scenarios):
        tests = tests_file_for(scenario_path)
        if not tests.is_file():
            console.print(f"[yellow]{escape(str(scenario_path))}: no test cases ({tests.name} not found)[/yellow]")
            continue
        graph = _load(str(scenario_path))
        try:
            cases = read_cases(tests, graph.scenario) if graph is not None else None
        except ScenarioError as exc:
            print_errors(exc)
            cases = None
        if cases is None:
            failed += 1
            continue
        cases = [c for c in cases if not args.k or args.k in c.name]
        for outcome in verify_cases(graph, cases):
            if outcome.ok:
                passed += 1
                console.print(f"[green]PASS[/green] {escape(str(tests))}: {escape(outcome.case.name)}")
                continue
            failed += 1
            console.print(f"[red]FAIL[/red] {escape(str(tests))}: {escape(outcome.case.name)}")
            for failure in outcome.failures:
                console.print(f"  {escape(str(failure.loc))}: {escape(failure.message)}")
                for line in failure.diff.splitlines():
                    style = "red" if line.lstrip().startswith("-") else "green" if line.lstrip().startswith("+") else ""
                    console.print(f"[{style}]{escape(line)}[/{style}]" if style else escape(line))
    console.print(f"[bold]{passed} passed, {failed} failed[/bold]")
    return 1 if failed else 0


command("verify", "run the test cases in NAME.tests.yaml beside each scenario; diff on failure")(
    (_verify_args, _verify))


# -- graph -------------------------------------------------------------------------------------------
def _graph_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", metavar="SCENARIO", help="the scenario YAML file")
    p.add_argument("--counts", metavar="FILE",
                   help="counts.json written by `kairos run`, or the output of `kairos test --json`")
    p.add_argument("-o", "--output", required=True, metavar="FILE.html|FILE.svg", help="where to write the picture")


def _graph(args: argparse.Namespace) -> int:
    from jobs.sandbox.graph import read_counts, render_html, render_svg

    graph = _load(args.scenario)
    if graph is None:
        return 1
    try:
        counts, edges = read_counts(args.counts) if args.counts else (None, None)
    except (OSError, ValueError) as exc:
        print(f"kairos graph: cannot read counts from {args.counts}: {exc}", file=sys.stderr)
        return 2
    out = Path(args.output)
    if out.suffix.lower() not in (".svg", ".html", ".htm"):
        print("kairos graph: -o must end in .svg or .html", file=sys.stderr)
        return 2
    svg = render_svg(graph, counts, edges)
    text = svg if out.suffix.lower() == ".svg" else render_html(graph, svg, counts is not None)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"{out}: {len(graph.order)} nodes" + (" with counts" if counts else ""))
    return 0


command("graph", "draw the scenario graph as SVG or HTML, optionally with counts on nodes and edges")(
    (_graph_args, _graph))
