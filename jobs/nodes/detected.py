"""detected: record that something worth a look happened (a fraud suspicion, a churn signal) for Elasticsearch."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.lang import params as P
from jobs.lang.expr import CompiledExpr
from jobs.nodes.base import CompileContext, Compiled, Ctx, Env, Family, NodeRuntime, Output, Runtime
from jobs.nodes.outputs import iso_ms, jsonable, raw_input
from jobs.nodes.variants import tag_record

TYPE = "detected"
DOC = ("Records the event and chosen values as a detection (an Elasticsearch document in production). The "
       "document id is scenario:node:event id, so a replay overwrites instead of duplicating.")
PARAMS = [
    P.Param("kind", P.TEXT, "What was detected, e.g. card_velocity (default: the node id)."),
    P.Param("fields", P.EXPR_MAP, "Extra values to record: {name: expression}."),
]
PORTS = ()
MULTI_INPUT = False
FAMILY = Family.DETECTED


@dataclass
class DetectedRuntime(NodeRuntime):
    kind: str
    fields: list[tuple[str, CompiledExpr]]

    def process(self, ctx: Ctx, ts: int, rt: Runtime):
        event_id = ctx.get("_id")
        rt.emit(Output.DETECTED, tag_record({
            "id": f"{rt.scenario}:{self.id}:{event_id}",
            "scenario": rt.scenario, "node": self.id, "kind": self.kind, "key": jsonable(ctx.get("_key")),
            "event_id": event_id, "time": iso_ms(ts), "event": jsonable(raw_input(ctx)),
            "fields": {name: jsonable(expr.fn(ctx)) for name, expr in self.fields},
        }, ctx))
        return ()


def summary(data: dict) -> str:
    """What `kairos graph` writes in the box."""
    return f"kind {data.get('kind', '')}"


def compile(spec, params, env: Env, cc: CompileContext) -> Compiled | None:
    fields = {}
    if "fields" in params:
        fields = cc.expr_map(params["fields"].value, env, "field", sequential=False)
        if fields is None:
            return None
    kind = params["kind"].value if "kind" in params else spec.id
    return Compiled(DetectedRuntime(spec.id, kind, list(fields.items())), {}, terminal=True)
