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
This module is the definition (parameters, checks, output types); each window kind's processing is a strategy
in jobs/nodes/windows/ (tumbling.py, sliding.py, session.py), the aggregators are jobs/nodes/windows/aggregators.py.
"""

from __future__ import annotations

import re
from enum import StrEnum

from jobs.lang import params as P
from jobs.lang.params import Value
from jobs.lang.types import ANY, STRING, TIMESTAMP, is_numeric
from jobs.nodes.base import DEFAULT_PORT, CompileContext, Compiled, Env, Family, names
from jobs.nodes.windows.aggregators import AGGREGATORS
from jobs.nodes.windows.base import Emit, Window, WindowRuntime
from jobs.nodes.windows.session import SessionRuntime
from jobs.nodes.windows.sliding import SlidingRuntime
from jobs.nodes.windows.tumbling import TumblingRuntime


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
STRATEGIES: dict[Window, type[WindowRuntime]] = {
    Window.TUMBLING: TumblingRuntime, Window.SLIDING: SlidingRuntime, Window.SESSION: SessionRuntime}
_CALL = re.compile(r"^\s*([A-Za-z_]+)\s*\((.*)\)\s*$", re.DOTALL)


def window_runtime(node_id: str, window: str, size_ms: int, emit: str, key_name: str | None,
                   aggregations: list, event_time: bool = False) -> WindowRuntime:
    """The runtime of one aggregate node: the strategy of its window kind."""
    window = Window(window)
    return STRATEGIES[window](node_id, window, size_ms, Emit(emit), key_name, aggregations, event_time)


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
    runtime = window_runtime(spec.id, window, params[length].value or 1, emit, key_name, aggregations, event_time)
    return Compiled(runtime, {DEFAULT_PORT: out_env}, keyed=True, key=key, uses_time=True,
                    holds=emit == Emit.ON_CLOSE or event_time)
