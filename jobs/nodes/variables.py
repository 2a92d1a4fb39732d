"""variables: compute new named values from fields and earlier variables (evaluated in order)."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.lang import params as P
from jobs.lang.expr import CompiledExpr
from jobs.nodes.base import DEFAULT_PORT, CompileContext, Compiled, Ctx, Env, Family, NodeRuntime, Runtime, names

TYPE = "variables"
DOC = "Adds computed values to the event: `set: {name: expression, ...}`; each may use the ones before it."
PARAMS = [P.Param("set", P.EXPR_MAP, "Names and the expressions that compute them.", True)]
PORTS = (DEFAULT_PORT,)
MULTI_INPUT = False
FAMILY = Family.DECIDE


@dataclass
class VariablesRuntime(NodeRuntime):
    assignments: list[tuple[str, CompiledExpr]]

    def process(self, ctx: Ctx, ts: int, rt: Runtime):
        out = dict(ctx)  # a copy: sibling branches of a split must not see each other's variables
        for name, expr in self.assignments:
            out[name] = expr.fn(out)
        return ((DEFAULT_PORT, out),)


def summary(data: dict) -> str:
    """What `kairos graph` writes in the box."""
    return "set " + names(data.get("set"))


def compile(spec, params, env: Env, cc: CompileContext) -> Compiled | None:
    raw = params.get("set")
    if raw is None:
        return None
    cc.check_new_names(((n, raw.value.key_loc(n)) for n in raw.value), env, "variable")
    exprs = cc.expr_map(raw.value, env, "variable")
    if exprs is None:
        return None
    out_env = {**env, **{name: e.type for name, e in exprs.items()}}
    return Compiled(VariablesRuntime(spec.id, list(exprs.items())), {DEFAULT_PORT: out_env})
