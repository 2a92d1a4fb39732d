"""decide: prioritised rules or a decision table; the first match sets the decision variables."""

from __future__ import annotations

import re
from dataclasses import dataclass

from jobs.lang import params as P
from jobs.lang.expr import CompiledExpr
from jobs.lang.loader import YList, YMap
from jobs.lang.params import Value
from jobs.lang.types import Type, common_type
from jobs.nodes.base import DEFAULT_PORT, CompileContext, Compiled, Ctx, Env, Family, NodeRuntime, Runtime

TYPE = "decide"
DOC = ("Sets decision variables from the first matching rule (`rules: [{when, then}]`) or decision-table row "
       "(`table: {inputs, outputs, rows}`). No match: `default` applies, or the event stops here (counted as "
       "filtered).")
_THEN = {"oneOf": [{"type": ["string", "number", "boolean", "null"]}, {"type": "object"}]}
PARAMS = [
    P.Param("output", P.NAME, "The variable set when `then`/`default` is a single expression."),
    P.Param("rules", P.ANY, "Ordered rules; each `{when: condition, then: expression or {name: expression}}`.",
            schema={"type": "array", "items": {"type": "object", "required": ["when", "then"],
                                               "properties": {"when": {"type": "string"}, "then": _THEN}}}),
    P.Param("table", P.ANY, "A decision table: `inputs` (expressions), `outputs` (names), `rows` (cells). "
            "An input cell is '*' (any), an operator and value ('< 100', 'in (1, 2)') or a value (equality).",
            schema={"type": "object", "required": ["inputs", "outputs", "rows"]}),
    P.Param("default", P.ANY, "What to set when nothing matches (same shape as `then`).", schema=_THEN),
]
PORTS = (DEFAULT_PORT,)
MULTI_INPUT = False
FAMILY = Family.DECIDE
_OPERATOR_CELL = re.compile(r"^\s*(<=|>=|<>|!=|<|>|=|==|in\b|not\b|between\b|like\b|is\b)", re.IGNORECASE)


@dataclass
class DecideRuntime(NodeRuntime):
    rules: list[tuple[list[CompiledExpr], list[tuple[str, CompiledExpr]]]]
    default: list[tuple[str, CompiledExpr]] | None

    def process(self, ctx: Ctx, ts: int, rt: Runtime):
        for conditions, assignments in self.rules:
            if all(c.fn(ctx) is True for c in conditions):
                return ((DEFAULT_PORT, _assign(ctx, assignments)),)
        if self.default is not None:
            return ((DEFAULT_PORT, _assign(ctx, self.default)),)
        return ()


def _assign(ctx: Ctx, assignments: list[tuple[str, CompiledExpr]]) -> Ctx:
    out = dict(ctx)
    for name, expr in assignments:
        out[name] = expr.fn(ctx)
    return out


def _text(raw: object) -> str:
    """A YAML scalar as expression text (YAML turns `true` and `5` into Python values)."""
    return "null" if raw is None else str(raw).lower() if isinstance(raw, bool) else str(raw)


class _Outcomes:
    """Collects what each rule sets and checks that every rule sets the same names with compatible types."""

    def __init__(self, cc: CompileContext, env: Env, output: str | None):
        self.cc, self.env, self.output = cc, env, output
        self.types: dict[str, Type] = {}

    def read(self, raw: object, loc, what: str) -> list[tuple[str, CompiledExpr]] | None:
        if isinstance(raw, YMap):
            items = [(k, Value(_text(v), raw.value_loc(k))) for k, v in raw.items()]
        elif self.output is None:
            self.cc.errors.error(loc, f"{what} is a single expression, so the node needs 'output: NAME'")
            return None
        else:
            items = [(self.output, Value(_text(raw), loc))]
        out = []
        for name, value in items:
            compiled = self.cc.expr(value, self.env, what=f"{what} '{name}'")
            if compiled is None:
                return None
            known = self.types.get(name)
            merged = compiled.type if known is None else common_type(known, compiled.type)
            if merged is None:
                self.cc.errors.error(value.loc, f"'{name}' is {compiled.type} here but {known} in an earlier rule")
                return None
            self.types[name] = merged
            out.append((name, compiled))
        return out


def _table_rules(table: YMap, loc, cc: CompileContext, env: Env, outcomes: _Outcomes):
    inputs, outputs, rows = table.get("inputs"), table.get("outputs"), table.get("rows")
    if not (isinstance(inputs, YList) and isinstance(outputs, YList) and isinstance(rows, YList)):
        cc.errors.error(loc, "a decision table needs 'inputs' (list), 'outputs' (list of names) and 'rows' (list)")
        return None
    rules = []
    for r, row in enumerate(rows):
        if not isinstance(row, YList) or len(row) != len(inputs) + len(outputs):
            cc.errors.error(rows.item_loc(r), f"row {r + 1} needs {len(inputs)} input and {len(outputs)} output cells")
            continue
        conditions = []
        for i, cell in enumerate(row[: len(inputs)]):
            text = str(cell).strip() if not isinstance(cell, bool) else str(cell).lower()
            if text in ("*", "-", ""):
                continue
            source = f"({inputs[i]}) {text}" if _OPERATOR_CELL.match(text) else f"({inputs[i]}) = ({text})"
            compiled = cc.condition(Value(source, row.item_loc(i)), env, what=f"row {r + 1}, column {i + 1}")
            if compiled is not None:
                conditions.append(compiled)
        then = YMap({str(outputs[j]): row[len(inputs) + j] for j in range(len(outputs))})
        then.loc, then.key_locs = row.loc, {}
        then.value_locs = {str(outputs[j]): row.item_loc(len(inputs) + j) for j in range(len(outputs))}
        assignments = outcomes.read(then, row.loc, f"row {r + 1}")
        if assignments is not None:
            rules.append((conditions, assignments))
    return rules


def summary(data: dict) -> str:
    """What `kairos graph` writes in the box."""
    rules = data.get("rules")
    table = data.get("table") if isinstance(data.get("table"), dict) else {}
    outputs = ", ".join(str(o) for o in table.get("outputs") or [])
    shape = f"{len(rules)} rules" if isinstance(rules, list) else f"table → {outputs}"
    return shape + (f" → {data['output']}" if "output" in data else "")


def compile(spec, params, env: Env, cc: CompileContext) -> Compiled | None:
    errors_before = len(cc.errors.diagnostics)
    output = params["output"].value if "output" in params else None
    outcomes = _Outcomes(cc, env, output)
    if ("rules" in params) == ("table" in params):
        cc.errors.error(spec.loc, "decide needs exactly one of 'rules' or 'table'")
        return None
    rules: list = []
    if "rules" in params:
        raw = params["rules"].value
        if not isinstance(raw, YList) or not raw:
            cc.errors.error(params["rules"].loc, "'rules' must be a non-empty list of {when, then}")
            return None
        for i, rule in enumerate(raw):
            if not isinstance(rule, YMap) or set(rule) != {"when", "then"}:
                cc.errors.error(raw.item_loc(i), "each rule needs exactly 'when' and 'then'")
                continue
            when = cc.condition(Value(str(rule["when"]), rule.value_loc("when")), env, what=f"rule {i + 1}")
            then = outcomes.read(rule["then"], rule.value_loc("then"), f"rule {i + 1}")
            if when is not None and then is not None:
                rules.append(([when], then))
    else:
        table = params["table"]
        if not isinstance(table.value, YMap):
            cc.errors.error(table.loc, "'table' must be a mapping with inputs, outputs and rows")
            return None
        rules = _table_rules(table.value, table.loc, cc, env, outcomes) or []
    default = None
    if "default" in params:
        default = outcomes.read(params["default"].value, params["default"].loc, "default")
    if len(cc.errors.diagnostics) > errors_before:
        return None
    cc.check_new_names(((n, spec.loc) for n in outcomes.types), env, "decision variable")
    return Compiled(DecideRuntime(spec.id, rules, default), {DEFAULT_PORT: {**env, **outcomes.types}})
