"""The examples in docs/scenarios.md are true: every scenario block validates, and blocks with events give
exactly the documented action payloads (run in the in-process harness)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.runtime.files import bind_references, canonical
from jobs.runtime.harness import run_in_process

DOC = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"
BLOCK = re.compile(r"```(yaml header|yaml|events|expect)\n(.*?)```", re.DOTALL)


def examples() -> list[tuple[int, str, list[str] | None, list[dict] | None]]:
    text = DOC.read_text()
    header, found = None, []
    for match in BLOCK.finditer(text):
        kind, body = match.group(1), match.group(2)
        line = text[: match.start()].count("\n") + 1
        if kind == "yaml header":
            header = body
        elif kind == "yaml":
            found.append([line, header + body, None, None])
        elif kind == "events":
            found[-1][2] = [x for x in body.splitlines() if x.strip()]
        else:
            found[-1][3] = [json.loads(x) for x in body.splitlines() if x.strip()]
    return [tuple(x) for x in found]


EXAMPLES = examples()


def test_the_doc_has_examples():
    assert len(EXAMPLES) >= 8
    assert sum(1 for e in EXAMPLES if e[3] is not None) >= 5


@pytest.mark.parametrize("line, text, events, expected", EXAMPLES, ids=[f"line{e[0]}" for e in EXAMPLES])
def test_doc_example(line, text, events, expected):
    graph = load(str(DOC), text)
    if events is None:
        return
    plan = make_plan(graph)
    bind_references(plan, {})
    # an `events` line is a tx event, or "SOURCE {json}" for another source of the example
    result = run_in_process(plan, [("tx", e) if e.startswith("{") else tuple(e.split(" ", 1)) for e in events])
    assert [a["payload"] for a in canonical(result.actions)] == expected
    assert result.dead_letter == []
