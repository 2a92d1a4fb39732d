"""The `kairos` command line. Each subcommand is a thin layer over the compiler stages.

  kairos validate scenarios/*.yaml
  kairos run scenarios/card_fraud_velocity/card_fraud_velocity.yaml --events events.jsonl --out out/
  kairos schema > docs/scenario.schema.json

One module per family of sub-commands (local: validate/run/schema, connect: Kafka/Elasticsearch/cluster, sandbox:
test/verify/graph), each registering into `registry.COMMANDS`; this package only parses and dispatches.
"""

from __future__ import annotations

import argparse
import os
import sys

from jobs.cli.registry import COMMANDS

# each registers its sub-commands on import, in the order `kairos --help` lists them
from jobs.cli import local, connect, sandbox, report, campaigns, ops, params  # noqa: E402, F401, I001  # isort: skip

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
