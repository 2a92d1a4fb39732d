"""docs/authoring.md is executable: every `$ kairos ...` command in it runs, and its shown output appears.

`kairos run` is shown as a plain `sh` block (it needs Flink; other tests cover it), so it is not run here.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from jobs.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "authoring.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)


def steps() -> list[tuple[str, str | None]]:
    """(command, expected output or None) in the order of the doc; output blocks follow their command."""
    found: list[tuple[str, str | None]] = []
    for lang, body in _BLOCK.findall(DOC.read_text(encoding="utf-8")):
        if lang == "console":
            found += [(line[2:].strip(), None) for line in body.splitlines() if line.startswith("$ kairos ")]
        elif lang == "output" and found:
            found[-1] = (found[-1][0], body)
    return found


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def run(command: str, out_dir: Path) -> tuple[int, str]:
    """Run one doc command through jobs.cli.main; out/tutorial/ goes to a temporary directory."""
    command = command.replace("out/tutorial/", f"{out_dir}/")
    args, redirect = shlex.split(command), None
    if ">" in args:
        at = args.index(">")
        args, redirect = args[:at], Path(args[at + 1])
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        code = main(args[1:])
    if redirect is not None:
        redirect.write_text(buffer.getvalue(), encoding="utf-8")
    return code, buffer.getvalue()


def test_the_tutorial_covers_every_step() -> None:
    commands = [c.split()[1] for c, _ in steps()]
    for sub in ("validate", "test", "verify", "graph"):
        assert sub in commands, sub
    assert "kairos run docs/tutorial/order_thanks.yaml" in DOC.read_text(encoding="utf-8")
    assert (ROOT / "docs/tutorial/order_thanks.yaml").read_text().startswith(
        "# yaml-language-server: $schema=../../docs/scenario.schema.json")


def test_the_tutorial_steps_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the doc's paths are relative to the repository root
    for command, expected in steps():
        code, output = run(command, tmp_path)
        assert code == (1 if "broken" in command else 0), f"{command}\n{output}"
        for line in (expected or "").splitlines():
            shown = line.replace("out/tutorial/", f"{tmp_path}/")
            assert _squash(shown) in _squash(output), f"{command}: missing {line!r} in\n{output}"
    svg = (tmp_path / "order_thanks.svg").read_text()
    assert "in 3 · out 2 · filtered 1" in svg and "gold" in svg and "default" in svg
    assert "<svg" in (tmp_path / "order_thanks.html").read_text()
