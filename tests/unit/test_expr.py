"""Evaluation and typing table tests for the expression language."""

from __future__ import annotations

import pickle
from typing import Any

import cloudpickle
import pytest

from jobs.lang.expr import FUNCTIONS, CompiledExpr, EvalError, ExprError, check_condition, compile_expression
from jobs.lang.types import ANY, BOOL, FLOAT, INT, STRING, TIMESTAMP, ListType, MapType, RecordType, Type

TS = 1711845000000  # 2024-03-31T00:30:00Z: Warsaw switches to summer time (CEST) at 01:00Z that night
TS2 = 1711713600000  # 2024-03-29T12:00:00Z, a Friday

ENV: dict[str, Type] = {
    "amount": INT,
    "price": FLOAT,
    "segment": STRING,
    "name": STRING,
    "flag": BOOL,
    "ts": TIMESTAMP,
    "ts2": TIMESTAMP,
    "tags": ListType(STRING),
    "nums": ListType(INT),
    "attrs": MapType(STRING),
    "profile": RecordType({"balance": FLOAT, "tier": STRING, "address": RecordType({"city": STRING})}),
    "payload": ANY,
    "missing": INT,
    "nostr": STRING,
    "zone": STRING,
}
CTX: dict[str, Any] = {
    "amount": 150,
    "price": 2.5,
    "segment": "gold",
    "name": " Ada ",
    "flag": True,
    "ts": TS,
    "ts2": TS2,
    "tags": ["vip", "new"],
    "nums": [3, 1, 2],
    "attrs": {"k": "v"},
    "profile": {"balance": 10.5, "tier": "A", "address": {"city": "Kraków"}},
    "payload": {"x": 1, "l": [1, 2]},
    "zone": "Europe/Warsaw",
}

CASES: list[tuple[str, object, Type]] = [
    # literals
    ("1", 1, INT),
    ("2.5", 2.5, FLOAT),
    ("'it''s'", "it's", STRING),
    ("TRUE", True, BOOL),
    ("[1, 2]", [1, 2], ListType(INT)),
    ("[1, 2.5]", [1, 2.5], ListType(FLOAT)),
    # arithmetic and promotion
    ("amount + 1", 151, INT),
    ("amount + price", 152.5, FLOAT),
    ("amount - 200", -50, INT),
    ("amount * 2", 300, INT),
    ("amount / 4", 37.5, FLOAT),
    ("amount % 7", 3, INT),
    ("price % 1", 0.5, FLOAT),
    ("-amount", -150, INT),
    ("-(-2.5)", 2.5, FLOAT),
    ("1 + 2 * 3", 7, INT),
    ("(1 + 2) * 3", 9, INT),
    ("segment || '-' || name", "gold- Ada ", STRING),
    # null propagation
    ("missing + 1", None, INT),
    ("missing * price", None, FLOAT),
    ("missing / 0", None, FLOAT),
    ("-missing", None, INT),
    ("nostr || 'x'", None, STRING),
    # comparisons
    ("amount > 100", True, BOOL),
    ("amount >= 150", True, BOOL),
    ("amount < 150", False, BOOL),
    ("amount <= 150", True, BOOL),
    ("amount = 150", True, BOOL),
    ("amount == 150", True, BOOL),
    ("amount != 150", False, BOOL),
    ("amount <> 151", True, BOOL),
    ("price < amount", True, BOOL),
    ("segment > 'a'", True, BOOL),
    ("ts > ts2", True, BOOL),
    ("flag = true", True, BOOL),
    ("missing > 1", None, BOOL),  # SQL: comparisons with null are UNKNOWN (null)
    ("missing != 1", None, BOOL),
    ("missing = missing", None, BOOL),
    # logic, null as false
    ("amount > 100 and segment = 'gold'", True, BOOL),
    ("amount > 100 AND segment = 'x'", False, BOOL),
    ("amount > 1000 or flag", True, BOOL),
    ("not flag", False, BOOL),
    ("NOT missing > 1", None, BOOL),  # NOT UNKNOWN is UNKNOWN
    ("missing > 1 or missing < 1", None, BOOL),
    ("not not flag", True, BOOL),
    # in / not in / between / is null / like
    ("segment in ('gold', 'silver')", True, BOOL),
    ("segment IN ('bronze')", False, BOOL),
    ("segment not in ('bronze', 'silver')", True, BOOL),
    ("nostr in ('a', null)", None, BOOL),
    ("nostr not in ('a')", None, BOOL),
    ("amount in (1, amount)", True, BOOL),
    ("'vip' in tags", True, BOOL),
    ("'old' in tags", False, BOOL),
    ("'old' not in tags", True, BOOL),
    ("2 in nums", True, BOOL),
    ("amount between 100 and 200", True, BOOL),
    ("amount between 1 and 2 and flag", False, BOOL),
    ("amount not between 1 and 2", True, BOOL),
    ("missing between 1 and 2", None, BOOL),
    ("missing not between 1 and 2", None, BOOL),
    ("missing is null", True, BOOL),
    ("amount is null", False, BOOL),
    ("amount IS NOT NULL", True, BOOL),
    ("segment like 'go%'", True, BOOL),
    ("segment like 'g_ld'", True, BOOL),
    ("segment like 'G%'", False, BOOL),
    ("segment not like '%x%'", True, BOOL),
    ("'a.c' like 'a.c'", True, BOOL),
    ("'abc' like 'a.c'", False, BOOL),
    ("'50%' like '50\\%'", True, BOOL),
    ("'505' like '50\\%'", False, BOOL),
    ("nostr like '%'", None, BOOL),
    # case / if / coalesce
    ("case when amount > 100 then 'big' when amount > 10 then 'mid' else 'small' end", "big", STRING),
    ("case when amount > 1000 then 1 end", None, INT),
    ("case when missing > 1 then 1 else 2.5 end", 2.5, FLOAT),
    ("if(flag, 1, 2)", 1, INT),
    ("IF(missing > 0, 'a', 'b')", "b", STRING),
    ("coalesce(missing, amount, 0)", 150, INT),
    ("coalesce(missing, 1.5)", 1.5, FLOAT),
    ("coalesce(nostr, null)", None, STRING),
    # access
    ("profile.balance", 10.5, FLOAT),
    ("profile.address.city", "Kraków", STRING),
    ("profile['tier']", "A", STRING),
    ("tags[0]", "vip", STRING),
    ("tags[5]", None, STRING),
    ("tags[-1]", None, STRING),
    ("attrs['k']", "v", STRING),
    ("attrs.k", "v", STRING),
    ("attrs['nope']", None, STRING),
    ("payload.x", 1, ANY),
    ("payload.l[1]", 2, ANY),
    ("payload.nope.deeper", None, ANY),
    ("payload.x + 1", 2, ANY),
    ("`amount` + 0", 150, INT),
    # string functions
    ("lower('AbC')", "abc", STRING),
    ("UPPER(segment)", "GOLD", STRING),
    ("trim(name)", "Ada", STRING),
    ("length(segment)", 4, INT),
    ("length(tags)", 2, INT),
    ("substr('abcdef', 2, 3)", "bcd", STRING),
    ("substr('abcdef', 3)", "cdef", STRING),
    ("substr('abcdef', 0, 2)", "a", STRING),  # SQL: positions 0 and 1; 0 does not exist
    ("starts_with(segment, 'go')", True, BOOL),
    ("ends_with(segment, 'x')", False, BOOL),
    ("contains(segment, 'ol')", True, BOOL),
    ("contains(tags, 'new')", True, BOOL),
    ("replace(segment, 'o', '0')", "g0ld", STRING),
    ("concat('a', 1, true, nostr, 2.5)", "a1true2.5", STRING),
    ("lower(nostr)", None, STRING),
    # numeric functions
    ("abs(-3)", 3, INT),
    ("abs(price - 10)", 7.5, FLOAT),
    ("round(2.675, 2)", 2.68, FLOAT),
    ("round(2.5)", 3.0, FLOAT),
    ("round(-2.5)", -3.0, FLOAT),
    ("round(1234, -2)", 1200, INT),
    ("floor(2.7)", 2, INT),
    ("ceil(2.1)", 3, INT),
    ("floor(-2.5)", -3, INT),
    ("power(2, 10)", 1024.0, FLOAT),
    ("least(3, 1.5, amount)", 1.5, FLOAT),
    ("greatest(3, amount, missing)", 150, INT),
    ("least('b', 'a')", "a", STRING),
    ("to_int('42')", 42, INT),
    ("to_int(' -7 ')", -7, INT),
    ("to_int(3.9)", 3, INT),
    ("to_float('2.5')", 2.5, FLOAT),
    ("to_string(amount)", "150", STRING),
    ("to_string(flag)", "true", STRING),
    ("size(tags)", 2, INT),
    ("size(attrs)", 1, INT),
    # time functions (DST-aware)
    ("hour_of_day(ts)", 0, INT),
    ("hour_of_day(ts, 'Europe/Warsaw')", 1, INT),
    ("hour_of_day(ts + hours(1), 'Europe/Warsaw')", 3, INT),
    ("hour_of_day(ts, zone)", 1, INT),
    ("day_of_week(ts, 'Europe/Warsaw')", 7, INT),
    ("day_of_week(ts2)", 5, INT),
    ("date_format(ts)", "2024-03-31T00:30:00+00:00", STRING),
    ("date_format(ts, 'Europe/Warsaw')", "2024-03-31T01:30:00+01:00", STRING),
    ("date_format(ts + hours(1), 'Europe/Warsaw')", "2024-03-31T03:30:00+02:00", STRING),
    ("date_format(ts + 5, 'UTC')", "2024-03-31T00:30:00.005+00:00", STRING),
    ("hours_between(ts2, ts)", 36.5, FLOAT),
    ("minutes_between(ts2, ts)", 2190.0, FLOAT),
    ("seconds_between(ts2, ts)", 131400.0, FLOAT),
    ("days_between(ts2, ts)", 131400000 / 86400000, FLOAT),
    ("hours_between(ts, ts2)", -36.5, FLOAT),
    ("to_timestamp('2024-03-31T00:30:00Z') = ts", True, BOOL),
    ("to_timestamp('2024-03-31T02:30:00+02:00')", TS, TIMESTAMP),
    ("to_timestamp('2024-03-31 00:30:00')", TS, TIMESTAMP),
    ("to_timestamp(segment)", "error", TIMESTAMP),
    ("to_timestamp(0)", 0, TIMESTAMP),
    ("millis(ts)", TS, INT),
    ("ts + hours(2)", TS + 7_200_000, TIMESTAMP),
    ("ts - minutes(1)", TS - 60_000, TIMESTAMP),
    ("ts - ts2", 131_400_000, INT),
    ("seconds(1.5)", 1500, INT),
    ("days(1)", 86_400_000, INT),
]


@pytest.mark.parametrize(("source", "expected", "typ"), CASES, ids=[c[0] for c in CASES])
def test_evaluates(source: str, expected: object, typ: Type) -> None:
    ce = compile_expression(source, ENV)
    assert ce.type == typ
    if expected == "error":
        with pytest.raises(ValueError, match="invalid timestamp 'gold'"):
            ce(CTX)
        return
    result = ce(CTX)
    assert result == expected
    assert type(result) is type(expected)


def test_missing_context_is_null() -> None:
    assert compile_expression("amount + 1", ENV)({}) is None
    assert compile_expression("profile.address.city", ENV)({"profile": {"address": None}}) is None
    assert compile_expression("hour_of_day(ts, 'UTC')", ENV)({}) is None


def test_api_surface() -> None:
    ce = compile_expression("amount > 100 and segment in ('gold', 'silver')", ENV)
    assert isinstance(ce, CompiledExpr)
    assert ce.source == "amount > 100 and segment in ('gold', 'silver')"
    assert ce.names == frozenset({"amount", "segment"})
    assert ce.fn(CTX) is True and ce(CTX) is True
    assert ce({"amount": 150, "segment": "bronze"}) is False
    assert compile_expression("profile.balance", ENV).names == frozenset({"profile"})


def test_expected_type() -> None:
    assert compile_expression("amount", ENV, expected=FLOAT).type == INT
    assert compile_expression("payload.x", ENV, expected=INT).type == INT
    with pytest.raises(ExprError) as err:
        compile_expression("segment", ENV, expected=INT)
    assert err.value.message == "expression must be int, got string"


def test_literal_null_checks_fold_without_warnings() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ce = compile_expression("1 is null or 'a' is not null", ENV)
    assert ce({}) is True
    assert compile_expression("null", ENV, expected=INT).type == INT


def test_check_condition() -> None:
    ce = check_condition("payload.x", ENV)
    assert ce.type == BOOL
    with pytest.raises(EvalError, match="condition needs bool, got int 1"):  # a dead letter, not "filtered"
        ce({"payload": {"x": 1}})
    assert ce({"payload": {}}) is False  # null: not TRUE
    assert ce({"payload": {"x": True}}) is True
    assert check_condition("flag", ENV)({}) is False
    with pytest.raises(ExprError) as err:
        check_condition("amount + 1", ENV)
    assert err.value.message == "condition must be bool, got int"
    assert err.value.offset == 0


def test_runtime_errors_are_clear() -> None:
    with pytest.raises(ZeroDivisionError, match=r"division by zero in 'amount / \(amount - 150\)'"):
        compile_expression("amount / (amount - 150)", ENV)(CTX)
    with pytest.raises(ZeroDivisionError, match="division by zero in 'amount % 0'"):
        compile_expression("amount % 0", ENV)(CTX)
    with pytest.raises(ValueError, match="cannot convert 'abc' to int"):
        compile_expression("to_int(segment)", ENV)({"segment": "abc"})
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Base'"):
        compile_expression("hour_of_day(ts, zone)", ENV)({"ts": TS, "zone": "Mars/Base"})
    with pytest.raises(ValueError, match="exponent must be between -64 and 64"):
        compile_expression("power(2, amount)", ENV)(CTX)


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps])
def test_pickle_recompiles(dumps: Any) -> None:
    ce = compile_expression("coalesce(profile.balance, 0) * 2 > 20", ENV, expected=BOOL)
    copy = pickle.loads(dumps(ce))
    assert copy.source == ce.source and copy.type == BOOL and copy.names == ce.names
    assert copy(CTX) is True
    assert copy({}) is False
    assert ce.__getstate__() == (ce.source, ENV, BOOL)


def test_like_is_compiled_once() -> None:
    ce = compile_expression("segment like 'a%'", ENV)
    assert ".startswith('a')" in ce.code  # a prefix pattern is one str method call, no matcher object
    ce = compile_expression("segment like 'a_%b'", ENV)  # one %: a regex with a single .* (linear)
    patterns = [v.pattern for v in ce.fn.__globals__.values() if type(v).__name__ == "Pattern"]
    assert patterns == ["a..*b"]
    assert ce({"segment": "axxb"}) is True and ce({"segment": "ab"}) is False
    ce = compile_expression("segment like 'a%_%b'", ENV)  # more: the segment matcher, built once
    matchers = [v for v in ce.fn.__globals__.values() if type(v).__name__ == "Like"]
    assert [m.pattern for m in matchers] == ["a%_%b"]
    assert ce({"segment": "axb"}) is True and ce({"segment": "ab"}) is False


def test_literal_folding() -> None:
    ce = compile_expression("to_timestamp('2024-03-31T00:30:00Z') + hours(1)", ENV)
    assert "to_timestamp" not in ce.code
    assert ce({}) == TS + 3_600_000


def test_function_registry() -> None:
    expected = {
        "lower", "upper", "trim", "length", "substr", "starts_with", "ends_with", "contains", "replace", "concat",
        "abs", "round", "floor", "ceil", "power", "least", "greatest", "to_int", "to_float", "to_string", "size",
        "if", "coalesce", "to_timestamp", "millis", "hour_of_day", "day_of_week", "date_format",
        "seconds_between", "minutes_between", "hours_between", "days_between", "seconds", "minutes", "hours", "days",
    }  # fmt: skip
    assert set(FUNCTIONS) == expected
    for name, fn in FUNCTIONS.items():
        assert fn.signature.startswith(name + "(") and fn.doc
