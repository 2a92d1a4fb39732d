"""`kairos param`: the live parameters of a scenario (docs/parameters.md).

  kairos param list SCENARIO                                   (declared parameters, types, ranges, defaults)
  kairos param set SCENARIO NAME VALUE --kafka HOST:PORT [--prefix P]   (a change for the running job)

`set` checks the value against the declaration before sending it (the job checks it again: a message written
by anything else is validated there, and a refused one becomes a dead letter while the old value stays).
"""

from __future__ import annotations

import argparse
import json
import sys

from jobs.cli.registry import command, console, print_errors
from jobs.lang.errors import ScenarioError


def _args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="param_command", metavar="list|set")
    listing = sub.add_parser("list", help="the declared parameters and their defaults")
    listing.add_argument("scenario", metavar="SCENARIO", help="the scenario YAML file")
    listing.add_argument("--json", action="store_true", help="as JSON")
    change = sub.add_parser("set", help="change a parameter of the running job (control topic)")
    change.add_argument("scenario", metavar="SCENARIO", help="the scenario YAML file")
    change.add_argument("name", metavar="NAME", help="the parameter")
    change.add_argument("value", metavar="VALUE", help="the new value (true/false for bool)")
    change.add_argument("--kafka", required=True, metavar="HOST:PORT", help="Kafka bootstrap servers")
    change.add_argument("--secrets", metavar="FILE", action="append", default=[])
    change.add_argument("--prefix", default="", help="the job's --prefix (topic names)")
    change.add_argument("--no-check", action="store_true",
                        help="send VALUE (as JSON when it parses, else as text) without checking it here: the job "
                             "refuses a bad one to its dead letters")


def _scenario(path: str):
    from jobs.lang.model import read_scenario

    try:
        return read_scenario(path)
    except ScenarioError as exc:
        print_errors(exc)
        return None


def _list(args: argparse.Namespace) -> int:
    scenario = _scenario(args.scenario)
    if scenario is None:
        return 1
    described = [p.describe() for p in scenario.parameters.values()]
    if args.json:
        print(json.dumps({"scenario": scenario.name, "parameters": described}, indent=2))
        return 0
    out = console()
    if not described:
        out.print(f"{scenario.name}: no parameters declared")
        return 0
    from rich.table import Table

    table = Table(title=f"{scenario.name}: parameters")
    for column in ("name", "type", "default", "range / allowed", "description"):
        table.add_column(column)
    for p in scenario.parameters.values():
        limits = (", ".join(repr(a) for a in p.allowed) if p.allowed is not None
                  else f"{'' if p.min is None else p.min} .. {'' if p.max is None else p.max}"
                  if p.min is not None or p.max is not None else "")
        table.add_row(p.name, str(p.type), json.dumps(p.default), limits, p.description)
    out.print(table)
    return 0


def _set(args: argparse.Namespace) -> int:
    from jobs.config.settings import SettingsError, load_connections
    from jobs.connect.param_send import change_message, send_change
    from jobs.lang.parameters import check_value, parse_text

    scenario = _scenario(args.scenario)
    if scenario is None:
        return 1
    declared = scenario.parameters.get(args.name)
    if declared is None and not args.no_check:
        known = ", ".join(scenario.parameters) or "none"
        print(f"kairos param set: {scenario.name} has no parameter '{args.name}' (declared: {known})", file=sys.stderr)
        return 2
    if args.no_check:
        try:
            value = json.loads(args.value)
        except ValueError:
            value = args.value
    else:
        value, error = check_value(declared, parse_text(declared, args.value))
        if error:
            print(f"kairos param set: {error}", file=sys.stderr)
            return 2
    try:
        conns = load_connections(args.kafka, None, args.secrets)
    except SettingsError as exc:
        print(f"kairos param set: {exc}", file=sys.stderr)
        return 2
    message = change_message(scenario.name, args.name, value)
    topic, offset = send_change(conns.kafka, args.prefix, message)
    console().print(f"sent {scenario.name}.{args.name} = {json.dumps(value)} to {topic} (offset {offset}, "
                    f"id {message['id']}); the job logs a '{'parameter_changed'}' detection when it applies it")
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.param_command == "list":
        return _list(args)
    if args.param_command == "set":
        return _set(args)
    print("kairos param: say `list` or `set` (kairos param --help)", file=sys.stderr)
    return 2


command("param", "live parameters: list a scenario's, or change one in the running job")((_args, _run))
