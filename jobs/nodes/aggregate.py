"""aggregate: event-time windows per key (tumbling, sliding, session) with count/sum/min/max/avg/... .

* `emit: on_event` (default): each event continues with the aggregates of its window added as variables
  (for sliding windows the window is the last `size` before the event, like Nussknacker's sliding aggregate).
  `order: arrival` (default) counts the events already processed; `order: event_time` holds each event in
  keyed state until the watermark passes its time, then releases it (time order, ties in arrival order) with
  the complete window (t - size, t], like Flink SQL's OVER ... RANGE BETWEEN size PRECEDING AND CURRENT ROW.
* `emit: on_close`: when the watermark passes the window's end, one new event leaves with `key`,
  `window_start`, `window_end` and the aggregates (tumbling and session windows).
Windows live in Flink keyed state (one ValueState per key) and are closed and cleaned up by event-time
timers (sliding windows: one pending eviction timer per key, not one per event). Events older than the
watermark are late: they go to the dead-letter output, counted, never silently dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from jobs.lang import params as P
from jobs.lang.expr import CompiledExpr
from jobs.lang.params import Value
from jobs.lang.types import ANY, STRING, TIMESTAMP, is_numeric
from jobs.nodes.base import (
    DEFAULT_PORT,
    CompileContext,
    Compiled,
    Ctx,
    Env,
    Family,
    NodeRuntime,
    Runtime,
    StateKind,
    StateSpec,
    names,
)
from udfs.aggregators import AGGREGATORS


class Window(StrEnum):
    TUMBLING = "tumbling"  # fixed, back to back
    SLIDING = "sliding"  # the last `size` before each event
    SESSION = "session"  # events closer than `gap`


class Emit(StrEnum):
    ON_EVENT = "on_event"  # every event carries its window's aggregates
    ON_CLOSE = "on_close"  # one new event per window when the watermark closes it


class Order(StrEnum):
    ARRIVAL = "arrival"  # sliding: the events processed so far
    EVENT_TIME = "event_time"  # sliding: wait for the watermark, see every on-time event of the window


TYPE = "aggregate"
DOC = ("Aggregates events per key in event-time windows: `window: tumbling|sliding|session`, `size` (or `gap` for "
       "session), `aggregations: {name: 'sum(amount)', n: 'count()'}`, `emit: on_event|on_close`, "
       "`order: arrival|event_time` (sliding).")
PARAMS = [
    P.Param("key", P.EXPR, "Group by this expression (default: the event's key, e.g. customer id)."),
    P.Param("window", P.CHOICE, "tumbling: fixed, back to back; sliding: the last `size` before each event; "
            "session: events closer than `gap`.", True, choices=tuple(Window)),
    P.Param("size", P.DURATION, "Window length (tumbling, sliding)."),
    P.Param("gap", P.DURATION, "Inactivity that ends a session (session)."),
    P.Param("aggregations", P.EXPR_MAP, "{name: 'aggregator(expression)'}; aggregators: "
            + ", ".join(AGGREGATORS) + ".", True),
    P.Param("emit", P.CHOICE, "on_event: every event carries its window's aggregates; on_close: one result per "
            "window when it closes.", default=Emit.ON_EVENT, choices=tuple(Emit)),
    P.Param("order", P.CHOICE, "Sliding windows: arrival (the events processed so far) or event_time (the event "
            "waits for the watermark and sees every on-time event of its window).", default=Order.ARRIVAL,
            choices=tuple(Order)),
]
PORTS = (DEFAULT_PORT,)
MULTI_INPUT = False
FAMILY = Family.AGGREGATE
SLIDE_CLEANUP = 3  # a quiet key's sliding-window state is dropped this many window lengths after its last event
# order: event_time: a safety net (Flink TTL is processing time) for events waiting on a watermark that never comes
# (a source gone idle for good); an event normally waits out-of-orderness plus the watermark interval
WAITING_TTL_MS = 86_400_000
_CALL = re.compile(r"^\s*([A-Za-z_]+)\s*\((.*)\)\s*$", re.DOTALL)


@dataclass
class AggregateRuntime(NodeRuntime):
    window: Window
    size_ms: int
    emit: Emit
    key_name: str | None  # when grouping by a plain field, closed windows carry it under its own name
    aggregations: list[tuple[str, str, CompiledExpr | None]]  # (output name, aggregator, argument)
    event_time: bool = False  # order: event_time (sliding windows only)

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

    def process(self, ctx: Ctx, ts: int, rt: Runtime):
        # one ValueState holding {window start: ...} per key: a single state read and write per event,
        # instead of a state call per window (each is a Java round trip in PyFlink)
        state = rt.value_state(self.id, "windows")
        if self.window == Window.SLIDING:
            return self._slide(state, ctx, ts, rt)
        windows = state.value() or {}
        key_value = ctx.get(self.key_name) if self.key_name else rt.current_key()
        if self.window == Window.TUMBLING:
            start = ts - ts % self.size_ms
            end, accs = start + self.size_ms, self._add((windows.get(start) or (None, None, None))[2], ctx, ts)
        else:  # session: merge every session the new event touches
            start, end, accs = ts, ts + self.size_ms, self._add(None, ctx, ts)
            for other, (_, other_end, other_accs) in sorted(windows.items()):
                if other < end and other_end > start:
                    start, end = min(start, other), max(end, other_end)
                    accs = self._merge(accs, other_accs)
                    del windows[other]
        windows[start] = (key_value, end, accs)
        state.update(windows)
        rt.register_timer(end - 1)
        if self.emit == Emit.ON_EVENT:
            return ((DEFAULT_PORT, {**ctx, **self._results(accs)}),)
        return ()

    def _slide(self, state, ctx: Ctx, ts: int, rt: Runtime):
        # (pending cleanup timer, {bucket time: accumulators}); no key per bucket: nothing ever closes.
        # Buckets are evicted here, lazily, once the watermark has passed their end (no later on-time event
        # can reach them). The timer only bounds the state of a key that goes quiet, so there is one pending
        # per key, set SLIDE_CLEANUP windows ahead: fraud example, 300k events, one timer per event before.
        pending, buckets = state.value() or (None, {})
        # order: event_time evicts in its release timers only: a file run's stamp may be ahead of the timers
        # (docs/time.md), and a bucket a held event still needs must stay until that event leaves
        if not self.event_time:
            watermark = rt.watermark(ctx)
            for bucket_ts in [t for t in buckets if t + self.size_ms <= watermark]:
                del buckets[bucket_ts]
        buckets[ts] = self._add(buckets.get(ts), ctx, ts)
        if pending is None:
            pending = ts + SLIDE_CLEANUP * self.size_ms
            rt.register_timer(pending)
        state.update((pending, buckets))
        if self.event_time:
            # the event is in its bucket already; it leaves once the watermark passes ts, when no on-time
            # event of (ts - size, ts] can still come. One timer per distinct time (Flink dedups them).
            waiting = rt.map_state(self.id, "waiting")
            waiting.put(ts, [*(waiting.get(ts) or []), ctx])
            rt.register_timer(ts)
            return ()
        return ((DEFAULT_PORT, {**ctx, **self._window(buckets, ts)}),)

    def _window(self, buckets: dict, ts: int) -> dict:
        accs = None
        for bucket_ts, bucket in buckets.items():
            if ts - self.size_ms < bucket_ts <= ts:
                accs = bucket if accs is None else self._merge(accs, bucket)
        return self._results(accs)

    def _release(self, state, ts: int, rt: Runtime):
        waiting = rt.map_state(self.id, "waiting")
        due = sorted(t for t in waiting.keys() if t <= ts)
        if not due:
            return []
        # released before the eviction below: every bucket an event of `due` needs is still there
        buckets = (state.value() or (None, {}))[1]
        out = []
        for event_ts in due:
            results = self._window(buckets, event_ts)
            out.extend((DEFAULT_PORT, {**ctx, **results}) for ctx in waiting.get(event_ts))
            waiting.remove(event_ts)
        return out

    def _evict(self, state, ts: int, rt: Runtime) -> None:
        value = state.value()
        if not value:
            return
        pending, buckets = value
        for bucket_ts in [t for t in buckets if t + self.size_ms <= ts]:
            del buckets[bucket_ts]
        if not buckets:
            state.clear()
            return
        if ts >= pending:  # our timer (another node's timers of this key come here too)
            pending = max(buckets) + SLIDE_CLEANUP * self.size_ms
            rt.register_timer(pending)
        state.update((pending, buckets))

    def on_timer(self, ts: int, rt: Runtime):
        state = rt.value_state(self.id, "windows")
        if self.window == Window.SLIDING:
            released = self._release(state, ts, rt) if self.event_time else []
            self._evict(state, ts, rt)
            yield from released
            return
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
            out = {"_key": key, "_id": f"{key}@{start}", "_ts": end - 1, "_fields": (),
                   "key": key, "window_start": start, "window_end": end, **self._results(accs)}
            if self.key_name:
                out[self.key_name] = key_value
            yield DEFAULT_PORT, out

    def state_specs(self) -> list[StateSpec]:
        waiting = [StateSpec(self.id, "waiting", StateKind.MAP, WAITING_TTL_MS)] if self.event_time else []
        return [StateSpec(self.id, "windows", StateKind.VALUE), *waiting]


def summary(data: dict) -> str:
    """What `kairos graph` writes in the box."""
    length = data.get("size") or data.get("gap")
    return f"{data.get('window')} {length}: {names(data.get('aggregations'))}"


def compile(spec, params, env: Env, cc: CompileContext) -> Compiled | None:
    errors_before = len(cc.errors.diagnostics)
    window, emit = params["window"].value if "window" in params else None, params["emit"].value
    if window is None:
        return None
    length = "gap" if window == Window.SESSION else "size"
    if length not in params:
        if length not in spec.data:  # present but malformed has been reported already
            cc.errors.error(spec.loc, f"a {window} window needs '{length}' (a duration like 10m)")
        return None
    other = "size" if length == "gap" else "gap"
    if other in params:
        cc.errors.error(params[other].loc, f"'{other}' does not apply to a {window} window; use '{length}'")
    if window == Window.SLIDING and emit == Emit.ON_CLOSE:
        cc.errors.error(params["emit"].loc, "a sliding window is evaluated on each event: use emit: on_event")
    order = params["order"].value
    if order == Order.EVENT_TIME and (window != Window.SLIDING or emit != Emit.ON_EVENT):
        why = ("its result already leaves complete, when the watermark closes the window" if emit == Emit.ON_CLOSE
               else "an event of a fixed window sees the events before it, so it would have to wait until the "
               "window closes: use emit: on_close, or a sliding window")
        cc.errors.error(params["order"].loc, f"order: event_time applies to sliding windows with emit: on_event, "
                        f"not to a {window} window with emit: {emit}: {why}")
    key = cc.expr(params.get("key"), env, what="'key'")
    raw = params["aggregations"].value if "aggregations" in params else None
    if raw is None:
        return None
    cc.check_new_names(((n, raw.key_loc(n)) for n in raw), env, "aggregate")
    aggregations, out_types = [], {}
    for name, text in raw.items():
        loc = raw.value_loc(name)
        match = _CALL.match(str(text))
        if not match or match.group(1).lower() not in AGGREGATORS:
            cc.errors.error(loc, f"aggregate '{name}' must look like sum(amount); aggregators: {', '.join(AGGREGATORS)}"
                            + (P.did_you_mean(match.group(1).lower(), list(AGGREGATORS)) if match else ""))
            continue
        agg_name, arg_text = match.group(1).lower(), match.group(2)
        aggregator, arg = AGGREGATORS[agg_name], None
        if arg_text.strip():
            arg = cc.expr(Value(arg_text, loc.shifted(match.start(2), str(text))), env, what=f"aggregate '{name}'")
            if arg is None:
                continue
            if agg_name in ("sum", "avg") and not is_numeric(arg.type):
                cc.errors.error(loc, f"{agg_name}() needs numbers, but '{arg_text.strip()}' is {arg.type}")
                continue
        elif aggregator.needs_arg:
            cc.errors.error(loc, f"{agg_name}() needs an argument, e.g. {agg_name}(amount)")
            continue
        aggregations.append((name, agg_name, arg))
        out_types[name] = aggregator.result_type(arg.type if arg is not None else None)
    if len(cc.errors.diagnostics) > errors_before:
        return None
    key_text = params["key"].value if "key" in params else None
    key_name = key_text.strip() if key_text and key_text.strip() in env else None
    if emit == Emit.ON_CLOSE:
        out_env = {"key": STRING, "window_start": TIMESTAMP, "window_end": TIMESTAMP, **out_types}
        if key_name:
            out_env[key_name] = env.get(key_name, ANY)
    else:
        out_env = {**env, **out_types}
    event_time = order == Order.EVENT_TIME
    runtime = AggregateRuntime(spec.id, window, params[length].value or 1, emit, key_name, aggregations, event_time)
    return Compiled(runtime, {DEFAULT_PORT: out_env}, keyed=True, key=key, uses_time=True,
                    holds=emit == Emit.ON_CLOSE or event_time)
