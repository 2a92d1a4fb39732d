"""cancel_if of a delayed action: which events may cancel it, and the search at its due time (jobs/nodes/action.py).

The condition reads the cancelling event's fields by name and the delayed event's values as `trigger.NAME`.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs.lang import params as P
from jobs.lang.expr import CompiledExpr
from jobs.lang.model import SourceKind
from jobs.lang.types import RecordType
from jobs.nodes.base import CompileContext, Env, Output, Runtime
from jobs.nodes.outputs import dead_letter, iso_ms

CANCEL_PARAMS = [
    P.Param("source", P.NAME, "The source (events or changelog) whose events may cancel the action.", True),
    P.Param("condition", P.CONDITION, "Over that event's fields and trigger.NAME (the delayed event's values).",
            True),
]


@dataclass
class Cancel:
    source: str
    condition: CompiledExpr
    trigger_names: tuple[str, ...]  # the delayed event's values the condition may read
    changelog: bool  # updates of a changelog source (on_changelog), else events of an events source (process)
    has_id: bool  # the source declares an id field (else an event's id is a hash of its line: not shown)

    def cancelled_by(self, entry: dict, cancellers, node_id: str, rt: Runtime) -> dict | None:
        """The first kept event (by time) in [trigger time, due time) for which the condition holds."""
        for c_ts in sorted(k for k in cancellers.keys() if entry["ts"] <= k < entry["due"]):
            for event_id, fields in cancellers.get(c_ts):
                try:
                    if self.condition.fn({**fields, "trigger": entry["trigger"]}) is True:
                        return {"source": self.source, "time": iso_ms(c_ts), "id": event_id if self.has_id else None}
                except Exception as exc:  # noqa: BLE001 - a failing condition cancels nothing; the reason is kept
                    rt.emit(Output.DEAD_LETTER, dead_letter(rt.scenario, node_id, f"cancel_if: {exc}", fields, c_ts))
        return None


def compile_cancel(value: P.Value, env: Env, delay_ms: int | None, cc: CompileContext) -> Cancel | None:
    raw = value.value
    if not isinstance(raw, dict) or not hasattr(raw, "loc"):
        cc.errors.error(value.loc, "'cancel_if' must be a mapping {source: NAME, condition: EXPR}")
        return None
    v = P.read_params(raw, CANCEL_PARAMS, cc.errors, what="cancel_if")
    if not delay_ms:
        cc.errors.error(value.loc, "'cancel_if' needs a 'delay': only a delayed action can be cancelled")
        return None
    if "source" not in v or "condition" not in v:
        return None
    name = v["source"].value
    source = cc.sources.get(name)
    if source is None:
        cc.errors.error(v["source"].loc, f"unknown source '{name}'{P.did_you_mean(name, list(cc.sources))}")
        return None
    if "trigger" in source.schema.fields:
        cc.errors.error(v["source"].loc, f"source '{name}' has a field 'trigger', the name cancel_if gives the "
                                         "delayed event")
        return None
    condition = cc.condition(v["condition"], {**source.schema.fields, "trigger": RecordType(dict(env))},
                             what="cancel_if")
    return None if condition is None else Cancel(name, condition, tuple(env), source.kind == SourceKind.CHANGELOG,
                                                      source.id is not None)
