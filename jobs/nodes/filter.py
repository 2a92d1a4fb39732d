"""filter: let events through when a condition holds; the others leave on the `false` port (or stop)."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.lang import params as P
from jobs.lang.expr import CompiledExpr
from jobs.nodes.base import DEFAULT_PORT, CompileContext, Compiled, Ctx, Env, Family, NodeRuntime, Runtime

TYPE = "filter"
DOC = "Keeps events for which `condition` is true. Events where it is false (or null) go to the `false` port."
PARAMS = [P.Param("condition", P.CONDITION, "A bool expression, e.g. amount > 100 and country != 'PL'.", True)]
PORTS = (DEFAULT_PORT, "false")
MULTI_INPUT = False
FAMILY = Family.FILTER


@dataclass
class FilterRuntime(NodeRuntime):
    condition: CompiledExpr

    def process(self, ctx: Ctx, ts: int, rt: Runtime):
        # null counts as false: a filter never lets an unknown through
        return ((DEFAULT_PORT if self.condition.fn(ctx) is True else "false", ctx),)


def summary(data: dict) -> str:
    """What `kairos graph` writes in the box."""
    return str(data.get("condition", ""))


def compile(spec, params, env: Env, cc: CompileContext) -> Compiled | None:
    condition = cc.condition(params.get("condition"), env)
    if condition is None:
        return None
    return Compiled(FilterRuntime(spec.id, condition), {DEFAULT_PORT: env, "false": env})
