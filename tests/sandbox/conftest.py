"""Sandbox tests drive `kairos` through jobs.cli.main, with the sandbox subcommands registered."""

from __future__ import annotations

