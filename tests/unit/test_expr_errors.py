"""Compile-time errors: exact message and 0-based offset."""

from __future__ import annotations

import pytest
from test_expr import ENV

from jobs.lang.expr import ExprError, compile_expression

ERRORS: list[tuple[str, int, str]] = [
    # syntax
    ("amount +", 8, "syntax error: unexpected end of expression"),
    ("amount > > 1", 9, "syntax error: unexpected '>' (expected '(', '-', '[', a name, a number, a string)"),
    ("amount )", 7, "syntax error: unexpected ')' (expected end of expression)"),
    ("'abc", 0, "syntax error: unterminated string"),
    ("amount @ 1", 7, "syntax error: unexpected character '@'"),
    ("", 0, "expression is empty"),
    # names
    ("amout > 1", 0, "unknown name 'amout' (did you mean 'amount'?)"),
    ("segment in tags2", 11, "unknown name 'tags2' (did you mean 'tags' or 'ts2'?)"),
    ("AMOUNT", 0, "unknown name 'AMOUNT' (did you mean 'amount'?)"),
    ("profile.balanse", 8, "record has no field 'balanse' (did you mean 'balance'?)"),
    ("foo(1)", 0, "unknown function 'foo' (did you mean 'floor'?)"),
    # types
    ("segment + 1", 8, "'+' needs numbers, got string and int (use || to concatenate)"),
    ("segment > 1", 8, "cannot compare string with int"),
    ("'a' || 1", 7, "'||' needs strings, got int (use to_string)"),
    ("-segment", 0, "'-' needs a number, got string"),
    ("not amount", 4, "'not' needs bool, got int"),
    ("flag and 1", 9, "'and' needs bool, got int"),
    ("flag < true", 5, "cannot order bool values with '<'"),
    ("amount = null", 7, "'=' with null is always null (unknown); use 'is null' or 'is not null'"),
    ("segment in ('a', 1)", 0, "cannot compare string with int"),
    ("1 in tags", 0, "cannot compare int with string"),
    ("amount like 'a%'", 0, "'like' needs a string, got int"),
    ("segment like name", 13, "'like' needs a string literal pattern such as 'abc%'"),
    ("case when 1 then 2 end", 10, "'when' needs bool, got int"),
    ("case when flag then 1 else 'x' end", 27, "case branches have incompatible types int and string"),
    ("[1, 'a']", 4, "list items have incompatible types int and string"),
    ("tags['a']", 5, "list index must be int, got string"),
    ("amount.x", 0, "cannot read field 'x' of int"),
    ("(1, 2)", 0, "a parenthesized list of values is only allowed after 'in'"),
    ("ts + 1.5", 3, "'+' cannot combine timestamp and float (timestamp +/- int milliseconds)"),
    ("ts > 0", 3, "cannot compare timestamp with int (use to_timestamp(...) or millis(...))"),
    ("1 - ts", 2, "'-' cannot combine int and timestamp (timestamp +/- int milliseconds)"),
    # functions
    ("round(1, 2, 3)", 0, "function round expects 1 or 2 arguments, got 3"),
    ("lower()", 0, "function lower expects 1 argument, got 0"),
    ("substr(segment)", 0, "function substr expects 2 or 3 arguments, got 1"),
    ("lower(1)", 6, "function lower argument 1 must be string, got int"),
    ("length(amount)", 7, "function length argument 1 must be string or list, got int"),
    ("if(flag, 1, 'a')", 12, "function if arguments have incompatible types int and string"),
    ("coalesce(segment, 1)", 18, "function coalesce arguments have incompatible types string and int"),
    ("contains(tags, 1)", 15, "function contains: cannot look for int in list<string>"),
    ("hour_of_day(ts, 'Mars/Base')", 16, "function hour_of_day: unknown time zone 'Mars/Base'"),
    ("hour_of_day(amount)", 12, "function hour_of_day argument 1 must be timestamp, got int"),
    ("round(price, 99)", 13, "function round: digits must be between -15 and 15, got 99"),
    ("power(2, 1000)", 9, "function power: exponent must be between -64 and 64, got 1000"),
    (
        "to_timestamp('nope')",
        0,
        "to_timestamp: invalid timestamp 'nope' (expected ISO-8601 like '2024-01-01T10:00:00Z')",
    ),
    ("99999999999999999999", 0, "integer literal is too large (at most 9223372036854775807)"),
]


@pytest.mark.parametrize(("source", "offset", "message"), ERRORS, ids=[e[0] or "<empty>" for e in ERRORS])
def test_error(source: str, offset: int, message: str) -> None:
    with pytest.raises(ExprError) as err:
        compile_expression(source, ENV)
    assert err.value.message == message
    assert str(err.value) == message
    assert err.value.offset == offset


def test_error_offset_inside_longer_text() -> None:
    with pytest.raises(ExprError) as err:
        compile_expression("amount > 1 and segment = 'x' and profile.tier = amout", ENV)
    assert err.value.offset == 48
    assert "unknown name 'amout'" in err.value.message


def test_unknown_name_lists_small_env() -> None:
    from jobs.lang.types import INT

    with pytest.raises(ExprError) as err:
        compile_expression("zzz", {"a": INT, "b": INT})
    assert err.value.message == "unknown name 'zzz' (known names: a, b)"


@pytest.mark.parametrize(("value", "other"), [("x", 0.5), ({"a": 1}, {"b": 2}), ([1], "a"), (1, "a")])
def test_ordering_an_any_value_that_cannot_be_ordered_is_an_eval_error(value, other) -> None:
    """Was a bare TypeError naming neither the expression nor the values (found by the fuzz drill)."""
    from jobs.lang.expr import EvalError
    from jobs.lang.types import ANY

    ce = compile_expression("x > y", {"x": ANY, "y": ANY})
    with pytest.raises(EvalError, match=r"'x > y': cannot compare"):
        ce({"x": value, "y": other})
    assert ce({"x": 2, "y": 1.5}) is True and ce({"x": None, "y": 1}) is None
    assert compile_expression("x between 1 and 3", {"x": ANY})({"x": 2.5}) is True
