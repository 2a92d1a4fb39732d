"""Runtime helpers for operators: the only callables visible to generated code (its globals have no builtins).

Every helper takes already-evaluated arguments and returns None for a null input unless documented otherwise.
Bad data raises EvalError (ZeroDivisionError for a zero divisor) naming the operator and the value; the engine
dead-letters the event. Function implementations live in library.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .errors import EvalError

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
FLOAT_MAX = 1.7976931348623157e308  # sys.float_info.max: `-FLOAT_MAX <= x <= FLOAT_MAX` is false for inf and nan
MAX_TEXT = 1_000_000  # characters in any string an expression builds (||, concat, replace, upper, ...)


def short(v: Any) -> str:
    """A value for an error message, cut so that a hostile field cannot make the message huge."""
    text = repr(v)
    return text if len(text) <= 60 else text[:50] + f"... ({len(text)} characters)"


def overflow(v: Any, src: str) -> Any:
    """Called by generated code when a result left the 64-bit int range or is not a finite float."""
    if isinstance(v, float):
        raise EvalError(f"{src!r}: the result is not a finite float ({v})")
    raise EvalError(f"{src!r}: integer overflow (result {short(v)} is outside the signed 64-bit range)")


def checked(v: Any, src: str) -> Any:
    """`v` if it is a 64-bit int or a finite float (bools and other values pass), else EvalError."""
    if isinstance(v, float):
        if -FLOAT_MAX <= v <= FLOAT_MAX:
            return v
        return overflow(v, src)
    if isinstance(v, int) and not INT_MIN <= v <= INT_MAX:
        return overflow(v, src)
    return v


def text_limit(s: str, src: str) -> str:
    if len(s) > MAX_TEXT:
        raise EvalError(f"{src}: the result would be {len(s)} characters, more than the limit of {MAX_TEXT}")
    return s


_ORDER: dict[str, Callable[[Any, Any], bool]] = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
                                                 ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def order(a: Any, b: Any, op: str, src: str) -> bool:
    """`a op b` for an ordering comparison with an `any` operand: EvalError when the two cannot be ordered."""
    try:
        return _ORDER[op](a, b)
    except TypeError:
        raise EvalError(f"{src!r}: cannot compare {type(a).__name__} {short(a)} with {type(b).__name__} "
                        f"{short(b)}") from None


def number(v: Any, op: str) -> Any:
    """An `any`-typed operand of arithmetic: only ints and floats (never str * int or '%d' % x)."""
    if isinstance(v, int | float) and not isinstance(v, bool):
        return v
    raise EvalError(f"'{op}' needs numbers, got {type(v).__name__} {short(v)}")


def _arith(op: str) -> Callable[[Any, Any, str], Any]:
    calc: Callable[[Any, Any], Any] = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}[op]

    def fn(a: Any, b: Any, src: str) -> Any:
        if a is None or b is None:
            return None
        return checked(calc(number(a, op), number(b, op)), src)

    return fn


ARITH = {op: _arith(op) for op in "+-*"}


def neg(a: Any, src: str) -> Any:
    return None if a is None else checked(-number(a, "-"), src)


def div(a: Any, b: Any, src: str) -> Any:
    if a is None or b is None:
        return None
    if number(b, "/") == 0:
        raise ZeroDivisionError(f"division by zero in {src!r}")
    try:
        return checked(number(a, "/") / b, src)
    except OverflowError:  # int / int beyond float range
        return overflow(float("inf"), src)


def mod(a: Any, b: Any, src: str) -> Any:
    """SQL MOD: the sign of the dividend (-7 % 3 = -1), for floats too (math.fmod)."""
    if a is None or b is None:
        return None
    if number(b, "%") == 0:
        raise ZeroDivisionError(f"division by zero in {src!r}")
    if isinstance(number(a, "%"), float) or isinstance(b, float):
        return checked(math.fmod(a, b), src)
    r = abs(a) % abs(b)
    return r if a >= 0 else -r


def cat(a: Any, b: Any, src: str) -> Any:
    """`a || b` with a size limit; an `any` operand must be a string at run time."""
    if a is None or b is None:
        return None
    if not (isinstance(a, str) and isinstance(b, str)):
        bad = b if isinstance(a, str) else a
        raise EvalError(f"'||' needs strings, got {type(bad).__name__} {short(bad)} (use to_string)")
    if len(a) + len(b) > MAX_TEXT:
        raise EvalError(f"{src!r}: the result would be {len(a) + len(b)} characters, more than {MAX_TEXT}")
    return a + b


def boolean(v: Any, what: str) -> Any:
    """An `any`-typed operand of and/or/not/when: true, false or null."""
    if v is None or v is True or v is False:
        return v
    raise EvalError(f"{what} needs bool, got {type(v).__name__} {short(v)}")


def in_items(x: Any, items: tuple[Any, ...]) -> Any:
    """SQL `x in (a, b, ...)`: TRUE if equal to an item, else NULL if x or an item is null, else FALSE."""
    if x is None:
        return None
    has_null = False
    for item in items:
        if item is None:
            has_null = True
        elif item == x:
            return True
    return None if has_null else False


def in_list(x: Any, items: Any) -> Any:
    """`x in list_value`: as `x in (...)` over the list's items; a null list gives null."""
    if items is None:
        return None
    if not isinstance(items, list | tuple | set | frozenset):
        raise EvalError(f"'in' needs a list, got {type(items).__name__} {short(items)}")
    return in_items(x, tuple(items))


def not3(v: Any) -> Any:
    return None if v is None else not v


def field(value: Any, key: str) -> Any:
    """Null-safe `.key` on a value of unknown type: only dicts have fields."""
    return value.get(key) if isinstance(value, dict) else None


def index(value: Any, key: Any) -> Any:
    """`value[key]`: list position (0-based, out of range => null) or map key (missing => null)."""
    if value is None or key is None:
        return None
    if isinstance(value, dict):
        return value.get(key) if isinstance(key, str) else None
    if isinstance(value, list) and isinstance(key, int) and not isinstance(key, bool):
        return value[key] if 0 <= key < len(value) else None
    return None


def text_operand(v: Any, op: str) -> Any:
    """An `any`-typed operand where a string is needed (`like`)."""
    if v is None or isinstance(v, str):
        return v
    raise EvalError(f"'{op}' needs a string, got {type(v).__name__} {short(v)}")
