"""Live parameters on real Kafka: a threshold and a count changed while the job runs, and bad changes refused.

Batch 1 runs on the declared defaults (min_amount 500.0, min_count 3). Then `kairos param set` changes both
(200.0 and 2) and the test waits for the two `parameter_changed` detections; then four bad changes (a text
for a float, a value below `min`, a fraction for an int, an unknown name) go to the control topic and the
test waits for their four dead letters; then batch 2. The expected actions and detections come from an
oracle that replays the events with the values in force for each batch: the first event of batch 2 is the
first one the new values apply to (the change was applied, its detection written, before it was produced),
and the refused changes changed nothing (200.0 / 2 stay).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from jobs.config.settings import KafkaSettings
from jobs.connect.topics import ensure_topics, produce
from tests.integration.test_kafka_es_e2e import read_topic, stop_job, wait_for

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
SCENARIO = Path(__file__).resolve().parent / "scenarios" / "live_params" / "live_threshold.yaml"
NAME = "live_threshold"


def ev(eid: str, who: str, amount: float, minute: int) -> dict:
    return {"txn_id": eid, "customer_id": who, "amount": amount, "ts": f"2026-11-02T10:{minute:02d}:00Z"}


BATCH_1 = [ev("a1", "ann", 100.0, 0), ev("b1", "bob", 499.99, 0), ev("a2", "ann", 300.0, 1),
           ev("b2", "bob", 500.0, 1), ev("a3", "ann", 600.0, 2)]
BATCH_2 = [ev("a4", "ann", 300.0, 3), ev("b3", "bob", 250.0, 3), ev("c1", "cat", 150.0, 3),
           ev("c2", "cat", 210.0, 4)]
DEFAULTS = {"min_amount": 500.0, "min_count": 3, "alerts_on": True}
CHANGED = {"min_amount": 200.0, "min_count": 2, "alerts_on": True}


def oracle(batches: list[tuple[list[dict], dict]]) -> tuple[dict, dict]:
    """(alerts by event id: payload, frequent detections by event id: fields), replaying every event with the
    values in force for its batch. All events of a customer are within 10 minutes, in time order: the sliding
    count of an event is the number of the customer's events up to it."""
    alerts, frequent, seen = {}, {}, {}
    for events, values in batches:
        for e in events:
            seen[e["customer_id"]] = seen.get(e["customer_id"], 0) + 1
            if values["alerts_on"] and e["amount"] >= values["min_amount"]:
                alerts[e["txn_id"]] = {"amount": e["amount"], "threshold": values["min_amount"]}
            if seen[e["customer_id"]] >= values["min_count"]:
                frequent[e["txn_id"]] = {"n": seen[e["customer_id"]], "min_count": values["min_count"]}
    return alerts, frequent


def test_a_change_applies_from_the_next_event_and_a_bad_one_is_refused(kafka_bootstrap):
    prefix = f"t{uuid.uuid4().hex[:8]}."
    kafka = KafkaSettings(kafka_bootstrap)
    control, tx = f"{prefix}kairos.control", f"{prefix}tx"
    detections, dead, actions = (f"{prefix}{NAME}.detections", f"{prefix}{NAME}.dead_letter",
                                 f"{prefix}{NAME}.actions.alert")
    ensure_topics(kafka, [tx, control])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    job = subprocess.Popen([sys.executable, "-m", "jobs.cli", "run", str(SCENARIO), "--kafka", kafka_bootstrap,
                            "--prefix", prefix, "--start", "earliest", "--checkpoint-ms", "1000",
                            "--max-seconds", "500"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)

    def kinds(kind: str) -> list[dict]:
        return [r for _, r in read_topic(kafka, detections) if r["kind"] == kind]

    def param_set(name: str, value: str, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "jobs.cli", "param", "set", str(SCENARIO), name, value,
                               "--kafka", kafka_bootstrap, "--prefix", prefix, *extra], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=120)

    alerts_1, frequent_1 = oracle([(BATCH_1, DEFAULTS)])
    try:
        produce(kafka, tx, [json.dumps(e) for e in BATCH_1])
        wait_for("batch 1's alerts", lambda: len(read_topic(kafka, actions)) >= len(alerts_1), timeout=300, job=job)
        wait_for("batch 1's detections", lambda: len(kinds("frequent")) >= len(frequent_1), timeout=60, job=job)
        for name, value in (("min_amount", "200"), ("min_count", "2")):
            done = param_set(name, value)
            assert done.returncode == 0, done.stdout + done.stderr
        # refused before sending: the CLI checks the declaration too
        assert param_set("min_amount", "lots").returncode == 2
        changes = wait_for("two parameter_changed", lambda: len(c := kinds("parameter_changed")) >= 2 and c,
                           timeout=120, job=job)
        bad = [{"name": "min_amount", "value": "lots"}, {"name": "min_amount", "value": -5},
               {"name": "min_count", "value": 2.5}, {"name": "nope", "value": 1}]
        produce(kafka, control, [json.dumps({"type": "param", "scenario": NAME, **b, "id": f"bad{i}",
                                             "ts": "2026-12-01T12:00:00Z"}) for i, b in enumerate(bad)])
        # another scenario's change on the shared topic is not this job's: neither applied nor a dead letter
        produce(kafka, control, [json.dumps({"type": "param", "scenario": "other", "name": "min_amount",
                                             "value": 1.0, "id": "x"})])
        letters = wait_for("four dead letters", lambda: len(d := read_topic(kafka, dead)) >= 4 and d,
                           timeout=120, job=job)
        produce(kafka, tx, [json.dumps(e) for e in BATCH_2])
        alerts, frequent = oracle([(BATCH_1, DEFAULTS), (BATCH_2, CHANGED)])
        sent = wait_for("every alert", lambda: len(r := read_topic(kafka, actions)) >= len(alerts) and r,
                        timeout=120, job=job)
        flagged = wait_for("every detection", lambda: len(f := kinds("frequent")) >= len(frequent) and f,
                           timeout=60, job=job)
        import time

        time.sleep(3)  # anything extra would show up now
        sent, flagged, letters = read_topic(kafka, actions), kinds("frequent"), read_topic(kafka, dead)
    finally:
        log = stop_job(job)
    by_change = {c["fields"]["parameter"]: c["fields"] for c in changes}
    assert {k: (v["old"], v["new"]) for k, v in by_change.items()} == {"min_amount": ("500.0", "200.0"),
                                                                       "min_count": ("3", "2")}, log[-2000:]
    assert all(c["node"] == "parameters" and c["scenario"] == NAME for c in changes)
    assert {r["id"].rsplit(":", 1)[1]: r["payload"] for _, r in sent} == alerts
    assert {d["event_id"]: d["fields"] for d in flagged} == frequent
    assert len(letters) == 4, letters
    errors = sorted(r["error"] for _, r in letters)
    assert all(r["node"] == "parameters" and r["scenario"] == NAME for _, r in letters)
    assert any("min_amount" in e and "must be a number" in e and "keeps 200.0" in e for e in errors), errors
    assert any("must be at least 0.0" in e for e in errors), errors
    assert any("min_count" in e and "whole number" in e and "keeps 2" in e for e in errors), errors
    assert any("unknown parameter 'nope'" in e for e in errors), errors
    # the exact event from which the new values apply: batch 2's first ones (a4 at 300 >= 200; b3's count 3)
    assert "a4" in alerts and "a2" not in alerts and frequent["b3"] == {"n": 3, "min_count": 2}
