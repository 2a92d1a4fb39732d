"""action: send something to a customer or a system (sms, push, email, crm, webhook ...), now or after a delay.

A delayed action can be cancelled (`cancel_if`) by a later event of another source for the same key, and every
action applies the scenario's contact policy (jobs/nodes/policy.py). Either way the contact waits in keyed
state (MapState `pending`, by due time) for an event-time timer, so the outcome does not depend on arrival
order: at the due time every on-time event before it has arrived (later ones would be late dead letters).

Counts: a triggering event is `out` when it is accepted (sent, scheduled or held by the policy); an event of
the cancelling source is `filtered` (it is consumed here, nothing flows on). A cancelled or suppressed
contact leaves a detection with its reason (kind `action_cancelled` / `contact_suppressed`).
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs.lang import params as P
from jobs.lang.expr import CompiledExpr
from jobs.nodes.base import (
    CONTACTS_SOURCE,
    CompileContext,
    Compiled,
    Ctx,
    Env,
    Family,
    NodeRuntime,
    Output,
    Runtime,
    StateKind,
    StateSpec,
)
from jobs.nodes.outputs import ContactKind, iso_ms, jsonable, raw_input
from jobs.nodes.policy import PolicyRuntime, Reason, Verdict, compile_policy
from jobs.nodes.policy_cancel import Cancel, compile_cancel
from jobs.nodes.variants import HOLDOUT, contact_detection, tag_record

TYPE = "action"
DOC = ("Emits an action on a named channel with a payload built by expressions, keyed by customer. With `delay` "
       "the action is held in Flink state and sent when event time has moved on by that much (e.g. the bank's "
       "'a few seconds later'); `cancel_if` cancels it when an event of another source matches in between. "
       "The scenario's contact `policy` applies to every action.")
PARAMS = [
    P.Param("channel", P.NAME, "The channel: sms, push, email, crm, webhook, or any name your gateway knows.", True),
    P.Param("to", P.EXPR, "Who the action is for (default: the event's key, e.g. the customer id)."),
    P.Param("payload", P.EXPR_MAP, "Fields of the message: {name: expression}.", True),
    P.Param("delay", P.DURATION, "Send this long (event time) after the event instead of at once."),
    P.Param("cancel_if", P.ANY, "{source: NAME, condition: EXPR}: an event (or changelog update) of that source "
            "with the same key and a time in [event time, due time) for which the condition holds cancels the "
            "delayed action; the condition names the delayed event's values trigger.NAME.",
            schema={"type": "object", "properties": {"source": {"type": "string"}, "condition": {
                "type": ["string", "boolean"]}}, "required": ["source", "condition"], "additionalProperties": False}),
    P.Param("offer", P.EXPR, "What counts as the same offer for the policy's cooldown (default: the node id)."),
    P.Param("policy", P.BOOL, "Apply the scenario's contact policy (default true when there is one).", default=True),
]
PORTS = ()
MULTI_INPUT = False
FAMILY = Family.ACTION
CANCELLED_PORT = "cancel"  # where cancelling events leave: no node reads it, so the executor counts `filtered`


def make_action(scenario: str, node: str, channel: str, to, payload, ctx: Ctx, ts: int) -> dict:
    event_id = ctx.get("_id")
    return tag_record({
        "id": f"{scenario}:{node}:{event_id}",
        "scenario": scenario, "node": node, "channel": channel, "to": jsonable(to),
        "event_id": event_id, "time": iso_ms(ts),
        "payload": {name: jsonable(value) for name, value in payload.items()},
    }, ctx)


def send(record: dict, key, event: dict, holdout: bool, rt: Runtime) -> None:
    """The action goes out, unless its event is in a hold-out group: then only the would-be contact is
    recorded. Under an experiment a sent action leaves a `contact` detection too (see variants.py)."""
    if holdout:
        rt.emit(Output.DETECTED, contact_detection(record, key, event, ContactKind.HOLDOUT, would_have_sent=True,
                                              payload=record["payload"]))
        return
    rt.emit(Output.ACTIONS, record)
    if "experiments" in record:
        rt.emit(Output.DETECTED, contact_detection(record, key, event, ContactKind.CONTACT, would_have_sent=False))


@dataclass
class ActionRuntime(NodeRuntime):
    channel: str
    to: CompiledExpr | None
    payload: list[tuple[str, CompiledExpr]]
    delay_ms: int | None
    cancel: Cancel | None = None
    policy: PolicyRuntime | None = None
    offer: CompiledExpr | None = None

    def channels(self) -> tuple[str, ...]:
        return (self.channel,)

    def shared_policy(self) -> str | None:
        return self.policy.shared if self.policy is not None else None

    def publish_contacts(self, origin: str) -> None:
        if self.shared_policy() is None:
            super().publish_contacts(origin)
        self.policy.publish = origin

    @property
    def waits(self) -> bool:
        return bool(self.delay_ms) or self.policy is not None

    def process(self, ctx: Ctx, ts: int, rt: Runtime):
        if self.cancel is not None and not self.cancel.changelog and ctx.get("_src") == self.cancel.source:
            return self._canceller(ctx, ts, rt)
        to = self.to.fn(ctx) if self.to is not None else ctx.get("_key")
        payload = {name: expr.fn(ctx) for name, expr in self.payload}
        due_ts = ts + (self.delay_ms or 0)
        record = make_action(rt.scenario, self.id, self.channel, to, payload, ctx, due_ts)
        if not self.waits:
            send(record, ctx.get("_key"), raw_input(ctx), HOLDOUT in ctx, rt)
            return ()
        entry = {"record": record, "ts": ts, "due": due_ts, "id": ctx.get("_id"), "key": ctx.get("_key"),
                 "event": raw_input(ctx)}
        if HOLDOUT in ctx:
            entry["holdout"] = True
        if self.cancel is not None:
            entry["trigger"] = {name: ctx.get(name) for name in self.cancel.trigger_names}
        if self.policy is not None:
            entry.update(self.policy.prepare(ctx))  # raises on a bad time zone: this event's dead letter
            entry["offer"] = str(self.offer.fn(ctx)) if self.offer is not None else self.id
        self._schedule(entry, due_ts, rt)
        return ()

    def _schedule(self, entry: dict, at_ts: int, rt: Runtime) -> None:
        pending = rt.map_state(self.id, "pending")
        pending.put(at_ts, [*(pending.get(at_ts) or []), entry])
        rt.register_timer(at_ts)

    def _canceller(self, ctx: Ctx, ts: int, rt: Runtime):
        self._remember(ctx, ts, rt)
        return ((CANCELLED_PORT, ctx),)

    def on_changelog(self, source: str, ctx: Ctx, ts: int, rt: Runtime) -> None:
        if source == CONTACTS_SOURCE:  # the contacts topic (shared policy, jobs/nodes/policy_shared.py)
            if self.policy is not None and self.policy.shared is not None:
                self.policy.merge(ctx, rt)
            return
        # a changelog update (e.g. the balance after a deposit) cancels like an event; one at or before the
        # watermark is too late to decide anything deterministically, so it is ignored (the source counted it)
        if (self.cancel is not None and source == self.cancel.source and not ctx.get("_deleted")
                and ts > rt.watermark(ctx)):
            self._remember(ctx, ts, rt)

    def _remember(self, ctx: Ctx, ts: int, rt: Runtime) -> None:
        # kept until no pending or future trigger can see it: a trigger at t is cancelled by times [t, t + delay)
        cancellers = rt.map_state(self.id, "cancellers")
        cancellers.put(ts, [*(cancellers.get(ts) or []), (ctx.get("_id"), raw_input(ctx))])
        rt.register_timer(ts + self.delay_ms)

    def on_timer(self, ts: int, rt: Runtime):
        if not self.waits:
            return iter(())
        pending = rt.map_state(self.id, "pending")
        for due_ts in sorted(k for k in pending.keys() if k <= ts):
            entries = pending.get(due_ts)
            pending.remove(due_ts)
            # same due time: by event time, then id, so caps and cooldowns pick the same contact on every run
            for entry in sorted(entries, key=lambda e: (e["ts"], str(e["id"]))):
                self._release(entry, due_ts, rt)
        if self.cancel is not None:
            cancellers = rt.map_state(self.id, "cancellers")
            for c_ts in [k for k in cancellers.keys() if k + self.delay_ms <= ts]:
                cancellers.remove(c_ts)
        return iter(())

    def _release(self, entry: dict, t: int, rt: Runtime) -> None:
        if "trigger" in entry and not entry.get("held"):
            by = self.cancel.cancelled_by(entry, rt.map_state(self.id, "cancellers"), self.id, rt)
            if by is not None:
                self._suppressed(entry, t, Reason.CANCELLED, rt, cancelled_by=by)
                return
        if self.policy is not None:
            verdict, value = self.policy.decide(entry, t, rt)
            if verdict == Verdict.HOLD:  # quiet hours: try again when they end (cap and cooldown are checked then)
                self._schedule({**entry, "held": True}, value, rt)
                return
            if verdict == Verdict.SUPPRESS:
                self._suppressed(entry, t, value, rt)
                return
            self.policy.record(entry, t, rt)  # a hold-out too: it must meet the same cooldowns as if sent
        send({**entry["record"], "time": iso_ms(t)}, entry["key"], entry["event"], entry.get("holdout", False), rt)

    def _suppressed(self, entry: dict, t: int, reason: Reason, rt: Runtime, **extra) -> None:
        record = entry["record"]
        fields = {"reason": str(reason), "channel": self.channel, "to": record["to"], **extra}
        if "offer" in entry:
            fields["offer"] = entry["offer"]
        rt.emit(Output.DETECTED, {
            "id": f"{rt.scenario}:{self.id}:{entry['id']}", "scenario": rt.scenario, "node": self.id,
            "kind": "action_cancelled" if reason == Reason.CANCELLED else "contact_suppressed",
            "key": jsonable(entry["key"]), "event_id": entry["id"], "time": iso_ms(t),
            "event": jsonable(entry["event"]), "fields": jsonable(fields),
            **({"experiments": record["experiments"]} if "experiments" in record else {}),
        })

    def state_specs(self) -> list[StateSpec]:
        specs = [StateSpec(self.id, "pending", StateKind.MAP)] if self.waits else []
        if self.cancel is not None:
            specs.append(StateSpec(self.id, "cancellers", StateKind.MAP))
        return specs + (self.policy.state_specs() if self.policy is not None else [])


def summary(data: dict) -> str:
    """What `kairos graph` writes in the box."""
    delay = f" after {data['delay']}" if "delay" in data else ""
    cancel = data.get("cancel_if")
    unless = f" unless {cancel.get('source')}: {cancel.get('condition')}" if isinstance(cancel, dict) else ""
    return f"{data.get('channel')} → {data.get('to', 'key')}{delay}{unless}"


def compile(spec, params, env: Env, cc: CompileContext) -> Compiled | None:
    if "channel" not in params:
        return None
    to = cc.expr(params.get("to"), env, what="'to'")
    payload = cc.expr_map(params["payload"].value, env, "payload", sequential=False) if "payload" in params else None
    offer = cc.expr(params.get("offer"), env, what="'offer'")
    delay_ms = params["delay"].value if "delay" in params else None
    cancel = compile_cancel(params["cancel_if"], env, delay_ms, cc) if "cancel_if" in params else None
    policy = None
    if cc.scenario.policy is not None and params["policy"].value:
        policy = compile_policy(cc.scenario.policy, params["channel"].value, env, cc)
        if policy is None:
            return None
    if (payload is None or ("to" in params and to is None) or ("offer" in params and offer is None)
            or ("cancel_if" in params and cancel is None)):
        return None
    runtime = ActionRuntime(spec.id, params["channel"].value, to, list(payload.items()), delay_ms, cancel, policy,
                            offer)
    events = cancel is not None and not cancel.changelog
    extra = [(cancel.source, params["cancel_if"].loc)] if events else []
    # a waiting action lives in keyed state, keyed by the event's own key (the customer)
    return Compiled(runtime, {}, terminal=True, keyed=runtime.waits, uses_time=runtime.waits, extra_sources=extra,
                    changelog=cancel.source if cancel is not None and cancel.changelog else None)
