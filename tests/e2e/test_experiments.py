"""experiment + bandit on the embedded Flink engine (and the harness), against an independent oracle.

The input: 1,500 decisions (one per customer) and conversions drawn in advance for a random 15% of them,
naming their action id 20 s after the decision, plus conversions with ids no decision has (dead letters).
The oracle replays the documented rules over the merged input in time order (tests/experiment_oracle.py):
the experiment's hash decides who is held out (20%), the bandit's seeded draws and counts decide every
other arm; a held-out customer is a `holdout` detection (would_have_sent) and not a trial of the bandit.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from tests.experiment_oracle import assign, replay

ENGINES = ["harness", pytest.param("flink", marks=pytest.mark.flink)]
BASE_MS = 1_793_600_000_000
ARMS = ["cashback", "data_5gb", "voice_300"]
SCENARIO = """\
name: exp_e2e
sources:
  tx:
    schema: {id: string, customer_id: string, ts: timestamp}
    key: customer_id
    time: ts
    id: id
  conversions:
    schema: {action_id: string, customer_id: string, ts: timestamp}
    key: customer_id
    time: ts
nodes:
  - {id: ab, type: experiment, from: tx, name: exp_q4, variants: {learned: 80}, control: 20}
  - id: pick
    type: bandit
    arms: [cashback, data_5gb, voice_300]
    feedback: {source: conversions, action_id: action_id}
    floor: 0.05
    seed: 3
  - {id: offer, type: action, channel: sms, payload: {offer: arm, group: variant}}
"""


def make_inputs(seed: int = 21, n: int = 1500) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    decisions = [{"id": f"e{i}", "customer_id": f"c{i}", "ts": BASE_MS + 1000 * i} for i in range(n)]
    conversions = [{"action_id": f"exp_e2e:offer:e{i}", "customer_id": f"c{i}", "ts": BASE_MS + 1000 * i + 20_500}
                   for i in range(n) if rng.random() < 0.15]
    for j in range(5):  # ids that no decision has: a typo'd event, another scenario's action
        conversions.insert(10 * j, {"action_id": "exp_e2e:offer:nope" if j % 2 else f"other:offer:e{j}",
                                    "customer_id": "x", "ts": conversions[10 * j]["ts"]})
    conversions.sort(key=lambda c: c["ts"])
    return decisions, conversions


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    base: Path = tmp_path_factory.mktemp("experiments")
    decisions, conversions = make_inputs()
    (base / "exp_e2e.yaml").write_text(SCENARIO, encoding="utf-8")
    (base / "tx.jsonl").write_text("".join(json.dumps(e) + "\n" for e in decisions), encoding="utf-8")
    (base / "conv.jsonl").write_text("".join(json.dumps(e) + "\n" for e in conversions), encoding="utf-8")
    # the merged order of a file run: by time (these times never tie across files)
    merged = sorted([("tx", d) for d in decisions] + [("conversions", c) for c in conversions],
                    key=lambda item: item[1]["ts"])
    files = {"tx": str(base / "tx.jsonl"), "conversions": str(base / "conv.jsonl")}
    return str(base / "exp_e2e.yaml"), files, merged


@pytest.fixture(params=ENGINES)
def result(request, case, harness_run, flink_run):
    engine = harness_run if request.param == "harness" else flink_run
    return engine(case[0], case[1])


def expected(merged):
    held = {e["id"] for s, e in merged if s == "tx" and assign("exp_q4", e["customer_id"],
                                                               {"learned": 80, "control": 20}) == "control"}
    chosen, dead = replay(merged, arms=ARMS, seed=3, name="pick", floor=0.05, scenario="exp_e2e",
                          decision_source="tx", id_field="id", action_field="action_id", holdout=held)
    return held, chosen, dead


def test_arms_and_holdouts_match_the_oracle(case, result):
    held, chosen, dead = expected(case[2])
    sent = {a["event_id"]: a for a in result.actions}
    assert set(sent) == set(chosen) - held and 250 < len(held) < 350
    for event_id, action in sent.items():
        assert action["payload"] == {"offer": chosen[event_id], "group": "learned"}
        assert action["experiments"] == {"exp_q4": "learned", "pick": chosen[event_id]}
    holdouts = {d["event_id"]: d for d in result.detected if d["kind"] == "holdout"}
    assert set(holdouts) == held
    for event_id, d in holdouts.items():
        assert d["fields"]["would_have_sent"] is True and d["experiments"] == {"exp_q4": "control",
                                                                             "pick": chosen[event_id]}
    contacts = {d["event_id"] for d in result.detected if d["kind"] == "contact"}
    assert contacts == set(sent)


def test_unknown_conversions_are_dead_letters(case, result):
    _, _, dead = expected(case[2])
    assert sorted(d["raw"]["action_id"] for d in result.dead_letter) == sorted(c["action_id"] for c in dead)
    assert len(dead) == 5 and all(d["node"] == "pick" for d in result.dead_letter)
    counts = result.counts["pick"]
    assert counts["in"] == counts["out"] + counts["filtered"] + counts["dead_letter"] + counts["held"]
    assert counts["dead_letter"] == 5 and counts["out"] == 1500


def test_the_input_teaches_something(case):
    held, chosen, _ = expected(case[2])
    shares = Counter(arm for e, arm in chosen.items() if e not in held)
    assert min(shares.values()) > 0.05 * len(chosen) * 0.8  # the floor: every arm is tried
