"""What every `kairos` sub-command module shares: the command registry, error printing and the scenario+inputs
options. Command modules import this; `jobs.cli` (the package) imports the command modules: one direction."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from jobs.lang.errors import ScenarioError

COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int], str]] = {}


def command(name: str, help_text: str):
    def register(pair):
        configure, run = pair
        COMMANDS[name] = (configure, run, help_text)
        return pair

    return register


def console():
    from rich.console import Console

    return Console(stderr=False, highlight=False)


def print_errors(exc: ScenarioError) -> None:
    for diagnostic in exc.diagnostics:
        print(str(diagnostic), file=sys.stderr)



# -- the scenario and its input files -------------------------------------------------------------
def add_input_args(p: argparse.ArgumentParser, many: bool = False) -> None:
    """The scenario and its input files: shared by `run` and the sandbox commands (`many`: several scenarios
    or directories, one job: jobs/cli/campaigns.py)."""
    if many:
        p.add_argument("scenario", metavar="SCENARIO", nargs="+",
                       help="the scenario YAML file; several files or directories: all in one job")
    else:
        p.add_argument("scenario", metavar="SCENARIO", help="the scenario YAML file")
    p.add_argument("--events", action="append", default=[], metavar="[SOURCE=]FILE",
                   help="JSON-lines events for a source (repeatable; SOURCE may be left out when there is one)")
    p.add_argument("--changelog", action="append", default=[], metavar="NAME=FILE",
                   help="JSON-lines changelog for a changelog source (repeatable)")
    p.add_argument("--reference", action="append", default=[], metavar="NAME=FILE",
                   help="CSV or JSON-lines file for a reference table (repeatable)")


def load_with_inputs(args: argparse.Namespace, command_name: str):
    """The compiled plan and {source: file} of `add_input_args` options, or the exit code of the problem."""
    from jobs.runtime.files import InputError, load_plan

    try:
        return load_plan(args.scenario, args.events, args.changelog, args.reference)
    except ScenarioError as exc:
        print_errors(exc)
        return 1
    except InputError as exc:
        print(f"kairos {command_name}: {exc}", file=sys.stderr)
        return 2
