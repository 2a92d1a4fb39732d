"""Sandbox tests drive `kairos` through jobs.cli.main, with the sandbox subcommands registered."""

from __future__ import annotations

from pathlib import Path

import jobs.cli_sandbox  # noqa: F401 - registers test / verify / graph (jobs.cli imports it too)

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p for p in (ROOT / "scenarios").glob("*/*.yaml") if not p.name.endswith(".tests.yaml"))
