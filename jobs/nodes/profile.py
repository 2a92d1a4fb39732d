"""profile: named per-key fields that live across events (counters, sums, last values, rolling counts).

Each event updates the fields of its key's profile, then continues with the profile as a record (`as`,
default `profile`): `profile.calls_week`. Updates happen in ARRIVAL order: an event sees the events of its
key that arrived before it and itself. Every kind is order-independent in its final value (`last` and
`last_time` go by event time), so once all events are in, the profile is the same whatever the order.
Rolling kinds are exact in event time: the window of an event at t is (t - window, t] by event time,
so an event that arrived earlier with a later time is not in it. They keep one MapState bucket per
`resolution` (default 1 ms: exact) and evict buckets lazily when no on-time event can reach them any
more; no timers. Late events (at or before the watermark) are dead letters when a rolling field exists,
because their window may already be evicted. The whole profile has a Flink state TTL (`ttl`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from jobs.lang import params as P
from jobs.lang.expr import CompiledExpr
from jobs.lang.loader import YMap
from jobs.lang.types import FLOAT, INT, STRING, TIMESTAMP, RecordType, Type, is_numeric
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

TYPE = "profile"
FAMILY = Family.AGGREGATE


class Kind(StrEnum):
    COUNT = "count"
    SUM = "sum"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    LAST = "last"
    LAST_TIME = "last_time"
    ROLLING_COUNT = "rolling_count"
    ROLLING_SUM = "rolling_sum"


ROLLING = (Kind.ROLLING_COUNT, Kind.ROLLING_SUM)
NEEDS_OF = (Kind.SUM, Kind.AVG, Kind.MIN, Kind.MAX, Kind.LAST, Kind.ROLLING_SUM)
FIELD_PARAMS = [
    P.Param("kind", P.CHOICE, "How the field is updated: " + ", ".join(Kind) + ".", True, choices=tuple(Kind)),
    P.Param("of", P.EXPR, "The value it is computed from (sum, avg, min, max, last, rolling_sum; optional for "
            "count, rolling_count and last_time: then only events where it is not null count)."),
    P.Param("when", P.CONDITION, "Update only on events where this is true, e.g. kind = 'call'."),
    P.Param("window", P.DURATION, "rolling_count / rolling_sum: the event-time window, e.g. 7d."),
]
DOC = ("Keeps named per-key fields across events, updated by each event in arrival order: `fields: {name: {kind, "
       "of, when, window}}` with kinds " + ", ".join(Kind) + "; the event continues with them as `as` "
       "(default profile). `ttl` forgets a profile not updated for that long.")
_FIELD_SCHEMA = {"type": "object", "required": ["kind"], "additionalProperties": False,
                 "properties": {p.name: P.json_schema_for(p) for p in FIELD_PARAMS}}
PARAMS = [
    P.Param("fields", P.ANY, "{name: {kind: ..., of: expression, when: condition, window: duration}}.", True,
            schema={"type": "object", "minProperties": 1, "additionalProperties": _FIELD_SCHEMA}),
    P.Param("as", P.NAME, "The name the profile gets on the event (then: profile.calls_week).", default="profile"),
    P.Param("key", P.EXPR, "Keep one profile per value of this expression (default: the event's key)."),
    P.Param("ttl", P.DURATION, "Forget a profile not updated for this long (Flink state TTL, processing time).",
            True),
    P.Param("resolution", P.DURATION, "Rolling kinds: bucket width; windows are whole buckets (default 1ms: "
            "exact). Bounds the state to window / resolution buckets per key."),
]
PORTS = (DEFAULT_PORT,)
MULTI_INPUT = False
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass
class Field:
    name: str
    kind: Kind
    of: CompiledExpr | None
    when: CompiledExpr | None
    window_ms: int = 0
    slot: int = -1  # rolling kinds: the position of its total in a bucket
    zero: Any = None  # count and sum kinds start at 0 (of the field's type)


def _update(kind: Kind, acc: Any, value: Any, ts: int) -> Any:
    if kind == Kind.COUNT:
        return acc + 1
    if kind == Kind.SUM:
        return acc + value
    if kind == Kind.AVG:
        return (value, 1) if acc is None else (acc[0] + value, acc[1] + 1)
    if kind == Kind.MIN:
        return value if acc is None or value < acc else acc
    if kind == Kind.MAX:
        return value if acc is None or value > acc else acc
    if kind == Kind.LAST:  # by event time; on equal times the later arrival wins
        return (ts, value) if acc is None or ts >= acc[0] else acc
    return ts if acc is None or ts > acc else acc  # LAST_TIME


def _result(kind: Kind, acc: Any) -> Any:
    if acc is None:
        return None
    if kind == Kind.AVG:
        return acc[0] / acc[1]
    return acc[1] if kind == Kind.LAST else acc


@dataclass
class ProfileRuntime(NodeRuntime):
    target: str
    fields: list[Field]
    ttl_ms: int
    resolution_ms: int
    horizon_ms: int  # the longest rolling window (0: no rolling field)
    plain: bool  # has fields kept in the ValueState (not rolling)

    def process(self, ctx: Ctx, ts: int, rt: Runtime):
        # the plain fields are one ValueState (one read, at most one write per event); rolling buckets a MapState
        state = rt.value_state(self.id, "fields") if self.plain else None
        stored = state.value() if state is not None else None
        accs = list(stored) if stored is not None else [f.zero for f in self.fields]
        added = [f.zero for f in self.fields if f.slot >= 0]
        changed = rolled = False
        for i, f in enumerate(self.fields):
            if f.when is not None and f.when.fn(ctx) is not True:
                continue
            value = f.of.fn(ctx) if f.of is not None else True
            if value is None:  # nulls never count, as in aggregate
                continue
            if f.slot >= 0:
                added[f.slot] += 1 if f.kind == Kind.ROLLING_COUNT else value
                rolled = True
            else:
                accs[i] = _update(f.kind, accs[i], value, ts)
                changed = True
        if changed:
            state.update(accs)  # a write also restarts the TTL: ttl counts from the last update
        record = {f.name: _result(f.kind, acc) for f, acc in zip(self.fields, accs, strict=True) if f.slot < 0}
        if self.horizon_ms:
            record.update(self._rolling(ctx, ts, rt, added if rolled else None))
        return ((DEFAULT_PORT, {**ctx, self.target: {f.name: record[f.name] for f in self.fields}}),)

    def _rolling(self, ctx: Ctx, ts: int, rt: Runtime, added: list | None) -> dict:
        buckets = rt.map_state(self.id, "buckets")
        res = self.resolution_ms
        here = ts - ts % res
        if added is not None:
            old = buckets.get(here)
            buckets.put(here, added if old is None else [a + b for a, b in zip(old, added, strict=True)])
        # every later on-time event has a time > the watermark, so its window starts after
        # bucket(watermark + 1) - window: older buckets are unreachable and go now (lazy eviction, no timers)
        first = rt.watermark(ctx) + 1
        dead_at = first - first % res - self.horizon_ms
        rolling = [f for f in self.fields if f.slot >= 0]
        totals = {f.name: f.zero for f in rolling}
        for bucket in sorted(buckets.keys()):  # sorted: float sums do not depend on the state backend's order
            if bucket <= dead_at:
                buckets.remove(bucket)
                continue
            if bucket > here:
                continue
            counts = None
            for f in rolling:
                if bucket > here - f.window_ms:
                    counts = buckets.get(bucket) if counts is None else counts
                    totals[f.name] += counts[f.slot]
        return totals

    def state_specs(self) -> list[StateSpec]:
        specs = [StateSpec(self.id, "fields", StateKind.VALUE, self.ttl_ms)] if self.plain else []
        if self.horizon_ms:
            specs.append(StateSpec(self.id, "buckets", StateKind.MAP, self.ttl_ms))
        return specs


def summary(data: dict) -> str:
    """What `kairos graph` writes in the box."""
    return f"{data.get('as', 'profile')}: {names(data.get('fields'))}"


def _field_type(kind: Kind, of: CompiledExpr | None) -> Type:
    if kind in (Kind.COUNT, Kind.ROLLING_COUNT):
        return INT
    if kind == Kind.LAST_TIME:
        return TIMESTAMP
    if kind == Kind.AVG:
        return FLOAT
    if kind in (Kind.SUM, Kind.ROLLING_SUM):
        return INT if of.type == INT else FLOAT
    return of.type  # min, max, last


def _compile_field(name: str, raw: Any, loc, ttl_ms: int | None, resolution_ms: int, env: Env,
                   cc: CompileContext) -> tuple[Field, Type] | None:
    what = f"profile field '{name}'"
    if not isinstance(raw, YMap):
        cc.errors.error(loc, f"{what} must be a mapping like {{kind: count, when: ...}}")
        return None
    errors_before = len(cc.errors.diagnostics)
    params = P.read_params(raw, FIELD_PARAMS, cc.errors, what=what)
    if "kind" not in params:
        return None
    kind = Kind(params["kind"].value)
    of = cc.expr(params.get("of"), env, what=f"{what} 'of'")
    when = cc.condition(params.get("when"), env, what=f"{what} 'when'")
    if kind in NEEDS_OF and "of" not in raw:
        cc.errors.error(raw.loc, f"{what}: {kind} needs 'of', the value it is computed from")
    if of is not None and kind in (Kind.SUM, Kind.AVG, Kind.ROLLING_SUM) and not is_numeric(of.type):
        cc.errors.error(params["of"].loc, f"{what}: {kind} needs numbers, but '{params['of'].value}' is {of.type}")
    if of is not None and kind in (Kind.MIN, Kind.MAX) and not (is_numeric(of.type) or of.type in (STRING,
                                                                                                   TIMESTAMP)):
        cc.errors.error(params["of"].loc, f"{what}: {kind} needs numbers, text or times, not {of.type}")
    window = params.get("window")
    if kind in ROLLING and window is None and "window" not in raw:
        cc.errors.error(raw.loc, f"{what}: {kind} needs 'window' (a duration like 7d)")
    if kind not in ROLLING and "window" in raw:
        cc.errors.error(raw.key_loc("window"), f"{what}: 'window' only applies to rolling_count and rolling_sum")
    window_ms = window.value if window is not None and window.value is not None else 0
    if window is not None and kind in ROLLING:
        if window_ms <= 0:
            cc.errors.error(window.loc, f"{what}: 'window' must be longer than 0")
        elif window_ms % resolution_ms:
            cc.errors.error(window.loc, f"{what}: 'window' must be a whole number of 'resolution' "
                                        f"({resolution_ms} ms)")
        elif ttl_ms and window_ms > ttl_ms:
            cc.errors.error(window.loc, f"{what}: 'window' is longer than the profile's 'ttl': the profile "
                                        "would forget events still in the window")
    if len(cc.errors.diagnostics) > errors_before or (kind in NEEDS_OF and of is None):
        return None
    field_type = _field_type(kind, of)
    zero = (0 if field_type == INT else 0.0) if kind in (Kind.COUNT, Kind.SUM, *ROLLING) else None
    return Field(name, kind, of, when, window_ms, zero=zero), field_type


def compile(spec, params, env: Env, cc: CompileContext) -> Compiled | None:
    errors_before = len(cc.errors.diagnostics)
    for name in ("ttl", "resolution"):
        if name in params and params[name].value is not None and params[name].value <= 0:
            cc.errors.error(params[name].loc, f"'{name}' must be longer than 0")
    ttl_ms = params["ttl"].value if "ttl" in params else None
    resolution = params.get("resolution")
    resolution_ms = resolution.value if resolution is not None and resolution.value else 1
    key = cc.expr(params.get("key"), env, what="'key'")
    target = params["as"].value if "as" in params else None
    if target is not None:
        cc.check_new_names([(target, params["as"].loc)], env, "profile")
    raw = params["fields"].value if "fields" in params else None
    if raw is not None and (not isinstance(raw, YMap) or not raw):
        cc.errors.error(params["fields"].loc, "'fields' must be a mapping of names to {kind: ...}")
        raw = None
    fields: list[Field] = []
    types: dict[str, Type] = {}
    for name, field_raw in (raw or {}).items():
        if not _NAME.match(str(name)):
            cc.errors.error(raw.key_loc(name), f"'{name}' is not a valid name (letters, digits, _; starts with a "
                                               "letter)")
            continue
        compiled = _compile_field(name, field_raw, raw.value_loc(name), ttl_ms, resolution_ms, env, cc)
        if compiled is not None:
            fields.append(compiled[0])
            types[name] = compiled[1]
    kinds = [raw[n].get("kind") for n in raw or {} if isinstance(raw[n], YMap)]
    if resolution is not None and resolution.value and not any(k in ROLLING for k in kinds):
        cc.errors.error(resolution.loc, "'resolution' only applies to rolling_count and rolling_sum fields")
    if len(cc.errors.diagnostics) > errors_before or raw is None or target is None or ttl_ms is None:
        return None
    slots = 0
    for f in fields:
        if f.kind in ROLLING:
            f.slot, slots = slots, slots + 1
    horizon_ms = max((f.window_ms for f in fields if f.slot >= 0), default=0)
    plain = any(f.slot < 0 for f in fields)
    runtime = ProfileRuntime(spec.id, target, fields, ttl_ms, resolution_ms, horizon_ms, plain)
    out_env = {**env, target: RecordType(types)}
    return Compiled(runtime, {DEFAULT_PORT: out_env}, keyed=True, key=key, uses_time=horizon_ms > 0)

