"""experiment: an A/B(/n) test. Each customer gets a variant by a stable hash, with an optional hold-out.

Stateless: the variant is a pure function of (experiment name, customer key, weights), so it needs no
state, is the same in every run, on every subtask and after a restore, and a customer keeps their variant
as long as the weights stay. Weighted rendezvous hashing (jobs/nodes/variants.py) makes a weight change
move only the customers it must (docs/decisions/0020-experiments-and-bandits.md has the measurement).

The event leaves on `out` and on the port named after its variant, with the variant in a variable (`as`,
default `variant`) and in the `experiments` field of every action and detection downstream. The hold-out
group (`control: WEIGHT`) flows on too: actions it reaches record a `holdout` detection with
`would_have_sent: true` instead of sending.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from jobs.lang import params as P
from jobs.lang.expr import CompiledExpr
from jobs.lang.loader import YMap
from jobs.lang.parameters import PARAM, ParamType
from jobs.lang.types import STRING
from jobs.nodes.base import DEFAULT_PORT, CompileContext, Compiled, Ctx, Env, Family, NodeRuntime, Runtime
from jobs.nodes.variants import CONTROL, assign, read_names, tagged

TYPE = "experiment"
FAMILY = Family.FILTER
DOC = ("Splits customers into named variants by a stable hash of (experiment name, key): `variants: {a: 50, b: 50}` "
       "(weights), `control: 10` holds out a control group that gets no action (a `holdout` detection with "
       "would_have_sent: true instead). The event leaves on `out` and on its variant's port, with the variant in "
       "a variable (`as`) and in the `experiments` field of every action and detection downstream.")
# a weight may be a live parameter (`param.NAME`, decision 0023): read per event from the values stamped on it
_WEIGHT = {"anyOf": [{"type": "number", "minimum": 0},
                     {"type": "string", "pattern": "^param\\.[A-Za-z][A-Za-z0-9_]*$"}]}
PARAMS = [
    P.Param("variants", P.ANY, "{variant: weight, ...}: names and relative weights (numbers >= 0, sum > 0).", True,
            schema={"type": "object", "minProperties": 1, "additionalProperties": _WEIGHT}),
    P.Param("control", P.ANY, "The weight of the hold-out group `control` (no action; recorded as a detection).",
            schema=_WEIGHT),
    P.Param("name", P.NAME, "The experiment's name, part of the hash (default: the node id). A new name "
            "reshuffles everyone; keep it while the experiment runs."),
    P.Param("key", P.EXPR, "Who is assigned (default: the event's key, e.g. the customer id)."),
    P.Param("as", P.NAME, "The variable that holds the variant.", default="variant"),
]
PORTS = (DEFAULT_PORT, "<variant name>", CONTROL)
MULTI_INPUT = False


@dataclass
class ExperimentRuntime(NodeRuntime):
    name: str
    weights: dict[str, float]  # the variants and, when there is a hold-out, CONTROL
    key: CompiledExpr | None
    target: str
    live: tuple[tuple[str, str], ...] = ()  # (variant, parameter): weights that are live parameters

    def process(self, ctx: Ctx, ts: int, rt: Runtime):
        key = self.key.fn(ctx) if self.key is not None else ctx.get("_key")
        if key is None:
            raise ValueError("the experiment key is null: the event cannot be assigned a variant")
        weights = self.weights
        if self.live:
            values = ctx[PARAM]
            weights = {**weights, **{variant: float(values[p]) for variant, p in self.live}}
            if sum(w for v, w in weights.items() if v != CONTROL) <= 0:
                shown = ", ".join(f"{p}={values[p]}" for _, p in self.live)
                raise ValueError(f"the variants' weights sum to 0 ({shown}): the event cannot be assigned a variant")
        variant = assign(self.name, str(key), weights)
        out = tagged(ctx, self.name, variant, self.target, holdout=variant == CONTROL)
        return ((DEFAULT_PORT, out), (variant, out))


def summary(data: dict) -> str:
    """What `kairos graph` writes in the box."""
    variants = data.get("variants")
    parts = [f"{k} {v}" for k, v in variants.items()] if isinstance(variants, dict) else []
    if data.get("control") is not None:
        parts.append(f"control {data['control']}")
    return " / ".join(parts)


def live_weight(raw: str, loc, cc: CompileContext, what: str) -> tuple[float, str] | None:
    """`param.NAME` as a weight: a declared float or int parameter that can never be negative (`min` >= 0);
    (its default, NAME)."""
    name = raw[len(PARAM) + 1:]
    declared = cc.scenario.parameters.get(name)
    if declared is None:
        known = ", ".join(cc.scenario.parameters) or "none declared"
        cc.errors.error(loc, f"{what}: unknown parameter '{name}' (parameters: {known})")
        return None
    if declared.type not in (ParamType.FLOAT, ParamType.INT) or declared.min is None or declared.min < 0:
        cc.errors.error(loc, f"{what}: parameter '{name}' must be a float or int with min >= 0 to be a weight")
        return None
    return float(declared.default), name


def read_weight(raw: object, loc, cc: CompileContext, what: str) -> float | None:
    if isinstance(raw, str) and raw.startswith(PARAM + "."):
        weight = live_weight(raw, loc, cc, what)
        return None if weight is None else weight[0]
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        cc.errors.error(loc, f"{what} must be a number, not {P.shown(raw)}")
        return None
    if raw < 0:
        cc.errors.error(loc, f"{what} must not be negative, got {raw}")
        return None
    return float(raw)


def compile(spec, params, env: Env, cc: CompileContext) -> Compiled | None:
    raw = params.get("variants")
    if raw is None:
        return None
    variants = raw.value
    if not isinstance(variants, YMap) or not variants:
        cc.errors.error(raw.loc, "'variants' must be a mapping {variant: weight, ...}")
        return None
    ok = read_names(variants, raw.loc, cc, "variant", (DEFAULT_PORT, CONTROL, "default"))
    weights: dict[str, float] = {}
    for name, value in variants.items():
        weight = read_weight(value, variants.value_loc(name), cc, f"the weight of variant '{name}'")
        ok = ok and weight is not None
        weights[name] = weight or 0.0
    if ok and sum(weights.values()) <= 0:
        cc.errors.error(raw.loc, "the variants' weights must sum to a positive number")
        ok = False
    if "control" in params:
        weight = read_weight(params["control"].value, params["control"].loc, cc, "'control'")
        ok = ok and weight is not None
        weights[CONTROL] = weight or 0.0
    live = tuple((v, w[len(PARAM) + 1:]) for v, w in [*variants.items(), (CONTROL, params["control"].value if
                  "control" in params else None)] if isinstance(w, str) and w.startswith(PARAM + "."))
    target = params["as"].value
    cc.check_new_names([(target, params["as"].loc)], env, "variable")
    key = cc.expr(params.get("key"), env, what="'key'")
    if not ok or ("key" in params and key is None) or target in env:
        return None
    name = params["name"].value if "name" in params else spec.id
    out_env = {**env, target: STRING}
    ports = {DEFAULT_PORT: out_env, **{v: out_env for v in weights}}
    return Compiled(ExperimentRuntime(spec.id, name, weights, key, target, live), ports)
