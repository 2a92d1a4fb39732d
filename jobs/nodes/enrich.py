"""enrich: add customer (or product, merchant ...) data to each event.

Two kinds of data:
  * a static reference `table` (CSV / JSON lines), baked into the job when it is built;
  * a `changelog` stream (profiles, balances) whose latest value per key lives in Flink keyed state.

Changelog joins have explicit time semantics, chosen per node with `mode`:
  * `latest` (default): the event sees the newest value known when it is processed; lowest latency
    (the bank's case: a failed ATM withdrawal looks up the profile at once).
  * `event_time`: the event sees the version whose time is <= its own, whatever order the two streams
    arrive in (like Flink SQL's event-time temporal join). The event waits in state until the watermark,
    which covers the changelog too, passes its time; deterministic, at the price of that wait.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from jobs.lang import params as P
from jobs.lang.expr import CompiledExpr
from jobs.lang.model import SourceKind
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
)


class Mode(StrEnum):
    LATEST = "latest"  # the newest value known when the event is processed
    EVENT_TIME = "event_time"  # the version valid at the event's time (the event waits for the watermark)


TYPE = "enrich"
DOC = ("Looks up a record by key in a reference `table` or a `changelog` source and adds it to the event as `as` "
       "(null when there is none). Changelog lookups use `mode: latest` (default) or `mode: event_time`.")
PARAMS = [
    P.Param("table", P.NAME, "A reference table declared under `references`."),
    P.Param("changelog", P.NAME, "A source of kind changelog."),
    P.Param("key", P.EXPR, "The lookup key, an expression on the event (default: the event's key)."),
    P.Param("as", P.NAME, "The name the found record gets, e.g. profile (then: profile.balance).", True),
    P.Param("mode", P.CHOICE, "Changelog joins: latest or event_time.", default=Mode.LATEST,
            choices=tuple(Mode)),
]
PORTS = (DEFAULT_PORT,)
MULTI_INPUT = False
FAMILY = Family.ENRICH


def _key_of(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass
class TableRuntime(NodeRuntime):
    """Reference-table lookup: read-only data shipped with the job, so no state is involved."""

    table: str
    key: CompiledExpr | None
    target: str
    rows: dict[str, dict] = field(default_factory=dict)

    def bind(self, rows: dict[str, dict]) -> None:
        self.rows = rows

    def tables(self) -> tuple[str, ...]:
        return (self.table,)

    def bind_table(self, table: str, rows: dict[str, dict]) -> None:
        self.bind(rows)

    def process(self, ctx: Ctx, ts: int, rt: Runtime):
        key = _key_of(self.key.fn(ctx) if self.key is not None else ctx.get("_key"))
        return ((DEFAULT_PORT, {**ctx, self.target: self.rows.get(key) if key is not None else None}),)


@dataclass
class ChangelogRuntime(NodeRuntime):
    source: str
    target: str
    fields: tuple[str, ...]
    mode: Mode
    ttl_ms: int | None

    def timed_changelogs(self) -> tuple[str, ...]:
        return (self.source,) if self.mode == Mode.EVENT_TIME else ()

    def _record(self, ctx: Ctx) -> dict | None:
        return None if ctx.get("_deleted") else {name: ctx.get(name) for name in self.fields}

    def on_changelog(self, source: str, ctx: Ctx, ts: int, rt: Runtime) -> None:
        if source != self.source:
            return
        if self.mode == Mode.LATEST:
            latest = rt.value_state(self.id, "latest")
            record = self._record(ctx)
            latest.clear() if record is None else latest.update(record)
            return
        # event time: keep every version until the watermark makes older ones unreachable
        if ctx.get("_untimed"):  # a Kafka tombstone has no time: the key is gone from the watermark on
            ts = rt.watermark(ctx) + 1
        rt.map_state(self.id, "versions").put(ts, self._record(ctx))

    def process(self, ctx: Ctx, ts: int, rt: Runtime):
        if self.mode == Mode.LATEST:
            return ((DEFAULT_PORT, {**ctx, self.target: rt.value_state(self.id, "latest").value()}),)
        waiting = rt.map_state(self.id, "waiting")
        waiting.put(ts, [*(waiting.get(ts) or []), ctx])
        rt.register_timer(ts)
        return ()

    def on_timer(self, ts: int, rt: Runtime):
        if self.mode == Mode.LATEST:
            return
        waiting, versions = rt.map_state(self.id, "waiting"), rt.map_state(self.id, "versions")
        due = sorted(t for t in waiting.keys() if t <= ts)
        if not due:
            return
        version_times = sorted(versions.keys())
        for event_ts in due:
            usable = [t for t in version_times if t <= event_ts]
            record = versions.get(usable[-1]) if usable else None
            for ctx in waiting.get(event_ts):
                yield DEFAULT_PORT, {**ctx, self.target: record}
            waiting.remove(event_ts)
        # versions older than the newest one at or before the watermark can never be chosen again
        older = [t for t in version_times if t <= ts]
        for t in older[:-1]:
            versions.remove(t)

    def state_specs(self) -> list[StateSpec]:
        if self.mode == Mode.LATEST:
            return [StateSpec(self.id, "latest", StateKind.VALUE, self.ttl_ms)]
        return [StateSpec(self.id, "versions", StateKind.MAP, self.ttl_ms),
                StateSpec(self.id, "waiting", StateKind.MAP)]


def side_inputs(data: dict) -> list[tuple[str, str]]:
    """What `kairos graph` draws as a side edge into the node."""
    return [(what, data[what]) for what in ("changelog", "table") if what in data]


def summary(data: dict) -> str:
    """What `kairos graph` writes in the box."""
    what = f"table {data['table']}" if "table" in data else f"changelog {data.get('changelog')}"
    return f"{what} as {data.get('as')}"


def compile(spec, params, env: Env, cc: CompileContext) -> Compiled | None:
    if ("table" in params) == ("changelog" in params):
        cc.errors.error(spec.loc, "enrich needs exactly one of 'table' or 'changelog'")
        return None
    key = cc.expr(params.get("key"), env, what="'key'")
    if "key" in params and key is None or "as" not in params:
        return None
    target = params["as"].value
    cc.check_new_names([(target, params["as"].loc)], env, "enrichment")
    if "table" in params:
        name = params["table"].value
        reference = cc.references.get(name)
        if reference is None:
            cc.errors.error(params["table"].loc, f"unknown reference table '{name}'"
                            f"{P.did_you_mean(name, list(cc.references))}")
            return None
        return Compiled(TableRuntime(spec.id, name, key, target), {DEFAULT_PORT: {**env, target: reference.schema}})
    name = params["changelog"].value
    source = cc.sources.get(name)
    if source is None or source.kind != SourceKind.CHANGELOG:
        changelogs = [s for s, src in cc.sources.items() if src.kind == SourceKind.CHANGELOG]
        hint = P.did_you_mean(name, changelogs)
        cc.errors.error(params["changelog"].loc, f"'{name}' is not a changelog source{hint}")
        return None
    mode = params["mode"].value
    runtime = ChangelogRuntime(spec.id, name, target, tuple(source.schema.fields), mode, source.ttl_ms)
    return Compiled(runtime, {DEFAULT_PORT: {**env, target: source.schema}}, keyed=True, key=key,
                    changelog=name, uses_time=mode == Mode.EVENT_TIME, holds=mode == Mode.EVENT_TIME)
