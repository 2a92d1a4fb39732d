"""Typed parameter definitions: a node (or source) is data plus a declared list of parameters.

The same definitions drive reading the YAML (with errors at the right line and column),
the JSON Schema (`kairos schema`) and the language reference.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from jobs.lang.errors import Collector, Location
from jobs.lang.loader import YList, YMap


class ParamKind(StrEnum):
    """Parameter kinds. Each maps to a YAML shape and a JSON Schema fragment."""

    EXPR = "expression"  # an expression in the kairos expression language (a string, or a number/bool literal)
    CONDITION = "condition"  # an expression that must be bool
    EXPR_MAP = "expression map"  # {name: expression, ...}, evaluated in order
    DURATION = "duration"  # '500ms', '5s', '10m', '2h', '1d'
    NAME = "name"  # an identifier
    TEXT = "text"  # free text
    INT = "integer"
    BOOL = "boolean"
    CHOICE = "choice"
    ANY = "any"  # a structure read by the node itself (lists of rules, ...)


# the short names every node module writes (P.EXPR, P.DURATION, ...)
EXPR, CONDITION, EXPR_MAP, DURATION = ParamKind.EXPR, ParamKind.CONDITION, ParamKind.EXPR_MAP, ParamKind.DURATION
NAME, TEXT, INT, BOOL, CHOICE, ANY = (ParamKind.NAME, ParamKind.TEXT, ParamKind.INT, ParamKind.BOOL,
                                      ParamKind.CHOICE, ParamKind.ANY)

_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_DURATION = re.compile(r"^\s*([0-9]+)\s*(ms|s|m|h|d)\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
# 100 years: far beyond any window, delay or TTL, and small enough that a time plus a duration stays a Java long
MAX_DURATION_MS = 36_500 * 86_400_000


@dataclass(frozen=True)
class Param:
    name: str
    kind: ParamKind
    doc: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    schema: dict | None = None  # JSON Schema override for kind ANY


@dataclass
class Value:
    """A parameter value with the place it was written."""

    value: Any
    loc: Location


def parse_duration_ms(text: object) -> int | None:
    """'5s' -> 5000; None when the text is not a duration."""
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        return None
    match = _DURATION.match(str(text))
    if not match:
        return None
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def shown(raw: Any) -> str:
    """A value in a message: short, whatever was written (a list of a million items is not repeated back)."""
    text = repr(raw)
    return text if len(text) <= 80 else f"{text[:60]}... ({type(raw).__name__} of {len(text):,} characters)"


def did_you_mean(word: str, options: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def read_params(
    data: YMap, params: list[Param], errors: Collector, *, what: str, ignore: tuple[str, ...] = ()
) -> dict[str, Value]:
    """Check `data` against `params`: unknown keys, missing required ones, value shapes. Returns name -> Value."""
    known = {p.name: p for p in params}
    out: dict[str, Value] = {}
    for key in data:
        if key not in known and key not in ignore:
            allowed = [*known, *ignore]
            errors.error(data.key_loc(key), f"unknown field '{key}' in {what}{did_you_mean(key, allowed)}")
    for param in params:
        if param.name not in data:
            if param.required:
                errors.error(data.loc, f"{what} needs '{param.name}': {param.doc}")
            elif param.default is not None:
                out[param.name] = Value(param.default, data.loc)
            continue
        raw, loc = data[param.name], data.value_loc(param.name)
        if raw is None and param.required and param.kind not in (EXPR, CONDITION):
            errors.error(loc, f"'{param.name}' in {what} is empty: {param.doc}")
            continue
        checked = _check_shape(param, raw, loc, errors, what)
        if checked is not None:
            out[param.name] = Value(checked, loc)
        elif param.default is not None:  # reported; the default lets the reader go on and find more problems
            out[param.name] = Value(param.default, loc)
    return out


def _check_shape(param: Param, raw: Any, loc: Location, errors: Collector, what: str) -> Any:
    label = f"'{param.name}' in {what}"
    if param.kind in (EXPR, CONDITION):
        if isinstance(raw, bool):
            return "true" if raw else "false"
        if isinstance(raw, (int, float)):
            return str(raw)
        if raw is None:
            return "null"
        if isinstance(raw, str):
            return raw
        errors.error(loc, f"{label} must be an expression (a string), not a {type(raw).__name__}")
        return None
    if param.kind == EXPR_MAP:
        if not isinstance(raw, YMap) or not raw:
            errors.error(loc, f"{label} must be a mapping of names to expressions")
            return None
        for key in raw:
            if not _IDENT.match(key):
                errors.error(raw.key_loc(key), f"'{key}' is not a valid name (letters, digits, _; starts with a letter)")  # noqa: E501
        return raw
    if param.kind == DURATION:
        ms = parse_duration_ms(raw)
        if ms is None:
            errors.error(loc, f"{label} must be a duration like 500ms, 5s, 10m, 2h or 1d, not {shown(raw)}")
        elif ms > MAX_DURATION_MS:
            errors.error(loc, f"{label} must be at most 36500d (100 years), not {shown(raw)}")
            return None
        return ms
    if param.kind == NAME:
        if not isinstance(raw, str) or not _IDENT.match(raw):
            errors.error(loc, f"{label} must be a name (letters, digits, _; starts with a letter), not {shown(raw)}")
            return None
        return raw
    if param.kind == TEXT:
        return None if raw is None else str(raw)
    if param.kind == INT:
        if isinstance(raw, bool) or not isinstance(raw, int):
            errors.error(loc, f"{label} must be a whole number, not {shown(raw)}")
            return None
        return raw
    if param.kind == BOOL:
        if not isinstance(raw, bool):
            errors.error(loc, f"{label} must be true or false, not {shown(raw)}")
            return None
        return raw
    if param.kind == CHOICE:
        if raw not in param.choices:
            choices = ", ".join(param.choices)
            hint = did_you_mean(str(raw), param.choices)
            errors.error(loc, f"{label} must be one of {choices}, not {shown(raw)}{hint}")
            return None
        return next(c for c in param.choices if c == raw)  # choices from a StrEnum: the member itself
    return raw


def json_schema_for(param: Param) -> dict:
    """The JSON Schema fragment of one parameter (for editors: completion, hover docs, checks)."""
    base: dict[str, Any]
    if param.kind in (EXPR, CONDITION):
        base = {"type": ["string", "number", "boolean", "null"]}
    elif param.kind == EXPR_MAP:
        base = {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]}}
    elif param.kind == DURATION:
        base = {"type": "string", "pattern": _DURATION.pattern}
    elif param.kind == NAME:
        base = {"type": "string", "pattern": _IDENT.pattern}
    elif param.kind == TEXT:
        base = {"type": ["string", "number"]}
    elif param.kind == INT:
        base = {"type": "integer"}
    elif param.kind == BOOL:
        base = {"type": "boolean"}
    elif param.kind == CHOICE:
        base = {"enum": list(param.choices)}
    else:
        base = dict(param.schema or {})
    base["description"] = param.doc
    if param.default is not None:
        base["default"] = param.default
    return base


def as_list(raw: Any) -> YList | None:
    return raw if isinstance(raw, YList) else None
