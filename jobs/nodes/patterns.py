"""What `sequence` and `absence` share: their parameters, their compile step and their keyed state.

Both look for an event A (`first:`) and, within `within` of it in event time, an event B (`then:` /
`absent:`), optionally related to A by `where:` (B's values by their own names, A's as `<as>.field`).
State per key, all Flink keyed state:
  * `pending`: MapState deadline (A's time + within) -> the A's still waiting, with their flags;
  * `seen`: MapState B's time -> the B candidates, kept at least until the watermark passes their time, so that an A
    arriving after them (out of order, still on time) finds them: an on-time A has a time above the watermark,
    so a B at or below it can never concern an A to come;
  * `next_timer`: ValueState, the earliest event-time timer registered for this key. A new timer is
    registered only when an A's deadline falls before it; a B that only has to be forgotten waits for
    whichever timer of the key comes next (one is registered for it only when none is due), so it may stay
    up to `within` longer than needed. Measured (docs/decisions/0014-patterns.md): 0.35 of the timer
    registrations of one timer per A deadline and per B time.
The timers do the cleanup at event time; the TTL (within + 1 day, processing time) only forgets keys whose
watermark stalled that long, e.g. a source that died.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from jobs.lang import params as P
from jobs.lang.expr import CompiledExpr
from jobs.lang.types import RecordType
from jobs.nodes.base import CompileContext, Ctx, Env, NodeRuntime, Runtime, StateKind, StateSpec

TTL_MARGIN_MS = 86_400_000
DEFAULT_AS = "first"


class Port(StrEnum):
    """Where an event that does not flow on ends, so `kairos test` shows why (these ports have no targets)."""

    IGNORED = "ignored"  # neither A nor B
    UNMATCHED = "unmatched"  # a B with no pending A it concerns (kept a while for A's arriving late)
    CANCELLED = "cancelled"  # absence: a B that cancelled pending A's, or an A cancelled by an earlier-arrived B


def params(b_name: str, b_doc: str) -> list[P.Param]:
    return [
        P.Param("first", P.CONDITION, "The event A that starts the pattern, e.g. type = 'cart_add'.", True),
        P.Param(b_name, P.CONDITION, b_doc, True),
        P.Param("where", P.CONDITION, "Optional: relates B to A; B's values by their names, A's as `<as>.name`, "
                "e.g. amount >= withdrawal.requested."),
        P.Param("within", P.DURATION, "How long after A (event time) B may come, e.g. 30m.", True),
        P.Param("as", P.NAME, f"The name of A's values in `where` and downstream (default: {DEFAULT_AS}).",
                default=DEFAULT_AS),
        P.Param("restart", P.BOOL, "true: a new A replaces the pending one (its deadline restarts); "
                "false (default): each A is independent, with its own deadline.", default=False),
        P.Param("key", P.EXPR, "Match A and B per this expression (default: the event's key)."),
    ]


@dataclass
class PatternParts:
    first: CompiledExpr
    then: CompiledExpr
    where: CompiledExpr | None
    within_ms: int
    name: str
    record: list[str]  # the names A carries in its record
    restart: bool
    key: CompiledExpr | None
    out_env: Env  # env plus A's record


def compile_parts(spec, params_: dict, env: Env, cc: CompileContext, b_name: str) -> PatternParts | None:
    errors_before = len(cc.errors.diagnostics)
    within = params_.get("within")
    if within is not None and within.value is not None and within.value <= 0:
        cc.errors.error(within.loc, "'within' must be longer than 0")
    name = params_["as"].value if "as" in params_ else DEFAULT_AS
    if "as" in params_ or name in env:
        cc.check_new_names([(name, params_["as"].loc)], env, "pattern name")
    record = [n for n in env if not n.startswith("_")]
    a_env = {**env, name: RecordType({n: env[n] for n in record})}
    first = cc.condition(params_.get("first"), env, what="'first'")
    b_text = params_.get(b_name)
    if b_text is not None and name not in env and re.search(rf"\b{re.escape(name)}\.", str(b_text.value)):
        cc.errors.error(b_text.loc, f"'{b_name}' is on B's own values; compare with A's ({name}.…) in 'where'")
        b_text = None
    then = cc.condition(b_text, env, what=f"'{b_name}'")
    where = cc.condition(params_.get("where"), a_env, what="'where'")
    key = cc.expr(params_.get("key"), env, what="'key'")
    if len(cc.errors.diagnostics) > errors_before or first is None or then is None or within is None:
        return None
    if "where" in params_ and where is None or "key" in params_ and key is None:
        return None
    return PatternParts(first, then, where, within.value, name, record, params_["restart"].value, key, a_env)


@dataclass
class PatternRuntime(NodeRuntime):
    """State handling common to both patterns; subclasses decide what a match means."""

    first: CompiledExpr
    then: CompiledExpr
    where: CompiledExpr | None
    within_ms: int
    name: str
    record: list[str]
    restart: bool

    def a_record(self, a: Ctx) -> dict:
        return {n: a.get(n) for n in self.record}

    def relates(self, b: Ctx, a: Ctx) -> bool:
        """B falls in A's window [A, A + within] and satisfies `where`; an event is never its own B."""
        if b.get("_id") == a.get("_id") or not a["_ts"] <= b["_ts"] <= a["_ts"] + self.within_ms:
            return False
        return self.where is None or self.where.fn({**b, self.name: self.a_record(a)}) is True

    @staticmethod
    def stored(ctx: Ctx) -> Ctx:
        # the watermark gate of the moment of arrival means nothing once the event comes out of state
        return {k: v for k, v in ctx.items() if k != "_wm"}

    def decides_b_at_its_time(self) -> bool:
        """True when a B is decided by the timer at its own time (not just forgotten then)."""
        return False

    def add(self, rt: Runtime, state: str, at: int, ctx: Ctx) -> None:
        entries = rt.map_state(self.id, state)
        entries.put(at, [*(entries.get(at) or []), ctx])
        # forgetting a B may wait for any later timer of the key: only ask for one when none is due
        exact = state == "pending" or self.decides_b_at_its_time()
        self.schedule(rt, at, only_if_none=not exact)

    def schedule(self, rt: Runtime, at: int, only_if_none: bool = False) -> None:
        next_timer = rt.value_state(self.id, "next_timer")
        current = next_timer.value()
        if current is None or at < current and not only_if_none:
            rt.register_timer(at)
            next_timer.update(at)

    def fired(self, rt: Runtime, ts: int) -> None:
        """A timer at `ts` ran (maybe another node's of this key): forget ours if it is due."""
        next_timer = rt.value_state(self.id, "next_timer")
        current = next_timer.value()
        if current is not None and current <= ts:
            next_timer.clear()

    def reschedule(self, rt: Runtime) -> None:
        seen = list(rt.map_state(self.id, "seen").keys())
        due = [*rt.map_state(self.id, "pending").keys(), *(seen if self.decides_b_at_its_time() else ())]
        if due or seen:
            self.schedule(rt, min(due or seen))

    def drop_seen(self, rt: Runtime, ts: int) -> list[Ctx]:
        """B's at or below the watermark can no longer concern an A: forget them (returns them, in time order)."""
        seen = rt.map_state(self.id, "seen")
        out = []
        for at in sorted(k for k in seen.keys() if k <= ts):
            out.extend(sorted(seen.get(at), key=lambda c: str(c.get("_id"))))
            seen.remove(at)
        return out

    def seen_bs(self, rt: Runtime) -> list[Ctx]:
        seen = rt.map_state(self.id, "seen")
        return [b for at in sorted(seen.keys()) for b in sorted(seen.get(at), key=lambda c: str(c.get("_id")))]

    def pending_as(self, rt: Runtime) -> list[tuple[int, list[dict]]]:
        pending = rt.map_state(self.id, "pending")
        return [(at, pending.get(at)) for at in sorted(pending.keys())]

    def state_specs(self) -> list[StateSpec]:
        ttl = self.within_ms + TTL_MARGIN_MS
        return [StateSpec(self.id, "pending", StateKind.MAP, ttl), StateSpec(self.id, "seen", StateKind.MAP, ttl),
                StateSpec(self.id, "next_timer", StateKind.VALUE, ttl)]


def order_key(ctx: Ctx) -> tuple[int, str]:
    """A total order of events of one key: time, then id (ties of equal times are decided the same way
    whatever the arrival order)."""
    return ctx["_ts"], str(ctx.get("_id"))


def replaced(a: Ctx, others: list[Ctx]) -> Ctx | None:
    """restart: the A that replaces `a`: the next A after it (by time, then id), if any."""
    later = [o for o in others if order_key(o) > order_key(a)]
    return min(later, key=order_key) if later else None


def summary_of(data: dict, b_word: str, b_name: str) -> str:
    restart = ", restart" if data.get("restart") else ""
    return f"{data.get('first')} {b_word} {data.get(b_name)} within {data.get('within')}{restart}"
