"""The function registry: name -> signature, doc, type check and runtime implementation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..types import ANY, BOOL, FLOAT, INT, NULL, STRING, TIMESTAMP, ListType, MapType, Type, assignable, common_type
from . import library as rt
from .errors import EvalError, ExprError

MAX_ARGS = 32
NOCONST: Any = object()


@dataclass
class Value:
    """A checked sub-expression: its type, the Python code computing it, and what is known statically."""

    type: Type
    code: str
    pos: int
    end: int
    nullable: bool = True
    const: Any = NOCONST  # the value, when it is a literal
    strict_bool: bool = False  # always a real True/False, never null
    # For conditions (true only when TRUE): code that is True exactly when the value is TRUE / is FALSE, when a
    # cheaper form than testing `code` exists (e.g. `a is not None and a > 1`); None: derived from `code`.
    truth: str | None = None
    falsity: str | None = None
    # Arithmetic: the same value without its range check, for an enclosing + - * (checked once, at the end).
    raw: str | None = None


Check = Callable[[str, list[Value]], Type]


@dataclass(frozen=True)
class Function:
    name: str
    signature: str
    doc: str
    min_args: int
    max_args: int
    check: Check
    impl: Callable[..., Any] | None  # None: generated inline by the code generator (if, coalesce)


_KINDS: dict[str, Callable[[Type], bool]] = {
    "string": lambda t: t == STRING,
    "int": lambda t: t == INT,
    "number": lambda t: t in (INT, FLOAT),
    "bool": lambda t: t == BOOL,
    "timestamp": lambda t: t == TIMESTAMP,
    "list": lambda t: isinstance(t, ListType),
    "map": lambda t: isinstance(t, MapType),
    "primitive": lambda t: t in (STRING, INT, FLOAT, BOOL, TIMESTAMP),
}


def want(fname: str, args: list[Value], i: int, *kinds: str) -> Type:
    """Check argument i against kinds such as 'string', 'number', 'list'; ANY and null always pass."""
    t = args[i].type
    if t in (ANY, NULL) or any(_KINDS[k](t) for k in kinds):
        return t
    raise ExprError(f"function {fname} argument {i + 1} must be {' or '.join(kinds)}, got {t}", args[i].pos)


def _zone_arg(fname: str, args: list[Value], i: int) -> None:
    if len(args) > i:
        want(fname, args, i, "string")
        if isinstance(args[i].const, str):
            try:
                rt.zone(args[i].const)
            except EvalError as e:
                raise ExprError(f"function {fname}: {e}", args[i].pos) from None


def _bounded_literal(fname: str, args: list[Value], i: int, bound: int, what: str) -> None:
    c = args[i].const if len(args) > i else NOCONST
    if isinstance(c, int | float) and not isinstance(c, bool) and abs(c) > bound:
        raise ExprError(f"function {fname}: {what} must be between -{bound} and {bound}, got {c}", args[i].pos)


def _common(fname: str, args: list[Value], orderable: bool = False) -> Type:
    result: Type = NULL
    for i, a in enumerate(args):
        if orderable:
            want(fname, args, i, "number", "string", "timestamp")
        merged = common_type(result, a.type)
        if merged is None:
            raise ExprError(f"function {fname} arguments have incompatible types {result} and {a.type}", a.pos)
        result = merged
    return result


def _typed(kinds: list[tuple[str, ...]], ret: Type) -> Check:
    def check(fname: str, args: list[Value]) -> Type:
        for i in range(len(args)):
            want(fname, args, i, *kinds[i])
        return ret

    return check


def _check_round(fname: str, args: list[Value]) -> Type:
    t = want(fname, args, 0, "number")
    if len(args) > 1:
        want(fname, args, 1, "int")
        _bounded_literal(fname, args, 1, rt.MAX_DIGITS, "digits")
    return FLOAT if t == FLOAT else t if t in (INT, ANY) else FLOAT


def _check_contains(fname: str, args: list[Value]) -> Type:
    t = want(fname, args, 0, "string", "list")
    if t == STRING:
        want(fname, args, 1, "string")
    elif isinstance(t, ListType) and not (assignable(args[1].type, t.item) or assignable(t.item, args[1].type)):
        raise ExprError(f"function {fname}: cannot look for {args[1].type} in {t}", args[1].pos)
    return BOOL


def _check_power(fname: str, args: list[Value]) -> Type:
    want(fname, args, 0, "number")
    want(fname, args, 1, "number")
    _bounded_literal(fname, args, 1, rt.MAX_POWER, "exponent")
    return FLOAT


def _check_time(ret: Type) -> Check:
    def check(fname: str, args: list[Value]) -> Type:
        want(fname, args, 0, "timestamp")
        _zone_arg(fname, args, 1)
        return ret

    return check


def _check_concat(fname: str, args: list[Value]) -> Type:
    for i in range(len(args)):
        want(fname, args, i, "primitive")
    return STRING


def _check_if(fname: str, args: list[Value]) -> Type:
    want(fname, args, 0, "bool")
    return _common(fname, args[1:])


S, N, T = ("string",), ("number",), ("timestamp",)
_SPECS: list[tuple[str, str, str, int, int, Check, Callable[..., Any] | None]] = [
    # name, signature, doc, min args, max args, check, implementation
    ("lower", "lower(s: string) -> string", "Lower-case.", 1, 1, _typed([S], STRING), rt.strict(rt.lower)),
    ("upper", "upper(s: string) -> string", "Upper-case.", 1, 1, _typed([S], STRING), rt.strict(rt.upper)),
    ("trim", "trim(s: string) -> string", "Strip leading/trailing spaces.", 1, 1, _typed([S], STRING),
     rt.strict(rt.trim)),
    ("length", "length(x: string | list) -> int", "Characters in a string or items in a list.", 1, 1,
     _typed([("string", "list")], INT), rt.size),
    ("substr", "substr(s: string, start: int[, len: int]) -> string",
     "Substring; `start` is 1-based, a missing `len` means to the end.", 2, 3,
     _typed([S, ("int",), ("int",)], STRING), rt.strict(rt.substr)),
    ("starts_with", "starts_with(s: string, prefix: string) -> bool", "Prefix test.", 2, 2, _typed([S, S], BOOL),
     rt.strict(str.startswith)),
    ("ends_with", "ends_with(s: string, suffix: string) -> bool", "Suffix test.", 2, 2, _typed([S, S], BOOL),
     rt.strict(str.endswith)),
    ("contains", "contains(x: string | list, item) -> bool", "Substring or list-membership test.", 2, 2,
     _check_contains, rt.contains),
    ("replace", "replace(s: string, old: string, new: string) -> string", "Replace every occurrence.", 3, 3,
     _typed([S, S, S], STRING), rt.strict(rt.replace)),
    ("concat", "concat(x, ...) -> string", "Concatenate values as text; nulls are skipped.", 0, MAX_ARGS,
     _check_concat, rt.concat),
    ("abs", "abs(x: number) -> number", "Absolute value.", 1, 1, lambda f, a: want(f, a, 0, "number"),
     rt.abs_),
    ("round", "round(x: number[, digits: int]) -> number", "Round half away from zero to `digits` (0) places.",
     1, 2, _check_round, rt.round_),
    ("floor", "floor(x: number) -> int", "Largest int <= x.", 1, 1, _typed([N], INT), rt.floor_),
    ("ceil", "ceil(x: number) -> int", "Smallest int >= x.", 1, 1, _typed([N], INT), rt.ceil_),
    ("power", "power(x: number, y: number) -> float", "x to the power y; |y| <= 64.", 2, 2, _check_power,
     rt.power),
    ("least", "least(x, ...) -> common type", "Smallest non-null argument.", 1, MAX_ARGS,
     lambda f, a: _common(f, a, True), rt.extreme(min)),
    ("greatest", "greatest(x, ...) -> common type", "Largest non-null argument.", 1, MAX_ARGS,
     lambda f, a: _common(f, a, True), rt.extreme(max)),
    ("to_int", "to_int(x) -> int", "Convert a string, number or bool to int (floats truncate).", 1, 1,
     _typed([("primitive",)], INT), rt.to_int),
    ("to_float", "to_float(x) -> float", "Convert a string, number or bool to float.", 1, 1,
     _typed([("primitive",)], FLOAT), rt.to_float),
    ("to_string", "to_string(x) -> string", "Convert a primitive to text (bools as true/false).", 1, 1,
     _typed([("primitive",)], STRING), rt.to_string),
    ("size", "size(x: list | map) -> int", "Number of items in a list or entries in a map.", 1, 1,
     _typed([("list", "map")], INT), rt.size),
    ("if", "if(cond: bool, then, else) -> common type", "`then` when cond is TRUE, else `else`.",
     3, 3, _check_if, None),
    ("coalesce", "coalesce(x, ...) -> common type", "First non-null argument.", 1, MAX_ARGS,
     lambda f, a: _common(f, a), None),
    ("to_timestamp", "to_timestamp(x: string | int) -> timestamp",
     "Parse ISO-8601 text (no zone => UTC) or take epoch milliseconds.", 1, 1,
     _typed([("string", "int")], TIMESTAMP), rt.to_timestamp),
    ("millis", "millis(ts: timestamp) -> int", "Epoch milliseconds of a timestamp.", 1, 1, _typed([T], INT),
     lambda ts: ts),
    ("hour_of_day", "hour_of_day(ts: timestamp[, zone: string]) -> int", "Hour 0-23 in an IANA zone (UTC).", 1, 2,
     _check_time(INT), rt.hour_of_day),
    ("day_of_week", "day_of_week(ts: timestamp[, zone: string]) -> int", "ISO weekday, 1=Monday..7=Sunday.", 1, 2,
     _check_time(INT), rt.day_of_week),
    ("date_format", "date_format(ts: timestamp[, zone: string]) -> string",
     "ISO-8601 text with the zone's offset.", 1, 2, _check_time(STRING), rt.date_format),
]  # fmt: skip
for _unit in ("seconds", "minutes", "hours", "days"):
    _SPECS.append(
        (
            f"{_unit}_between",
            f"{_unit}_between(a: timestamp, b: timestamp) -> float",
            f"(b - a) in {_unit}, as float.",
            2,
            2,
            _typed([T, T], FLOAT),
            rt.between_units(rt.MS[_unit]),
        )
    )
    _SPECS.append((_unit, f"{_unit}(n: number) -> int", f"Milliseconds in n {_unit} (`ts + {_unit}(2)`).", 1, 1,
                   _typed([N], INT), rt.duration(_unit, rt.MS[_unit])))  # fmt: skip

FUNCTIONS: dict[str, Function] = {s[0]: Function(*s) for s in _SPECS}
