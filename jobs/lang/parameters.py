"""Live parameters (`parameters:` in a scenario): named, typed values expressions read as `param.NAME`.

    parameters:
      min_amount: {type: float, default: 500, min: 0, max: 100000, description: Smallest suspicious amount}
      channel:    {type: string, default: sms, allowed: [sms, email]}
      enabled:    {type: bool, default: true}

Declared here (read with line:col errors), typed here (`param` is a record of the declared types in every
node's environment, so `param.min_amount` is checked like any field and an unknown name is a line:col error),
and validated here: a value sent while the job runs (`kairos param set`) is checked by `check_value` against
the declared type, range and allowed values (docs/decisions/0023-live-parameters.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from jobs.lang import params as P
from jobs.lang.errors import Collector, Location
from jobs.lang.loader import YList, YMap
from jobs.lang.types import BOOL, FLOAT, INT, STRING, RecordType, Type

PARAM = "param"  # the name expressions read parameters under: param.min_amount
MAX_TEXT = 1_000  # a string parameter's longest value: a label, a channel, a template name


class ParamType(StrEnum):
    FLOAT = "float"
    INT = "int"
    STRING = "string"
    BOOL = "bool"


TYPES: dict[ParamType, Type] = {ParamType.FLOAT: FLOAT, ParamType.INT: INT, ParamType.STRING: STRING,
                                ParamType.BOOL: BOOL}

DECLARATION_PARAMS = [
    P.Param("type", P.CHOICE, "The value's type: float, int, string or bool.", True, choices=tuple(ParamType)),
    P.Param("default", P.ANY, "The value until a change is sent (and in file runs, tests and the sandbox).", True,
            schema={"type": ["number", "string", "boolean"]}),
    P.Param("min", P.ANY, "float / int: the smallest value accepted.", schema={"type": "number"}),
    P.Param("max", P.ANY, "float / int: the largest value accepted.", schema={"type": "number"}),
    P.Param("allowed", P.ANY, "The only values accepted (a list of values of the type).",
            schema={"type": "array", "items": {"type": ["number", "string", "boolean"]}}),
    P.Param("description", P.TEXT, "What the parameter controls, for people (shown by `kairos param list`)."),
]


@dataclass(frozen=True)
class Parameter:
    name: str
    type: ParamType
    default: Any
    min: float | None = None
    max: float | None = None
    allowed: tuple | None = None
    description: str = ""
    loc: Location | None = None

    def describe(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "type": str(self.type), "default": self.default}
        for key in ("min", "max"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.allowed is not None:
            out["allowed"] = list(self.allowed)
        if self.description:
            out["description"] = self.description
        return out


def _typed(kind: ParamType, value: Any) -> tuple[Any, str]:
    """(the value as the type holds it, "") or (None, why it is not of the type)."""
    if kind == ParamType.BOOL:
        return (value, "") if isinstance(value, bool) else (None, f"must be true or false, not {P.shown(value)}")
    if kind == ParamType.STRING:
        if not isinstance(value, str):
            return None, f"must be text, not {P.shown(value)}"
        return (value, "") if len(value) <= MAX_TEXT else (None, f"is longer than {MAX_TEXT} characters")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, f"must be a number ({kind}), not {P.shown(value)}"
    if kind == ParamType.INT:
        if not isinstance(value, int):
            return None, f"must be a whole number (int), not {P.shown(value)}"
        return (value, "") if -(2**63) <= value < 2**63 else (None, "is outside the signed 64-bit range")
    if not math.isfinite(value):
        return None, f"must be a finite number, not {value}"
    return float(value), ""


def check_value(param: Parameter, value: Any) -> tuple[Any, str]:
    """(accepted value, "") or (None, the reason): the declared type, then min/max, then allowed values."""
    typed, error = _typed(param.type, value)
    if error:
        return None, f"parameter '{param.name}' ({param.type}) {error}"
    if param.min is not None and typed < param.min:
        return None, f"parameter '{param.name}' must be at least {param.min}, not {P.shown(value)}"
    if param.max is not None and typed > param.max:
        return None, f"parameter '{param.name}' must be at most {param.max}, not {P.shown(value)}"
    if param.allowed is not None and typed not in param.allowed:
        shown = ", ".join(repr(a) for a in param.allowed)
        return None, f"parameter '{param.name}' must be one of {shown}, not {P.shown(value)}"
    return typed, ""


def parse_text(param: Parameter, text: str) -> Any:
    """A value typed on the command line (`kairos param set S NAME 750`) as the declared type would hold it;
    text that is not of the type is kept as text, so check_value says why."""
    if param.type == ParamType.BOOL:
        return {"true": True, "false": False}.get(text.strip().lower(), text)
    if param.type in (ParamType.INT, ParamType.FLOAT):
        for convert in (int, float):
            try:
                return convert(text)
            except ValueError:
                continue
    return text


def _read_one(name: str, data: YMap, errors: Collector) -> Parameter | None:
    what = f"parameter '{name}'"
    v = P.read_params(data, DECLARATION_PARAMS, errors, what=what)
    if "type" not in v or "default" not in v:
        return None
    kind = ParamType(v["type"].value)
    bounds: dict[str, float | None] = {"min": None, "max": None}
    ok = True
    for key in bounds:
        if key not in v:
            continue
        if kind not in (ParamType.INT, ParamType.FLOAT):
            errors.error(v[key].loc, f"{what}: '{key}' is only for float and int parameters")
            ok = False
            continue
        bound, error = _typed(kind, v[key].value)
        if error:
            errors.error(v[key].loc, f"{what}: '{key}' {error}")
            ok = False
        bounds[key] = bound
    if bounds["min"] is not None and bounds["max"] is not None and bounds["min"] > bounds["max"]:
        errors.error(v["max"].loc, f"{what}: max {bounds['max']} is below min {bounds['min']}")
        ok = False
    allowed = None
    if "allowed" in v:
        raw = v["allowed"].value
        if not isinstance(raw, YList) or not raw:
            errors.error(v["allowed"].loc, f"{what}: 'allowed' must be a non-empty list of values")
            ok = False
        else:
            items = []
            for i, item in enumerate(raw):
                typed, error = _typed(kind, item)
                if error:
                    errors.error(raw.item_loc(i), f"{what}: allowed value {error}")
                    ok = False
                items.append(typed)
            allowed = tuple(items)
    if not ok:
        return None
    param = Parameter(name, kind, None, bounds["min"], bounds["max"], allowed,
                      v["description"].value if "description" in v else "", data.loc)
    default, error = check_value(param, v["default"].value)
    if error:
        errors.error(v["default"].loc, f"the default of {error}")
        return None
    return Parameter(name, kind, default, param.min, param.max, allowed, param.description, data.loc)


def read_parameters(raw: object, loc: Location, errors: Collector) -> dict[str, Parameter]:
    """The `parameters:` section: name -> Parameter; every problem reported at its line:col."""
    if not isinstance(raw, YMap) or not raw:
        errors.error(loc, "'parameters' must be a mapping of names to declarations "
                          "({type: float|int|string|bool, default: ...})")
        return {}
    out: dict[str, Parameter] = {}
    for name, data in raw.items():
        if not P._IDENT.match(name):
            errors.error(raw.key_loc(name), f"'{name}' is not a valid parameter name (letters, digits, _; "
                                            "starts with a letter)")
        elif not isinstance(data, YMap):
            errors.error(raw.value_loc(name), f"parameter '{name}' must be a mapping with 'type' and 'default'")
        elif (param := _read_one(name, data, errors)) is not None:
            out[name] = param
    return out


def param_type(parameters: dict[str, Parameter]) -> RecordType:
    """The type of `param` in expressions: a record with one field per parameter."""
    return RecordType({name: TYPES[p.type] for name, p in parameters.items()})


def defaults(parameters: dict[str, Parameter]) -> dict[str, Any]:
    return {name: p.default for name, p in parameters.items()}
