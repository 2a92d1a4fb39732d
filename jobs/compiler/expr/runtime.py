"""Runtime helpers: the only callables visible to generated code (its globals have no builtins).

Every helper takes already-evaluated arguments, returns None for a null input unless documented otherwise,
and raises ValueError / ZeroDivisionError with a clear message on bad data (the engine dead-letters the event).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

MS = {"seconds": 1000, "minutes": 60_000, "hours": 3_600_000, "days": 86_400_000}
MAX_POWER = 64
MAX_DIGITS = 15
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ONE_MS = timedelta(milliseconds=1)


def div(a: Any, b: Any, src: str) -> Any:
    if a is None or b is None:
        return None
    if b == 0:
        raise ZeroDivisionError(f"division by zero in {src!r}")
    return a / b


def mod(a: Any, b: Any, src: str) -> Any:
    if a is None or b is None:
        return None
    if b == 0:
        raise ZeroDivisionError(f"division by zero in {src!r}")
    return a % b


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


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """A time zone by IANA name; raises ValueError for unknown names (also used at compile time)."""
    try:
        return ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, ValueError for malformed keys, ...
        raise ValueError(f"unknown time zone {name!r}") from None


def _dt(ts: int, tz: str) -> datetime:
    # Integer arithmetic (no float seconds) so milliseconds are exact.
    return (EPOCH + timedelta(milliseconds=ts)).astimezone(zone(tz))


def hour_of_day(ts: Any, tz: Any = "UTC") -> Any:
    return None if ts is None or tz is None else _dt(ts, tz).hour


def day_of_week(ts: Any, tz: Any = "UTC") -> Any:
    return None if ts is None or tz is None else _dt(ts, tz).isoweekday()


def date_format(ts: Any, tz: Any = "UTC") -> Any:
    if ts is None or tz is None:
        return None
    return _dt(ts, tz).isoformat(timespec="seconds" if ts % 1000 == 0 else "milliseconds")


def to_timestamp(value: Any) -> Any:
    """ISO-8601 text (naive => UTC) or epoch milliseconds => epoch milliseconds."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"cannot convert {value!r} to timestamp")
    if isinstance(value, int | float):
        return int(value)
    try:
        text = str(value).strip()
        # Python 3.10's fromisoformat does not accept a 'Z' suffix.
        dt = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text)
    except ValueError:
        raise ValueError(f"invalid timestamp {value!r} (expected ISO-8601 like '2024-01-01T10:00:00Z')") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return (dt - EPOCH) // ONE_MS


def between_units(unit: int) -> Callable[[Any, Any], Any]:
    def fn(a: Any, b: Any) -> Any:
        return None if a is None or b is None else (b - a) / unit

    return fn


def duration(unit: int) -> Callable[[Any], Any]:
    def fn(n: Any) -> Any:
        return None if n is None else int(round(n * unit))

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
    """SQL-style: `start` is 1-based; a start below 1 counts from 1."""
    begin = max(start, 1) - 1
    if length is None:
        return s[begin:]
    return s[begin : begin + max(length, 0)]


def contains(container: Any, item: Any) -> Any:
    if container is None or item is None:
        return None if container is None else False
    if isinstance(container, str):
        return str(item) in container
    return item in container


def round_(x: Any, digits: Any = 0) -> Any:
    if x is None or digits is None:
        return None
    if abs(digits) > MAX_DIGITS:
        raise ValueError(f"round: digits must be between -{MAX_DIGITS} and {MAX_DIGITS}, got {digits}")
    # Half away from zero like SQL, computed in decimal so 2.675 rounds to 2.68.
    q = Decimal(repr(x)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return int(q) if isinstance(x, int) else float(q)


def power(x: Any, y: Any) -> Any:
    if x is None or y is None:
        return None
    if abs(y) > MAX_POWER:
        raise ValueError(f"power: exponent must be between -{MAX_POWER} and {MAX_POWER}, got {y}")
    return math.pow(x, y)


def to_int(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, str):
        try:
            text = v.strip()
            return int(text) if text.lstrip("+-").isdigit() else int(float(text))
        except (ValueError, OverflowError):
            raise ValueError(f"cannot convert {v[:50]!r} to int") from None
    return int(v)


def to_float(v: Any) -> Any:
    if v is None:
        return None
    try:
        return float(v)
    except ValueError:
        raise ValueError(f"cannot convert {str(v)[:50]!r} to float") from None


def to_string(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def concat(*args: Any) -> str:
    """Unlike `||`, concat() skips nulls (as in PostgreSQL)."""
    return "".join(to_string(a) for a in args if a is not None)


def extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    """least/greatest ignore nulls; all-null gives null."""

    def fn(*args: Any) -> Any:
        vals = [a for a in args if a is not None]
        return pick(vals) if vals else None

    return fn


def size(v: Any) -> Any:
    return None if v is None else len(v)


def floor_(x: Any) -> Any:
    return None if x is None else math.floor(x)


def ceil_(x: Any) -> Any:
    return None if x is None else math.ceil(x)
