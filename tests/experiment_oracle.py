"""Independent replays of the experiment's and the bandit's documented rules (docs/scenarios.md), for tests.

The experiment: the variant with the smallest -ln(u) / weight, u = (blake2b-64 of "EXPERIMENT\x1fVARIANT\x1fKEY"
+ 0.5) / 2**64. The bandit: given the merged input in the order the job sees it, which arm every decision
takes and which conversions are dead letters: counts per arm start at 0; a decision draws from random.Random("SEED:NAME:
EVENT_ID"): first a uniform number (below floor x arms: a uniform arm), else one Beta(1 + conversions,
1 + decisions - conversions) draw per arm in the listed order, the largest (the first on a tie) wins.
"""

from __future__ import annotations

import hashlib
import math
import random


def assign(experiment: str, key: str, weights: dict[str, float]) -> str:
    scores = {}
    for variant, weight in weights.items():
        digest = hashlib.blake2b(f"{experiment}\x1f{variant}\x1f{key}".encode(), digest_size=8).digest()
        if weight > 0:
            scores[variant] = -math.log((int.from_bytes(digest, "big") + 0.5) / 2**64) / weight
    return min(sorted(scores), key=scores.__getitem__)


def replay(inputs: list[tuple[str, dict]], *, arms: list[str], seed: int, name: str, floor: float,
           scenario: str, decision_source: str, id_field: str, action_field: str,
           holdout: set[str] = frozenset()) -> tuple[dict, list]:
    """(event id -> arm, [dead conversion]) for a bandit matched by action id; `holdout`: the event ids of
    held-out customers (chosen for, but no trial: neither their decision nor a conversion counts)."""
    n = {a: 0 for a in arms}
    s = {a: 0 for a in arms}
    chosen: dict[str, str] = {}
    converted: set[str] = set()
    dead = []
    for source, event in inputs:
        if source == decision_source:
            rng = random.Random(f"{seed}:{name}:{event[id_field]}")
            if rng.random() < floor * len(arms):
                arm = arms[rng.randrange(len(arms))]
            else:
                draws = [rng.betavariate(1 + s[a], 1 + n[a] - s[a]) for a in arms]
                arm = arms[draws.index(max(draws))]
            n[arm] += 0 if event[id_field] in holdout else 1
            chosen[event[id_field]] = arm
            continue
        parts = str(event[action_field]).split(":", 2)
        if len(parts) != 3 or parts[0] != scenario or parts[2] not in chosen:
            dead.append(event)
        elif parts[2] not in converted and parts[2] not in holdout:
            converted.add(parts[2])
            s[chosen[parts[2]]] += 1
    return chosen, dead
