"""Escape corpus: every attempt must fail at compile time with ExprError, before any code runs."""

from __future__ import annotations

import pytest

from jobs.lang.expr import ExprError, compile_expression
from jobs.lang.expr.grammar import MAX_BRACKET_DEPTH, MAX_SOURCE
from jobs.lang.types import ANY, INT, RecordType, Type

ENV: dict[str, Type] = {
    "x": ANY,
    "y": ANY,
    "a": INT,
    "profile": RecordType({"balance": INT}),
}

ESCAPES: list[str] = [
    "__import__('os')",
    "__import__('os').system('id')",
    "().__class__.__bases__",
    "''.__class__.__mro__[1].__subclasses__()",
    "x.__class__",
    "x.__globals__",
    "profile.__dict__",
    "_private",
    "x._private",
    "a__b",
    "open('/etc/passwd')",
    "exec('1')",
    "eval('1')",
    "compile('1', 'f', 'eval')",
    "lambda: 1",
    "lambda x: x",
    "[x for x in y]",
    "(x for x in y)",
    "9**9**9",
    "2 ** 10",
    "'a' * 1000000000",
    "[1] * 1000000000",
    "getattr(a, 'b')",
    "setattr(a, 'b', 1)",
    "globals()",
    "locals()",
    "vars()",
    "ctx",
    "ctx.get('a')",
    "import os",
    "os.system('id')",
    "x.keys()",
    "a if a else a",
    "a; a",
    "a = 1; a",
    "f'{a}'",
    "\\u005f_import__('os')",
    "\uff3f\uff3fimport\uff3f\uff3f('os')",  # full-width low lines
    "\uff3fprivate",
    "\u0430",  # Cyrillic a: not an identifier character here
    "a\u200b",  # zero-width space
    "`__class__`",
    "`_x`",
    "power(2, 100000)",
    "(" * 10_000 + "1" + ")" * 10_000,
    "[" * 10_000 + "1" + "]" * 10_000,
    "not " * 10_000 + "true",
    "- " * 2000 + "1",
    "1 + " * 1000 + "1",
    "a" + " + a" * 20_000,
    "'" + "a" * 100_000 + "'",
    "99999999999999999999999999999999999999",
    "a.b.c",
    "round(a, 1000000)",
]


@pytest.mark.parametrize("source", ESCAPES, ids=[repr(s[:40]) for s in ESCAPES])
def test_escape_is_rejected(source: str) -> None:
    with pytest.raises(ExprError):
        compile_expression(source, ENV)


def test_limits_have_clear_messages() -> None:
    with pytest.raises(ExprError) as err:
        compile_expression("a" + " + a" * 20_000, ENV)
    assert err.value.message == f"expression is too long (80001 characters, at most {MAX_SOURCE})"
    with pytest.raises(ExprError) as err:
        compile_expression("(" * 41 + "1" + ")" * 41, ENV)
    assert err.value.message == f"expression is nested too deeply (more than {MAX_BRACKET_DEPTH} brackets)"
    assert err.value.offset == 40
    with pytest.raises(ExprError) as err:
        compile_expression("- " * 1500 + "1", ENV)
    assert err.value.message == "expression is nested too deeply (more than 64 levels)"
    with pytest.raises(ExprError) as err:
        compile_expression("_private", {"_private": INT})
    assert err.value.message == "names starting with '_' or containing '__' are not allowed: '_private'"


def test_deep_but_allowed_expressions_compile() -> None:
    assert compile_expression("(" * 40 + "1" + ")" * 40, ENV)({}) == 1
    assert compile_expression(" + ".join(["a"] * 60), ENV)({"a": 1}) == 60
    assert compile_expression(" or ".join(["a > 1"] * 300), ENV)({"a": 2}) is True  # and/or chains are flat


def test_generated_code_has_no_builtins() -> None:
    ce = compile_expression("a > 1 and x.y in ('p', 'q') and hour_of_day(to_timestamp(a), 'UTC') > 0", ENV)
    scope = ce.fn.__globals__
    assert scope["__builtins__"] == {}
    assert not [k for k in scope if k.startswith("_k")]  # x.y is `any`: compared item by item, no set
    assert set(scope) - {"__builtins__", "_expr"} == {"_h_field", "_h_in", "_h_f_to_timestamp", "_h_f_hour_of_day"}
    assert all(key.startswith(("_h_", "_k", "_expr", "__builtins__")) for key in scope)
    for banned in ("open", "eval", "exec", "getattr", "__import__", "print", "type", "object"):
        assert banned not in scope
    # Names only ever appear as string constants in the generated source.
    assert "ctx.get('a')" in ce.code and "ctx.get('x')" in ce.code


def test_string_data_never_becomes_code() -> None:
    tricky = "') or __import__('os').system('id') or ('"
    ce = compile_expression("x = '" + tricky.replace("'", "''") + "'", ENV)
    assert ce({"x": tricky}) is True
    assert ce({"x": "other"}) is False
    ce = compile_expression("`weird key'); x` = 1", {"weird key'); x": INT})
    assert ce({"weird key'); x": 1}) is True


def test_runtime_data_cannot_reach_attributes() -> None:
    class Evil:
        def get(self, key: str) -> str:  # pragma: no cover - must never be called
            raise AssertionError("attribute lookup on a non-dict value")

    ce = compile_expression("x.y", ENV)
    assert ce({"x": Evil()}) is None
    assert ce({"x": "a string"}) is None
    assert compile_expression("x[0]", ENV)({"x": Evil()}) is None
    # A quoted key is plain data: it looks up a dict entry, never an attribute.
    dunder = compile_expression("x['__class__']", ENV)
    assert dunder({"x": {"__class__": 1}}) == 1
    assert dunder({"x": Evil()}) is None
