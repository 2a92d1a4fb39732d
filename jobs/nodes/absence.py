"""absence: an event A and no event B within a time; A comes out at A's time + within (event time).

Decided by event time, whatever the arrival order within the allowed out-of-orderness:
  * A waits in keyed state until the watermark passes its deadline (A + within); then every B on time with a
    time in [A, A + within] has been seen, since a later-arriving one would be at or below the watermark:
    late, a dead letter, and it cancels nothing;
  * a B cancels the pending A's whose window holds its time (and `where` holds); a B arriving before its A
    (out of order) is kept at least until the watermark passes it, so the A finds it and is cancelled at once.
With `restart: true` a new A replaces the pending one: an A comes out only if no other A follows it
(by time, then id) at or before its deadline. Shared state handling: jobs/nodes/patterns.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs.nodes import patterns
from jobs.nodes.base import DEFAULT_PORT, CompileContext, Compiled, Ctx, Env, Family, Runtime
from jobs.nodes.patterns import Port

TYPE = "absence"
DOC = ("Detects an event A (`first`) NOT followed by an event B (`absent`, optionally related to A by `where`) "
       "within `within`; A comes out when event time reaches A + within (e.g. cart_add and no checkout within "
       "30m). A B at or before that moment cancels it, whatever the arrival order within the out-of-orderness.")
PARAMS = patterns.params("absent", "The event B whose absence is detected, e.g. type = 'checkout'.")
PORTS = (DEFAULT_PORT,)
MULTI_INPUT = False
FAMILY = Family.AGGREGATE


@dataclass
class AbsenceRuntime(patterns.PatternRuntime):
    def process(self, ctx: Ctx, ts: int, rt: Runtime):
        is_a, is_b = self.first.fn(ctx) is True, self.then.fn(ctx) is True
        port = Port.IGNORED
        if is_b:
            port = Port.UNMATCHED
            pending = rt.map_state(self.id, "pending")
            for at, entries in self.pending_as(rt):
                hit = [e for e in entries if not e["cancelled"] and self.relates(ctx, e["a"])]
                if hit:
                    port = Port.CANCELLED
                    if self.restart:  # a cancelled A still replaces older ones: keep it, flagged
                        pending.put(at, [{**e, "cancelled": e["cancelled"] or e in hit} for e in entries])
                    else:
                        rest = [e for e in entries if e not in hit]
                        pending.put(at, rest) if rest else pending.remove(at)
            self.add(rt, "seen", ts, self.stored(ctx))
        if is_a:
            a = self.stored(ctx)
            cancelled = any(self.relates(b, a) for b in self.seen_bs(rt))
            if self.restart or not cancelled:
                self.add(rt, "pending", ts + self.within_ms, {"a": a, "cancelled": cancelled})
            if not cancelled:
                return ()  # held until its deadline
            port = Port.CANCELLED
        return ((port, ctx),)

    def on_timer(self, ts: int, rt: Runtime):
        self.fired(rt, ts)
        pending = rt.map_state(self.id, "pending")
        entries = self.pending_as(rt)
        everyone = [e["a"] for _, group in entries for e in group]
        out = []
        for at, group in entries:
            if at > ts:
                break
            for entry in sorted(group, key=lambda e: patterns.order_key(e["a"])):
                a = entry["a"]
                if entry["cancelled"] or self.restart and self._replaced(a, everyone):
                    continue
                out.append((DEFAULT_PORT, {**a, "_ts": at}))
            pending.remove(at)
        self.drop_seen(rt, ts)
        self.reschedule(rt)
        return iter(out)

    def _replaced(self, a: Ctx, everyone: list[Ctx]) -> bool:
        successor = patterns.replaced(a, everyone)
        return successor is not None and successor["_ts"] <= a["_ts"] + self.within_ms


def summary(data: dict) -> str:
    """What `kairos graph` writes in the box."""
    return patterns.summary_of(data, "and no", "absent")


def compile(spec, params, env: Env, cc: CompileContext) -> Compiled | None:
    parts = patterns.compile_parts(spec, params, env, cc, "absent")
    if parts is None:
        return None
    runtime = AbsenceRuntime(spec.id, parts.first, parts.then, parts.where, parts.within_ms, parts.name,
                             parts.record, parts.restart)
    # A comes out as it went in (its own names), at its deadline
    return Compiled(runtime, {DEFAULT_PORT: env}, keyed=True, key=parts.key, uses_time=True, holds=True)
