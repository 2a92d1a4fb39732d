"""Typing rules shared by operators: arithmetic result types and comparability."""

from __future__ import annotations

from ..types import ANY, FLOAT, INT, NULL, STRING, TIMESTAMP, Type, common_type
from .errors import ExprError
from .grammar import Node


def numeric(t: Type) -> bool:
    return t in (INT, FLOAT, ANY, NULL)


def arith_type(node: Node, op: str, ta: Type, tb: Type) -> Type:
    """Result type of `ta op tb` for + - * / %, or an ExprError at the operator."""
    if op in ("+", "-") and TIMESTAMP in (ta, tb):
        if op == "-" and ta == tb == TIMESTAMP:
            return INT
        other = tb if ta == TIMESTAMP else ta
        if other in (INT, ANY, NULL) and (op == "+" or ta == TIMESTAMP):
            return TIMESTAMP
        raise ExprError(f"'{op}' cannot combine {ta} and {tb} (timestamp +/- int milliseconds)", node.where)
    if not (numeric(ta) and numeric(tb)):
        hint = " (use || to concatenate)" if op == "+" and STRING in (ta, tb) else ""
        raise ExprError(f"'{op}' needs numbers, got {ta} and {tb}{hint}", node.where)
    if op == "/":
        return FLOAT
    if ANY in (ta, tb):
        return ANY
    if FLOAT in (ta, tb):
        return FLOAT
    return INT


def check_comparable(node: Node, ta: Type, tb: Type, ordered: bool, what: str) -> None:
    """Can `ta` and `tb` be compared (`ordered`: with < <= > >=)? Raise an ExprError if not."""
    if NULL in (ta, tb):
        raise ExprError(f"'{what}' with null is always null (unknown); use 'is null' or 'is not null'", node.where)
    if ANY in (ta, tb) or (numeric(ta) and numeric(tb)):
        return
    if ta == tb and ta in (STRING, TIMESTAMP):
        return
    if not ordered and common_type(ta, tb) is not None:
        return
    if ordered and common_type(ta, tb) is not None:
        raise ExprError(f"cannot order {ta} values with '{what}'", node.where)
    mixed_time = TIMESTAMP in (ta, tb) and numeric(ta) != numeric(tb)
    hint = " (use to_timestamp(...) or millis(...))" if mixed_time else ""
    raise ExprError(f"cannot compare {ta} with {tb}{hint}", node.where)
