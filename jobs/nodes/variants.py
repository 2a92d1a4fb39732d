"""What `experiment` and `bandit` nodes leave on an event, and how actions and detections carry it.

An assignment travels as event metadata (never a field the analyst can shadow):
  * `_experiments`: ((experiment, variant), ...) in the order the event met them, so an action or
    detection downstream writes `"experiments": {experiment: variant, ...}` into its record;
  * `_holdout`: the experiment whose hold-out control group the event is in. An action reached by such an
    event sends nothing: it records a detection of kind `holdout` with `would_have_sent: true`, at the
    moment it would have sent (after its delay and the contact policy), so the control group is measured
    on exactly the customers the treated path would have contacted.
An action under an experiment also records a `contact` detection (same id as the action): actions go to
Kafka only, and the outcome report (`kairos report`) must find every contact in Elasticsearch.

The assignment itself (`assign`) is weighted rendezvous hashing, see docs/decisions/0020-experiments-and-bandits.md.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from typing import Any

from jobs.lang.errors import Location
from jobs.lang.loader import YList, YMap
from jobs.nodes.base import DEFAULT_PORT, CompileContext, Ctx
from jobs.nodes.outputs import CONTROL_VARIANT, jsonable

EXPERIMENTS = "_experiments"
HOLDOUT = "_holdout"
CONTROL = CONTROL_VARIANT
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_SCALE = float(2**64)


def unit_hash(*parts: str) -> float:
    """A point in (0, 1) from text: the same on every machine, run and Python version (blake2b, not hash())."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return (int.from_bytes(digest, "big") + 0.5) / _SCALE


def assign(experiment: str, key: str, weights: Mapping[str, float]) -> str:
    """The variant of `key`: the one with the smallest -ln(u(experiment, variant, key)) / weight.

    Each variant draws an independent exponential "arrival" with rate = its weight, so a variant wins with
    probability weight / sum (an exponential race); a key's draws never change, so changing a weight moves
    keys only into a grown variant or out of a shrunk one, never between two untouched variants."""
    best, best_score = "", math.inf
    for variant, weight in weights.items():
        if weight <= 0:
            continue
        score = -math.log(unit_hash(experiment, variant, key)) / weight
        if score < best_score or (score == best_score and variant < best):
            best, best_score = variant, score
    return best


def tagged(ctx: Ctx, experiment: str, variant: str, target: str, holdout: bool) -> Ctx:
    out = {**ctx, target: variant, EXPERIMENTS: (*ctx.get(EXPERIMENTS, ()), (experiment, variant))}
    if holdout:
        out[HOLDOUT] = experiment
    return out


def experiments_of(ctx: Ctx) -> dict[str, str] | None:
    pairs = ctx.get(EXPERIMENTS)
    return dict(pairs) if pairs else None


def tag_record(record: dict, ctx: Ctx) -> dict:
    """An action or detection record with the assignments of the event it came from."""
    found = experiments_of(ctx)
    if found:
        record["experiments"] = found
    return record


def contact_detection(record: dict, key: Any, event: dict, kind: str, **fields: Any) -> dict:
    """The detection an action under an experiment leaves: `contact` (sent) or `holdout` (would have been)."""
    return {
        "id": record["id"], "scenario": record["scenario"], "node": record["node"], "kind": kind,
        "key": jsonable(key), "event_id": record["event_id"], "time": record["time"],
        "event": jsonable(event), "fields": {"channel": record["channel"], "to": record["to"], **fields},
        "experiments": record.get("experiments", {}),
    }


def variant_ports(variants: list[str]) -> dict[str, None]:
    return dict.fromkeys([DEFAULT_PORT, *variants])


def read_names(raw: Any, loc: Location, cc: CompileContext, what: str, reserved: tuple[str, ...]) -> bool:
    """Variant / arm names: identifiers, none reserved (a port name of its own: out, control)."""
    ok = True
    for i, name in enumerate(raw):
        where = raw.key_loc(name) if isinstance(raw, YMap) else raw.item_loc(i) if isinstance(raw, YList) else loc
        if not isinstance(name, str) or not _NAME.match(name):
            cc.errors.error(where, f"{what} name {name!r} must be a name (letters, digits, _; starts with a letter)")
            ok = False
        elif name in reserved:
            cc.errors.error(where, f"{what} name '{name}' is reserved (it is a port of its own)")
            ok = False
    return ok
