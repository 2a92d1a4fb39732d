"""Sandbox tests drive `kairos` through jobs.cli.main, with the sandbox subcommands registered."""

from __future__ import annotations

import jobs.cli_sandbox  # noqa: F401 - registers test / verify / graph (jobs.cli imports it too)
