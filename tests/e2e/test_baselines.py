"""The compiled fraud scenario against the hand-written PyFlink job (bench/baselines/fraud_datastream.py): on a
generated input with out-of-order, late, refunded and malformed transactions both give the same actions and
detections, record for record, and the same dead letters. The hand-written job shares no code with kairos, so
it is an independent oracle; bench/oracle.py (plain Python) checks the counts of both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import inputs, oracle
from bench.baselines import fraud_datastream
from tests.conftest import normalised

SCENARIO = "scenarios/card_fraud_velocity/card_fraud_velocity.yaml"


def _dead(records: list[dict]) -> list[dict]:
    # the error texts are worded differently; which line died where, with what input, must agree
    return sorted(({k: v for k, v in r.items() if k != "error"} for r in records),
                  key=lambda r: json.dumps(r, sort_keys=True))


@pytest.mark.flink
def test_compiled_fraud_equals_hand_written_job(flink_run, tmp_path: Path) -> None:
    events = tmp_path / "transactions.jsonl"
    inputs.fraud(events, 8000, seed=7, cards=1000)  # fewer cards than the bench: busier windows
    want = oracle.fraud_counts(events)["arrival"]
    assert want["late"] > 0 and want["bad"] > 0 and want["actions"] > 0 and want["detected"] > want["actions"]

    compiled = flink_run(SCENARIO, {"transactions": str(events)})
    hand = fraud_datastream.run(str(events), str(tmp_path / "hand"))["outputs"]

    assert normalised(hand["actions"]) == compiled.actions
    assert normalised(hand["detected"]) == compiled.detected
    assert _dead(hand["dead_letter"]) == _dead(compiled.dead_letter)
    late = [d for d in compiled.dead_letter if d["node"] == "velocity"]
    assert (len(compiled.actions), len(compiled.detected), len(compiled.dead_letter), len(late)) == (
        want["actions"], want["detected"], want["dead_letter"], want["late"])
    assert compiled.counts["velocity"]["late"] == want["late"]
