"""Implementations of the built-in functions (functions.py registers them with their signatures).

Each one works on its whole documented domain or raises EvalError naming the function and the value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from .errors import EvalError
from .runtime import FLOAT_MAX, INT_MAX, INT_MIN, MAX_TEXT, short

MS = {"seconds": 1000, "minutes": 60_000, "hours": 3_600_000, "days": 86_400_000}
MAX_POWER = 64
MAX_DIGITS = 15
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ONE_MS = timedelta(milliseconds=1)
# Enough digits for any finite float at any allowed `digits` (309 + 15): the default 28 made round(1e28) fail.
_DECIMAL = Context(prec=400)


def int64(v: int, fname: str, arg: Any) -> int:
    if INT_MIN <= v <= INT_MAX:
        return v
    raise EvalError(f"{fname}({short(arg)}): the result is outside the signed 64-bit int range")


def finite(v: float, fname: str, arg: Any) -> float:
    if -FLOAT_MAX <= v <= FLOAT_MAX:
        return v
    raise EvalError(f"{fname}({short(arg)}): the result is not a finite float")


def text(s: str, fname: str) -> str:
    if len(s) > MAX_TEXT:
        raise EvalError(f"{fname}: the result would be {len(s)} characters, more than the limit of {MAX_TEXT}")
    return s


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """A time zone by IANA name; raises EvalError for unknown names (also used at compile time)."""
    try:
        return ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, ValueError for malformed keys, ...
        raise EvalError(f"unknown time zone {short(name)}") from None


def _dt(fname: str, ts: int, tz: str) -> datetime:
    where = zone(tz)
    try:  # integer arithmetic (no float seconds) so milliseconds are exact
        return (EPOCH + timedelta(milliseconds=ts)).astimezone(where)
    except (OverflowError, ValueError):
        raise EvalError(f"{fname}: timestamp {ts} is outside the years 1-9999") from None


def hour_of_day(ts: Any, tz: Any = "UTC") -> Any:
    return None if ts is None or tz is None else _dt("hour_of_day", ts, tz).hour


def day_of_week(ts: Any, tz: Any = "UTC") -> Any:
    return None if ts is None or tz is None else _dt("day_of_week", ts, tz).isoweekday()


def date_format(ts: Any, tz: Any = "UTC") -> Any:
    if ts is None or tz is None:
        return None
    return _dt("date_format", ts, tz).isoformat(timespec="seconds" if ts % 1000 == 0 else "milliseconds")


def to_timestamp(value: Any) -> Any:
    """ISO-8601 text (naive => UTC) or epoch milliseconds => epoch milliseconds."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise EvalError(f"to_timestamp: cannot convert {value!r} to timestamp")
    if isinstance(value, int | float):
        return int64(int(finite(value, "to_timestamp", value)), "to_timestamp", value)
    try:
        s = str(value).strip()
        # Python 3.10's fromisoformat does not accept a 'Z' suffix.
        dt = datetime.fromisoformat(s[:-1] + "+00:00" if s[-1:] in ("Z", "z") else s)
    except ValueError:
        raise EvalError(f"invalid timestamp {short(value)} (expected ISO-8601 like '2024-01-01T10:00:00Z')") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return (dt - EPOCH) // ONE_MS


def between_units(unit: int) -> Callable[[Any, Any], Any]:
    def fn(a: Any, b: Any) -> Any:
        return None if a is None or b is None else (b - a) / unit

    return fn


def duration(fname: str, unit: int) -> Callable[[Any], Any]:
    def fn(n: Any) -> Any:
        if n is None:
            return None
        v = n * unit
        return int64(int(round(finite(v, fname, n))) if isinstance(v, float) else v, fname, n)

    return fn


def strict(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap `fn` so that any null argument gives null."""

    def wrapper(*args: Any) -> Any:
        for a in args:
            if a is None:
                return None
        return fn(*args)

    wrapper.__name__ = fn.__name__
    return wrapper


def substr(s: str, start: int, length: Any = None) -> str:
    """SQL standard: characters at 1-based positions start .. start+length-1 that exist; length < 0 gives ''."""
    begin = max(start, 1) - 1
    if length is None:
        return s[begin:]
    stop = start - 1 + length  # the window, before clipping to the string
    return s[begin:stop] if stop > begin else ""


def trim(s: str) -> str:
    """SQL TRIM: spaces only (tabs and newlines stay, as in SQL)."""
    return s.strip(" ")


def lower(s: str) -> str:
    return text(s.lower(), "lower")


def upper(s: str) -> str:  # Unicode full case mapping, as Java/Flink SQL UPPER: 'straße' -> 'STRASSE'
    return text(s.upper(), "upper")


def replace(s: str, old: str, new: str) -> str:
    """Every occurrence; an empty `old` leaves `s` unchanged (as in SQL). The size is checked before building."""
    if not old:
        return s
    size = len(s) + s.count(old) * (len(new) - len(old))
    if size > MAX_TEXT:
        raise EvalError(f"replace: the result would be {size} characters, more than the limit of {MAX_TEXT}")
    return s.replace(old, new)


def contains(container: Any, item: Any) -> Any:
    if container is None or item is None:
        return None
    if isinstance(container, str):
        return str(item) in container
    return item in container


def abs_(x: Any) -> Any:
    if x is None:
        return None
    return int64(abs(x), "abs", x) if isinstance(x, int) else abs(x)


def round_(x: Any, digits: Any = 0) -> Any:
    """Half away from zero like SQL, on the shortest decimal text of a float (so 2.675 rounds to 2.68)."""
    if x is None or digits is None:
        return None
    if not -MAX_DIGITS <= digits <= MAX_DIGITS:
        raise EvalError(f"round: digits must be between -{MAX_DIGITS} and {MAX_DIGITS}, got {digits}")
    if isinstance(x, int):
        if digits >= 0:
            return x
        unit = 10**-digits
        r = (abs(x) + unit // 2) // unit * unit
        return int64(r if x >= 0 else -r, "round", x)
    if digits >= 0 and abs(x) >= 2**52:  # such floats have no fractional part
        return x
    q = Decimal(repr(x)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP, context=_DECIMAL)
    return finite(float(q), "round", x) + 0.0  # + 0.0: round(-0.4) is 0.0, not -0.0


def power(x: Any, y: Any) -> Any:
    if x is None or y is None:
        return None
    if not -MAX_POWER <= y <= MAX_POWER:
        raise EvalError(f"power: exponent must be between -{MAX_POWER} and {MAX_POWER}, got {y}")
    if x == 0 and y < 0:
        raise EvalError(f"power({x}, {y}): zero to a negative power")
    if x < 0 and y != int(y):
        raise EvalError(f"power({x}, {y}): a negative number to a fractional power is not a real number")
    try:
        return finite(math.pow(x, y), "power", x)
    except OverflowError:
        raise EvalError(f"power({short(x)}, {y}): the result is not a finite float") from None


def to_int(v: Any) -> Any:
    """Strings: integer text, or a number in float notation (truncated); floats truncate."""
    if v is None:
        return None
    if isinstance(v, str):
        s = v.strip()
        try:
            value = int(s) if s.lstrip("+-").isdigit() and len(s) < 30 else int(float(s))
        except (ValueError, OverflowError):
            raise EvalError(f"cannot convert {short(v)} to int") from None
        return int64(value, "to_int", v)
    if isinstance(v, float):
        return int64(int(finite(v, "to_int", v)), "to_int", v)
    return int64(int(v), "to_int", v)


def to_float(v: Any) -> Any:
    if v is None:
        return None
    try:
        return finite(float(v), "to_float", v)
    except (ValueError, OverflowError):
        raise EvalError(f"cannot convert {short(v)} to float") from None


def to_string(v: Any) -> Any:
    """bool -> true/false; float -> shortest text that reads back the same ('0.1', '1e+20'; -0.0 -> '0.0')."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v + 0.0)
    return str(v)


def concat(*args: Any) -> str:
    """Unlike `||`, concat() skips nulls (as in PostgreSQL)."""
    return text("".join(to_string(a) for a in args if a is not None), "concat")


def extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    """least/greatest ignore nulls; all-null gives null."""

    def fn(*args: Any) -> Any:
        vals = [a for a in args if a is not None]
        return pick(vals) if vals else None

    return fn


def size(v: Any) -> Any:
    return None if v is None else len(v)


def floor_(x: Any) -> Any:
    return None if x is None else int64(math.floor(finite(x, "floor", x)), "floor", x)


def ceil_(x: Any) -> Any:
    return None if x is None else int64(math.ceil(finite(x, "ceil", x)), "ceil", x)
