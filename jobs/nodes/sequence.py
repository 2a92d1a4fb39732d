"""sequence: an event A, then an event B within a time (optionally related to A by `where`); emits B with A's values.

Each A is completed once, by the first matching B to be processed; a B completes every pending A it matches
(two refused withdrawals, one big deposit: two matches). The result comes out when B arrives. Out-of-order
input within the allowed out-of-orderness completes the same A's as in order: a B that arrives before its A
is kept at least until the watermark passes it, and the A completes on arrival with the earliest such B. (When two B's
that both match one A arrive out of order, the first to arrive completes it: the same A's complete, with the
other B's values.)

With `restart: true` only the latest A (by time, then id) is pending: that depends on A's still to arrive, so
B is decided when the watermark passes its time (the result comes out then, counted `emitted`), fully by
event time. Shared state handling: jobs/nodes/patterns.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs.nodes import patterns
from jobs.nodes.base import DEFAULT_PORT, CompileContext, Compiled, Ctx, Env, Family, Runtime
from jobs.nodes.patterns import Port

TYPE = "sequence"
DOC = ("Detects an event A (`first`) followed within `within` by an event B (`then`, optionally related to A by "
       "`where`, e.g. amount >= withdrawal.requested). B flows on with A's values as `<as>.name` (default "
       "`first.name`) when it arrives.")
PARAMS = patterns.params("then", "The event B that completes the pattern, e.g. type = 'deposit'.")
PORTS = (DEFAULT_PORT,)
MULTI_INPUT = False
FAMILY = Family.AGGREGATE


@dataclass
class SequenceRuntime(patterns.PatternRuntime):
    def decides_b_at_its_time(self) -> bool:
        return self.restart

    def match(self, a: Ctx, b: Ctx) -> Ctx:
        # one id per (A, B) pair: one B completing two A's gives two distinct actions
        return {**b, self.name: self.a_record(a), "_id": f"{a.get('_id')}>{b.get('_id')}"}

    def process(self, ctx: Ctx, ts: int, rt: Runtime):
        is_a, is_b = self.first.fn(ctx) is True, self.then.fn(ctx) is True
        if not is_a and not is_b:
            return ((Port.IGNORED, ctx),)
        out: list = []
        if is_b:
            self.add(rt, "seen", ts, self.stored(ctx))
            if self.restart:  # decided at the watermark: an A still to arrive may replace the pending one
                if not is_a:
                    return ()
            else:
                out.extend(self._complete(ctx, rt))
        if is_a:
            a = self.stored(ctx)
            b = None if self.restart else next((b for b in self.seen_bs(rt) if self.relates(b, a)), None)
            if b is None:
                self.add(rt, "pending", ts + self.within_ms, a)
                if not out:
                    return ()  # held: waiting for its B
            else:
                out.append((DEFAULT_PORT, self.match(a, b)))
        return out or ((Port.UNMATCHED, ctx),)

    def _complete(self, b: Ctx, rt: Runtime) -> list:
        pending, out = rt.map_state(self.id, "pending"), []
        for at, entries in self.pending_as(rt):
            hit = [a for a in entries if self.relates(b, a)]
            if hit:
                out.extend((DEFAULT_PORT, self.match(a, b)) for a in sorted(hit, key=patterns.order_key))
                rest = [a for a in entries if a not in hit]
                pending.put(at, rest) if rest else pending.remove(at)
        return out

    def on_timer(self, ts: int, rt: Runtime):
        self.fired(rt, ts)
        out = []
        if self.restart:
            pending = rt.map_state(self.id, "pending")
            for b in self.drop_seen(rt, ts):
                entries = self.pending_as(rt)
                everyone = [a for _, group in entries for a in group]
                active = max((a for a in everyone if a["_ts"] <= b["_ts"] and a.get("_id") != b.get("_id")),
                             key=patterns.order_key, default=None)
                if active is None or active.get("consumed") or not self.relates(b, active):
                    continue
                out.append((DEFAULT_PORT, self.match(active, b)))
                at = active["_ts"] + self.within_ms
                pending.put(at, [{**a, "consumed": True} if a.get("_id") == active.get("_id") else a
                                 for a in pending.get(at)])
        else:
            self.drop_seen(rt, ts)
        pending = rt.map_state(self.id, "pending")
        for at in [k for k in pending.keys() if k <= ts]:
            pending.remove(at)
        self.reschedule(rt)
        return iter(out)


def summary(data: dict) -> str:
    """What `kairos graph` writes in the box."""
    return patterns.summary_of(data, "then", "then")


def compile(spec, params, env: Env, cc: CompileContext) -> Compiled | None:
    parts = patterns.compile_parts(spec, params, env, cc, "then")
    if parts is None:
        return None
    runtime = SequenceRuntime(spec.id, parts.first, parts.then, parts.where, parts.within_ms, parts.name,
                              parts.record, parts.restart)
    return Compiled(runtime, {DEFAULT_PORT: parts.out_env}, keyed=True, key=parts.key, uses_time=True, holds=True)
