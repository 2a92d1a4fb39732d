"""switch: route each event to the first case whose condition holds, or to `default`."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.lang import params as P
from jobs.lang.expr import CompiledExpr
from jobs.lang.loader import YList, YMap
from jobs.lang.params import Value
from jobs.nodes.base import CompileContext, Compiled, Ctx, Env, Family, NodeRuntime, Runtime

TYPE = "switch"
DOC = ("Ordered cases `[{name: gold, when: segment = 'gold'}, ...]`: the first true one wins; otherwise the event "
       "goes to the `default` port. Downstream nodes read `from: NODE.CASE`.")
CASES_SCHEMA = {
    "type": "array",
    "items": {"type": "object", "required": ["name", "when"], "additionalProperties": False,
              "properties": {"name": {"type": "string"}, "when": {"type": "string"}}},
}
PARAMS = [P.Param("cases", P.ANY, "The ordered cases: each a name (the port) and a condition.", True,
                  schema=CASES_SCHEMA)]
PORTS = ("<case name>", "default")
MULTI_INPUT = False
FAMILY = Family.FILTER


@dataclass
class SwitchRuntime(NodeRuntime):
    cases: list[tuple[str, CompiledExpr]]

    def process(self, ctx: Ctx, ts: int, rt: Runtime):
        for port, condition in self.cases:
            if condition.fn(ctx) is True:
                return ((port, ctx),)
        return (("default", ctx),)


def read_cases(raw: object, loc, cc: CompileContext, env: Env, what: str) -> list[tuple[str, CompiledExpr]] | None:
    if not isinstance(raw, YList) or not raw:
        cc.errors.error(loc, f"'{what}' must be a list of {{name, when}} cases")
        return None
    cases, seen, ok = [], set(), True
    for i, case in enumerate(raw):
        if not isinstance(case, YMap) or "name" not in case or "when" not in case or set(case) - {"name", "when"}:
            cc.errors.error(raw.item_loc(i), "each case needs exactly 'name' and 'when'")
            ok = False
            continue
        name = str(case["name"])
        if name in seen or name == "default":
            cc.errors.error(case.value_loc("name"), f"case name '{name}' is used twice (or is 'default')")
            ok = False
        seen.add(name)
        condition = cc.condition(Value(str(case["when"]), case.value_loc("when")), env, what=f"case '{name}'")
        if condition is None:
            ok = False
            continue
        cases.append((name, condition))
    return cases if ok else None


def summary(data: dict) -> str:
    """What `kairos graph` writes in the box."""
    cases = data.get("cases") or []
    return "cases: " + ", ".join(str(c.get("name")) for c in cases if isinstance(c, dict))


def compile(spec, params, env: Env, cc: CompileContext) -> Compiled | None:
    raw = params.get("cases")
    if raw is None:
        return None
    cases = read_cases(raw.value, raw.loc, cc, env, "cases")
    if cases is None:
        return None
    ports = {name: env for name, _ in cases} | {"default": env}
    return Compiled(SwitchRuntime(spec.id, cases), ports)
