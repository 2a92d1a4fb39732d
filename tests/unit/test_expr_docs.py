"""Every `expr  ==>  result` line in docs/expressions.md is evaluated against the doc's sample context."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from jobs.lang.expr import ExprError, compile_expression
from jobs.lang.types import Type, parse_type

DOC = Path(__file__).resolve().parents[2] / "docs" / "expressions.md"
_FENCE = re.compile(r"^```(\w+)(?: (\w+))?\n(.*?)^```", re.M | re.S)


def _blocks(kind: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    return [body for lang, tag, body in _FENCE.findall(text) if kind in (lang, tag)]


def _sample() -> tuple[dict[str, Type], dict[str, Any]]:
    (block,) = [b for lang, tag, b in _FENCE.findall(DOC.read_text(encoding="utf-8")) if tag == "sample"]
    data = json.loads(block)
    return {k: parse_type(v) for k, v in data["env"].items()}, data["ctx"]


def _examples() -> list[tuple[str, str]]:
    out = []
    for body in _blocks("examples"):
        for line in body.splitlines():
            if line.strip():
                source, _, expected = line.partition("==>")
                assert expected, f"example line without '==>': {line!r}"
                out.append((source.strip(), expected.strip()))
    return out


EXAMPLES = _examples()
ENV, CTX = _sample()


def test_doc_has_examples() -> None:
    assert len(EXAMPLES) >= 100


@pytest.mark.parametrize(("source", "expected"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_doc_example(source: str, expected: str) -> None:
    error = re.match(r"^(\w+Error): (.*)$", expected)
    if error and error.group(1) == "ExprError":
        with pytest.raises(ExprError) as err:
            compile_expression(source, ENV)
        assert err.value.message == error.group(2)
        return
    ce = compile_expression(source, ENV)
    if error:
        with pytest.raises(Exception) as err:
            ce(CTX)
        assert type(err.value).__name__ == error.group(1)
        assert str(err.value) == error.group(2)
        return
    result = ce(CTX)
    want = json.loads(expected)
    assert result == want
    assert type(result) is type(want)
