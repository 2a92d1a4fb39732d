"""bandit: choose among offer variants by Thompson sampling, learning from conversion events.

A bandit's statistics are global (one posterior per arm for everyone), while Flink keyed state is per key.
Here the node is keyed by a constant, its name: every decision and every conversion of one bandit goes to
the same key, so the per-arm counts are one ValueState (`stats`: arm -> [decisions, conversions]) and the
open decisions one MapState (`decisions`: hash of the action or customer id -> [arm, time, hold-out,
converted, id], with the attribution `window` as TTL). Both are checkpointed and restored like any keyed
state, and a decision always sees every conversion that reached the operator before it: no staleness
beyond the feedback's own delay, at the cost of running this bandit's decisions on one subtask
(docs/decisions/0020).

A conversion naming an action id the bandit has no decision for is a dead letter (a wrong id, another
scenario's, or one older than `window`); by customer, a customer it never chose for is no error (they
convert in other variants or by themselves) and is only counted `filtered`, like every conversion.

Choice: with probability `floor` x arms a uniformly random arm (the exploration floor: no arm's share
falls below `floor`), otherwise the arm with the largest draw from Beta(1 + conversions, 1 + decisions -
conversions). The draws come from a generator seeded by (seed, bandit name, event id): no random state to
keep, and a replay of the same input in the same order makes the same choices.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from enum import StrEnum

from jobs.lang import params as P
from jobs.lang.expr import CompiledExpr, compile_expression
from jobs.lang.loader import YList, YMap
from jobs.lang.params import Value
from jobs.lang.types import STRING
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
from jobs.nodes.variants import HOLDOUT, read_names, tagged

TYPE = "bandit"
FAMILY = Family.DECIDE
FEEDBACK_PORT = "feedback"  # where conversion events leave: no node reads it, so they count as `filtered`


class Match(StrEnum):
    ACTION_ID = "action_id"  # the conversion names the action (scenario:node:event), as the gateway got it
    CUSTOMER = "customer"  # the conversion names the customer: the bandit's latest decision for them


DOC = ("Chooses one of `arms` per event by Thompson sampling over Beta posteriors, learning from the conversion "
       "events of a `feedback` source ({source, action_id: EXPR} or {source, customer: EXPR}). The arm is in "
       "a variable (`as`), in the `experiments` field of actions and detections downstream, and the event "
       "leaves on `out` and on its arm's port. `floor` keeps every arm's share at least that high.")
_FEEDBACK_SCHEMA = {"type": "object", "required": ["source"], "additionalProperties": False,
                    "properties": {"source": {"type": "string"}, "action_id": {"type": "string"},
                                   "customer": {"type": "string"}}}
PARAMS = [
    P.Param("arms", P.ANY, "The variants to choose among: [name, ...] (at least 2).", True,
            schema={"type": "array", "minItems": 2, "items": {"type": "string"}}),
    P.Param("feedback", P.ANY, "{source: NAME, action_id: EXPR} (a conversion names the action id) or "
            "{source: NAME, customer: EXPR} (the customer's latest decision converts).", True,
            schema=_FEEDBACK_SCHEMA),
    P.Param("floor", P.ANY, "Exploration floor: every arm is chosen with probability at least this "
            "(0 <= floor <= 1 / arms; default 0.01).", schema={"type": "number", "minimum": 0, "maximum": 1}),
    P.Param("window", P.DURATION, "How long a decision waits for its conversion (state TTL).", default="7d"),
    P.Param("seed", P.INT, "Seed of the draws (with the event id): the same input gives the same choices.",
            default=0),
    P.Param("name", P.NAME, "The bandit's name (default: the node id): its state key and experiment name."),
    P.Param("as", P.NAME, "The variable that holds the chosen arm.", default="arm"),
]
PORTS = (DEFAULT_PORT, "<arm name>")
MULTI_INPUT = False


def map_key(text: str) -> int:
    """MapState keys are Java longs in kairos' operators: an id becomes its 63-bit blake2b hash, and the entry
    keeps the id itself to tell a (practically impossible) collision from a match."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big") >> 1


@dataclass
class BanditRuntime(NodeRuntime):
    name: str
    arms: list[str]
    source: str
    match: Match
    match_expr: CompiledExpr
    floor: float
    seed: int
    target: str
    window_ms: int

    def choose(self, stats: dict[str, list[int]], event_id: str) -> str:
        rng = random.Random(f"{self.seed}:{self.name}:{event_id}")  # str seeds hash with SHA-512: stable
        if rng.random() < self.floor * len(self.arms):
            return self.arms[rng.randrange(len(self.arms))]
        draws = [rng.betavariate(1 + stats[a][1], 1 + stats[a][0] - stats[a][1]) for a in self.arms]
        return self.arms[max(range(len(self.arms)), key=draws.__getitem__)]

    def process(self, ctx: Ctx, ts: int, rt: Runtime):
        state = rt.value_state(self.id, "stats")
        stats = state.value() or {arm: [0, 0] for arm in self.arms}
        decisions = rt.map_state(self.id, "decisions")
        if ctx.get("_src") == self.source:
            self._learn(ctx, stats, decisions, state, rt)
            return ((FEEDBACK_PORT, ctx),)
        arm = self.choose(stats, str(ctx.get("_id")))
        holdout = HOLDOUT in ctx  # a hold-out gets no action: not a trial of the arm
        if not holdout:
            stats[arm][0] += 1
            state.update(stats)
        match_key = str(ctx.get("_id")) if self.match == Match.ACTION_ID else str(ctx.get("_key"))
        decisions.put(map_key(match_key), [arm, ts, holdout, False, match_key])
        out = tagged(ctx, self.name, arm, self.target, holdout=False)
        return ((DEFAULT_PORT, out), (arm, out))

    def _learn(self, ctx: Ctx, stats: dict, decisions, state, rt: Runtime) -> None:
        value = self.match_expr.fn(ctx)
        if value is None:
            raise ValueError(f"conversion without {self.match}: cannot attribute it to a decision")
        match_key = str(value)
        if self.match == Match.ACTION_ID:
            scenario, _, rest = match_key.partition(":")
            _node, _, match_key = rest.partition(":")
            if scenario != rt.scenario or not match_key:
                raise ValueError(f"conversion for action id {value!r}: not an action of scenario '{rt.scenario}' "
                                 "(ids are scenario:node:event)")
        decision = decisions.get(map_key(match_key))
        if decision is not None and decision[4] != match_key:
            decision = None  # another id with the same 63-bit hash (about 1 in 10^18 per pair): unknown
        if decision is None and self.match == Match.CUSTOMER:
            return  # customers the bandit never chose for convert too (other variants, organic): not an error
        if decision is None:
            raise ValueError(f"conversion for an unknown {self.match} {value!r}: bandit '{self.name}' made no "
                             "decision for it within its window")
        arm, when, holdout, converted, _ = decision
        if converted or holdout:  # one conversion per decision; a hold-out's teaches nothing about an arm
            return
        decisions.put(map_key(match_key), [arm, when, holdout, True, match_key])
        stats[arm][1] += 1
        state.update(stats)

    def state_specs(self) -> list[StateSpec]:
        return [StateSpec(self.id, "stats", StateKind.VALUE),
                StateSpec(self.id, "decisions", StateKind.MAP, self.window_ms)]


def summary(data: dict) -> str:
    """What `kairos graph` writes in the box."""
    arms = data.get("arms")
    feedback = data.get("feedback")
    source = feedback.get("source") if isinstance(feedback, dict) else "?"
    return "Thompson: " + (", ".join(str(a) for a in arms) if isinstance(arms, list) else "") + f" ← {source}"


def _read_feedback(raw: Value, cc: CompileContext) -> tuple[str, Match, CompiledExpr] | None:
    data = raw.value
    if not isinstance(data, YMap) or "source" not in data:
        cc.errors.error(raw.loc, "'feedback' must be {source: NAME, action_id: EXPR} or {source: NAME, customer: EXPR}")
        return None
    source = str(data["source"])
    spec = cc.sources.get(source)
    if spec is None or spec.kind != "events":
        known = [n for n, s in cc.sources.items() if s.kind == "events"]
        cc.errors.error(data.value_loc("source"), f"feedback source '{source}' is not an events source of the "
                                                  f"scenario{P.did_you_mean(source, known)}")
        return None
    given = [m for m in Match if m in data]
    unknown = [k for k in data if k != "source" and k not in set(Match)]
    if unknown or len(given) != 1:
        where = data.key_loc(unknown[0]) if unknown else raw.loc
        cc.errors.error(where, "'feedback' needs exactly one of action_id: EXPR or customer: EXPR besides source")
        return None
    match = given[0]
    text = data[match]
    expr = cc.expr(Value(str(text), data.value_loc(match)), dict(spec.schema.fields), what=f"feedback {match}")
    return (source, match, expr) if expr is not None else None


def compile(spec, params, env: Env, cc: CompileContext) -> Compiled | None:
    raw_arms, raw_feedback = params.get("arms"), params.get("feedback")
    if raw_arms is None or raw_feedback is None:
        return None
    arms = raw_arms.value
    ok = True
    if not isinstance(arms, YList) or len(arms) < 2 or len(set(map(str, arms))) != len(arms):
        cc.errors.error(raw_arms.loc, "'arms' must be a list of at least 2 different names")
        ok = False
    else:
        ok = read_names(arms, raw_arms.loc, cc, "arm", (DEFAULT_PORT, FEEDBACK_PORT, "default"))
    floor = 0.01
    if "floor" in params:
        value, loc = params["floor"].value, params["floor"].loc
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            cc.errors.error(loc, f"'floor' must be a number >= 0, not {P.shown(value)}")
            ok = False
        elif ok and value * len(arms) > 1:
            cc.errors.error(loc, f"'floor' {value} x {len(arms)} arms is more than 1: at most {1 / len(arms):.4g}")
            ok = False
        else:
            floor = float(value)
    window = params["window"].value
    window_ms = P.parse_duration_ms(window) if isinstance(window, str) else window  # the default is text
    if not window_ms or window_ms <= 0:
        cc.errors.error(params["window"].loc, "'window' must be longer than 0")
        ok = False
    feedback = _read_feedback(raw_feedback, cc)
    target = params["as"].value
    cc.check_new_names([(target, params["as"].loc)], env, "variable")
    if not ok or feedback is None or target in env:
        return None
    name = params["name"].value if "name" in params else spec.id
    source, match, match_expr = feedback
    arms = [str(a) for a in arms]
    runtime = BanditRuntime(spec.id, name, arms, source, match, match_expr, floor, params["seed"].value, target,
                            window_ms)
    out_env = {**env, target: STRING}
    # keyed by a constant: the bandit's statistics are one state for all customers (see the module doc)
    key = compile_expression(f"'{name}'", env)
    return Compiled(runtime, {DEFAULT_PORT: out_env, **{a: out_env for a in arms}}, keyed=True, key=key,
                    extra_sources=[(source, raw_feedback.loc)])
