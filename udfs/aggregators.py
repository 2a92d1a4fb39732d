"""Built-in aggregators for the `aggregate` node.

Each aggregator is four pure functions over a small accumulator (plain data, kept in Flink state):
create, add(acc, value, ts), merge(a, b) and result(acc). `first`/`last`/`list` order by event time,
not arrival, so results do not depend on how the events were shuffled on the way.
Nulls are skipped by every aggregator except `count()` without an argument, which counts events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jobs.compiler.types import FLOAT, INT, ListType, Type


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


_sum = _none_safe(lambda a, b: a + b)
_min = _none_safe(min)
_max = _none_safe(max)

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
                   lambda acc, v, ts: (acc[0] + v, acc[1] + 1), lambda a, b: (a[0] + b[0], a[1] + b[1]),
                   lambda acc: acc[0] / acc[1] if acc[1] else None, lambda t: FLOAT),
        Aggregator("first", "The value of the earliest event (by event time).", lambda: None,
                   lambda acc, v, ts: _earlier(acc, (ts, v)), _earlier,
                   lambda acc: None if acc is None else acc[1], lambda t: t or FLOAT),
        Aggregator("last", "The value of the latest event (by event time).", lambda: None,
                   lambda acc, v, ts: _later(acc, (ts, v)), _later,
                   lambda acc: None if acc is None else acc[1], lambda t: t or FLOAT),
        Aggregator("count_distinct", "Number of different values.", frozenset,
                   lambda acc, v, ts: acc | {v}, lambda a, b: a | b, len, lambda t: INT),
        Aggregator("list", "All values, in event-time order.", tuple,
                   lambda acc, v, ts: (*acc, (ts, v)), lambda a, b: (*a, *b),
                   lambda acc: [v for _, v in sorted(acc, key=lambda item: item[0])],
                   lambda t: ListType(t or FLOAT)),
    )
}
