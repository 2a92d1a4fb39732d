"""action: send something to a customer or a system (sms, push, email, crm, webhook ...), now or after a delay."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.compiler import params as P
from jobs.compiler.expr import CompiledExpr
from jobs.nodes.base import CompileContext, Compiled, Ctx, Env, NodeRuntime, Runtime, StateSpec
from jobs.nodes.outputs import iso_ms, jsonable

TYPE = "action"
DOC = ("Emits an action on a named channel with a payload built by expressions, keyed by customer. With `delay` "
       "the action is held in Flink state and sent when event time has moved on by that much (e.g. the bank's "
       "'a few seconds later').")
PARAMS = [
    P.Param("channel", P.NAME, "The channel: sms, push, email, crm, webhook, or any name your gateway knows.", True),
    P.Param("to", P.EXPR, "Who the action is for (default: the event's key, e.g. the customer id)."),
    P.Param("payload", P.EXPR_MAP, "Fields of the message: {name: expression}.", True),
    P.Param("delay", P.DURATION, "Send this long (event time) after the event instead of at once."),
]
PORTS = ()
MULTI_INPUT = False


def make_action(scenario: str, node: str, channel: str, to, payload, ctx: Ctx, ts: int) -> dict:
    event_id = ctx.get("_id")
    return {
        "id": f"{scenario}:{node}:{event_id}",
        "scenario": scenario, "node": node, "channel": channel, "to": jsonable(to),
        "event_id": event_id, "time": iso_ms(ts),
        "payload": {name: jsonable(value) for name, value in payload.items()},
    }


@dataclass
class ActionRuntime(NodeRuntime):
    channel: str
    to: CompiledExpr | None
    payload: list[tuple[str, CompiledExpr]]
    delay_ms: int | None

    def process(self, ctx: Ctx, ts: int, rt: Runtime):
        to = self.to.fn(ctx) if self.to is not None else ctx.get("_key")
        payload = {name: expr.fn(ctx) for name, expr in self.payload}
        record = make_action(rt.scenario, self.id, self.channel, to, payload, ctx, ts + (self.delay_ms or 0))
        if not self.delay_ms:
            rt.emit("action", record)
            return ()
        due_ts = ts + self.delay_ms
        pending = rt.map_state(self.id, "pending")
        pending.put(due_ts, [*(pending.get(due_ts) or []), record])
        rt.register_timer(due_ts)
        return ()

    def on_timer(self, ts: int, rt: Runtime):
        if not self.delay_ms:
            return iter(())
        pending = rt.map_state(self.id, "pending")
        for due_ts in sorted(k for k in pending.keys() if k <= ts):
            for record in pending.get(due_ts):
                rt.emit("action", record)
            pending.remove(due_ts)
        return iter(())

    def state_specs(self) -> list[StateSpec]:
        return [StateSpec(self.id, "pending", "map")] if self.delay_ms else []


def summary(data: dict) -> str:
    """What `kairos graph` writes in the box."""
    delay = f" after {data['delay']}" if "delay" in data else ""
    return f"{data.get('channel')} → {data.get('to', 'key')}{delay}"


def compile(spec, params, env: Env, cc: CompileContext) -> Compiled | None:
    to = cc.expr(params.get("to"), env, what="'to'")
    payload = cc.expr_map(params["payload"].value, env, "payload", sequential=False) if "payload" in params else None
    if payload is None or "channel" not in params or ("to" in params and to is None):
        return None
    delay_ms = params["delay"].value if "delay" in params else None
    runtime = ActionRuntime(spec.id, params["channel"].value, to, list(payload.items()), delay_ms)
    # a delayed action waits in keyed state, keyed by the event's own key
    return Compiled(runtime, {}, terminal=True, keyed=bool(delay_ms), uses_time=bool(delay_ms))
