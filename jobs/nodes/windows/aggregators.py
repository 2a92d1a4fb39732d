"""Built-in aggregators of the `aggregate` node (`aggregations: {n: 'count()', spent: 'sum(amount)'}`).

Each aggregator is four pure functions over a small accumulator (plain data, kept in Flink state):
create, add(acc, value, ts), merge(a, b) and result(acc). `first`/`last`/`list` order by event time,
not arrival, so results do not depend on how the events were shuffled on the way.
Nulls are skipped by every aggregator except `count()` without an argument, which counts events.
No aggregator raises on a value that passed decode: sums saturate (see `_add`), min/max order mixed types.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jobs.lang.types import FLOAT, INT, ListType, Type


@dataclass(frozen=True)
class Aggregator:
    name: str
    doc: str
    create: Callable[[], Any]
    add: Callable[[Any, Any, int], Any]
    merge: Callable[[Any, Any], Any]
    result: Callable[[Any], Any]
    result_type: Callable[[Type | None], Type]
    needs_arg: bool = True


def _none_safe(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    return lambda a, b: b if a is None else a if b is None else op(a, b)


def _earlier(a, b):
    return b if a is None else a if b is None or a[0] <= b[0] else b


def _later(a, b):
    return b if a is None else a if b is None or a[0] > b[0] else b


FLOAT_MAX = sys.float_info.max
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def _add(a, b):
    """A sum that stays in range: it saturates at the largest float / 64-bit integer instead of becoming
    Infinity (which made `round(spent)` fail for every later event of the window) or a 65-bit integer.
    A saturated sum still compares right against any threshold; values that are not numbers are skipped."""
    if not _number(b):
        return a
    if not _number(a):
        return b
    total = a + b
    if isinstance(total, float):  # both finite, so only an overflow gives an infinity
        return total if total - total == 0.0 else FLOAT_MAX if total > 0 else -FLOAT_MAX
    return INT_MAX if total > INT_MAX else INT_MIN if total < INT_MIN else total


def _number(v) -> bool:
    """A finite number (NaN and the infinities are skipped like nulls: decode never lets them in)."""
    return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v - v == 0.0)


def _order(v):
    """Sort key for min/max: values of one type by value, mixed types (possible with `any`) by type."""
    return (0, v) if _number(v) else (1, v) if isinstance(v, str) else (2, repr(v))


def _pick(smaller: bool):
    """min / max of two values: the same choice as the builtins, and an order across types instead of
    a TypeError when an `any` argument mixes them."""
    def pick(a, b):
        try:
            return b if (b < a if smaller else b > a) else a
        except TypeError:
            return b if (_order(b) < _order(a) if smaller else _order(b) > _order(a)) else a
    return _none_safe(pick)


def _hashable(v):
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((str(k), _hashable(x)) for k, x in v.items()))
    return v


def _avg_add(acc, v):
    return (_add(acc[0], v), acc[1] + 1) if _number(v) else acc


_sum = _none_safe(_add)
_min = _pick(True)
_max = _pick(False)

AGGREGATORS: dict[str, Aggregator] = {
    a.name: a
    for a in (
        Aggregator("count", "Number of events (count()) or of non-null values (count(x)).",
                   lambda: 0, lambda acc, v, ts: acc + 1, lambda a, b: a + b, lambda acc: acc,
                   lambda t: INT, needs_arg=False),
        Aggregator("sum", "Sum of the values.", lambda: None, lambda acc, v, ts: _sum(acc, v), _sum,
                   lambda acc: acc, lambda t: t or FLOAT),
        Aggregator("min", "Smallest value.", lambda: None, lambda acc, v, ts: _min(acc, v), _min,
                   lambda acc: acc, lambda t: t or FLOAT),
        Aggregator("max", "Largest value.", lambda: None, lambda acc, v, ts: _max(acc, v), _max,
                   lambda acc: acc, lambda t: t or FLOAT),
        Aggregator("avg", "Average of the values (float).", lambda: (0, 0),
                   lambda acc, v, ts: _avg_add(acc, v), lambda a, b: (_add(a[0], b[0]), a[1] + b[1]),
                   lambda acc: acc[0] / acc[1] if acc[1] else None, lambda t: FLOAT),
        Aggregator("first", "The value of the earliest event (by event time).", lambda: None,
                   lambda acc, v, ts: _earlier(acc, (ts, v)), _earlier,
                   lambda acc: None if acc is None else acc[1], lambda t: t or FLOAT),
        Aggregator("last", "The value of the latest event (by event time).", lambda: None,
                   lambda acc, v, ts: _later(acc, (ts, v)), _later,
                   lambda acc: None if acc is None else acc[1], lambda t: t or FLOAT),
        Aggregator("count_distinct", "Number of different values.", frozenset,
                   lambda acc, v, ts: acc | {_hashable(v)}, lambda a, b: a | b, len, lambda t: INT),
        Aggregator("list", "All values, in event-time order.", tuple,
                   lambda acc, v, ts: (*acc, (ts, v)), lambda a, b: (*a, *b),
                   lambda acc: [v for _, v in sorted(acc, key=lambda item: item[0])],
                   lambda t: ListType(t or FLOAT)),
    )
}
