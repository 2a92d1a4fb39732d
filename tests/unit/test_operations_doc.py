"""docs/operations.md stays true to the CLI: every `kairos ...` command in its sh blocks parses with the real
argument parser (an option renamed or removed fails here), and the files it links exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from jobs.cli import build_parser

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def commands() -> list[str]:
    found = []
    for block in re.findall(r"```sh\n(.*?)```", DOC.read_text(), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("kairos "):
                found.append(line)
    return found


def test_the_doc_shows_the_operations_commands():
    names = {c.split()[1] for c in commands()}
    assert {"submit", "k8s", "stop", "validate", "metrics", "savepoint"} <= names


@pytest.mark.parametrize("line", commands())
def test_command_parses(line):
    build_parser().parse_args(shlex.split(line)[1:])  # argparse exits (SystemExit) on an unknown option


def test_links_exist():
    for target in re.findall(r"\]\((\.\./[^)#]+|[a-z0-9_-]+\.md)\)", DOC.read_text()):
        assert (DOC.parent / target).exists(), target
