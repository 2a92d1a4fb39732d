"""What every window strategy shares: the aggregations (accumulate, merge, results), the record a closed
window emits, and the state it declares. Windows live in Flink keyed state: one ValueState per key holding
every window of the key (a single state read and write per event instead of one per window: each is a Java
round trip in PyFlink)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from jobs.lang.expr import CompiledExpr
from jobs.nodes.base import DEFAULT_PORT, Ctx, NodeRuntime, Runtime, StateKind, StateSpec
from jobs.nodes.windows.aggregators import AGGREGATORS

# order: event_time: a safety net (Flink TTL is processing time) for events waiting on a watermark that never comes
# (a source gone idle for good); an event normally waits out-of-orderness plus the watermark interval
WAITING_TTL_MS = 86_400_000


class Window(StrEnum):
    TUMBLING = "tumbling"  # fixed, back to back
    SLIDING = "sliding"  # the last `size` before each event
    SESSION = "session"  # events closer than `gap`


class Emit(StrEnum):
    ON_EVENT = "on_event"  # every event carries its window's aggregates
    ON_CLOSE = "on_close"  # one new event per window when the watermark closes it


@dataclass
class WindowRuntime(NodeRuntime):
    """The aggregate node's runtime; one subclass per window kind (the strategy)."""

    window: Window
    size_ms: int  # size, or the gap of a session
    emit: Emit
    key_name: str | None  # when grouping by a plain field, closed windows carry it under its own name
    aggregations: list[tuple[str, str, CompiledExpr | None]]  # (output name, aggregator, argument)
    event_time: bool = False  # order: event_time (sliding windows only)

    # -- accumulate ---------------------------------------------------------------------------------
    def _add(self, accs: tuple | None, ctx: Ctx, ts: int) -> tuple:
        accs = accs or tuple(AGGREGATORS[agg].create() for _, agg, _ in self.aggregations)
        out = []
        for acc, (_, agg, arg) in zip(accs, self.aggregations, strict=True):
            value = arg.fn(ctx) if arg is not None else 1
            out.append(acc if value is None else AGGREGATORS[agg].add(acc, value, ts))
        return tuple(out)

    def _merge(self, a: tuple, b: tuple) -> tuple:
        return tuple(AGGREGATORS[agg].merge(x, y) for x, y, (_, agg, _) in zip(a, b, self.aggregations, strict=True))

    def _results(self, accs: tuple) -> dict:
        pairs = zip(accs, self.aggregations, strict=True)
        return {name: AGGREGATORS[agg].result(acc) for acc, (name, agg, _) in pairs}

    # -- emit ---------------------------------------------------------------------------------------
    def _with_results(self, ctx: Ctx, accs: tuple):
        """emit: on_event: the event goes on with its window's aggregates."""
        return (DEFAULT_PORT, {**ctx, **self._results(accs)})

    def _closed(self, key: str, start: int, end: int, key_value, accs: tuple):
        """emit: on_close: one new event for a closed window, at its last millisecond."""
        out = {"_key": key, "_id": f"{key}@{start}", "_ts": end - 1, "_fields": (),
               "key": key, "window_start": start, "window_end": end, **self._results(accs)}
        if self.key_name:
            out[self.key_name] = key_value
        return DEFAULT_PORT, out

    def state_specs(self) -> list[StateSpec]:
        waiting = [StateSpec(self.id, "waiting", StateKind.MAP, WAITING_TTL_MS)] if self.event_time else []
        return [StateSpec(self.id, "windows", StateKind.VALUE), *waiting]


@dataclass
class ClosingWindowRuntime(WindowRuntime):
    """Windows with an end (tumbling, session): state {start: (key value, end, accumulators)}, each closed by
    an event-time timer at its last millisecond. A strategy only says which window an event falls in."""

    def _assign(self, windows: dict, ctx: Ctx, ts: int) -> tuple[int, int, tuple]:
        """(start, end, accumulators) of the window the event is added to; may merge and drop windows."""
        raise NotImplementedError

    def process(self, ctx: Ctx, ts: int, rt: Runtime):
        state = rt.value_state(self.id, "windows")
        windows = state.value() or {}
        key_value = ctx.get(self.key_name) if self.key_name else rt.current_key()
        start, end, accs = self._assign(windows, ctx, ts)
        windows[start] = (key_value, end, accs)
        state.update(windows)
        rt.register_timer(end - 1)
        if self.emit == Emit.ON_EVENT:
            return (self._with_results(ctx, accs),)
        return ()

    def on_timer(self, ts: int, rt: Runtime):
        state = rt.value_state(self.id, "windows")
        windows = state.value()
        if not windows:
            return
        due = sorted(start for start, (_, end, _) in windows.items() if end - 1 <= ts)
        if not due:
            return
        closed = [(start, windows.pop(start)) for start in due]
        state.update(windows) if windows else state.clear()
        if self.emit != Emit.ON_CLOSE:
            return
        key = rt.current_key()
        for start, (key_value, end, accs) in closed:
            yield self._closed(key, start, end, key_value, accs)
