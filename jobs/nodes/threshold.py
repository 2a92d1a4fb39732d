"""threshold: fire once when a condition becomes true for a key; re-arm when it becomes false again.

A node of its own rather than an option of `profile`: the condition may be over anything that reaches
it (a profile, a sliding aggregate, an enrichment), and a profile stays a pure "keep fields" node whose
events all flow on. Per key, one ValueState remembers "fired and not yet false again"; it is written only
on the two transitions and cleared on re-arming, so the state holds only the keys that are above now.
Transitions follow arrival order, like profile updates. A null condition is no information: it neither
fires nor re-arms (a missing value must not repeat an alert).
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs.lang import params as P
from jobs.lang.expr import CompiledExpr
from jobs.lang.types import ANY, BOOL, NULL
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

TYPE = "threshold"
FAMILY = Family.AGGREGATE
DOC = ("Passes an event on (port `out`) only when `condition` becomes true for its key: once, until an event "
       "where it is false re-arms it. Every other event leaves on the `rest` port (or stops there).")
PARAMS = [
    P.Param("condition", P.CONDITION, "A bool expression, e.g. profile.spent_30m < 9.", True),
    P.Param("key", P.EXPR, "One trigger per value of this expression (default: the event's key)."),
    P.Param("ttl", P.DURATION, "Forget that it fired after this long (Flink state TTL, processing time): while "
            "the condition stays true it may then fire again once per ttl."),
]
REST = "rest"
PORTS = (DEFAULT_PORT, REST)
MULTI_INPUT = False


@dataclass
class ThresholdRuntime(NodeRuntime):
    condition: CompiledExpr
    ttl_ms: int | None

    def process(self, ctx: Ctx, ts: int, rt: Runtime):
        value = self.condition.fn(ctx)
        if value is None:
            return ((REST, ctx),)
        state = rt.value_state(self.id, "fired")
        fired = state.value() is True
        if value is True and not fired:
            state.update(True)
            return ((DEFAULT_PORT, ctx),)
        if value is not True and fired:
            state.clear()  # re-armed: nothing kept for keys below the threshold
        return ((REST, ctx),)

    def state_specs(self) -> list[StateSpec]:
        return [StateSpec(self.id, "fired", StateKind.VALUE, self.ttl_ms)]


def summary(data: dict) -> str:
    """What `kairos graph` writes in the box."""
    return f"once when {data.get('condition', '')}"


def compile(spec, params, env: Env, cc: CompileContext) -> Compiled | None:
    ttl = params.get("ttl")
    bad_ttl = ttl is not None and ttl.value is not None and ttl.value <= 0
    if bad_ttl:
        cc.errors.error(ttl.loc, "'ttl' must be longer than 0")
    # compiled as a VALUE (true / false / null), not as a filter condition (true / not true): a null
    # must be told apart from false, since false re-arms and null does not
    condition = cc.expr(params.get("condition"), env, what="condition")
    if condition is not None and condition.type not in (BOOL, ANY, NULL):
        cc.errors.error(params["condition"].loc, f"condition: condition must be bool, got {condition.type}")
        return None
    key = cc.expr(params.get("key"), env, what="'key'")
    if condition is None or "key" in params and key is None or bad_ttl:
        return None
    runtime = ThresholdRuntime(spec.id, condition, ttl.value if ttl is not None else None)
    return Compiled(runtime, {DEFAULT_PORT: env, REST: env}, keyed=True, key=key)
