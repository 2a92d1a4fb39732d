"""The abandoned-cart `absence` pattern streaming on the real Kafka: exact reminders from the oracle.

One streaming job (`python -m jobs.cli run --kafka ...`, exactly-once) reads the scenario's events from
a topic of its own, fed in two batches: out of order within the 2 minutes the source allows (a checkout
before its cart_add, cart_adds behind later events), plus a line that is not JSON. The expected reminders
come from the brute-force oracle (tests/patterns_oracle.py), not from a run. The one event of events.jsonl
that is late in a file run (e18) is left out: in a streaming job Flink's watermark moves on a processing-time
interval, so whether an event that far behind is late depends on timing (docs/time.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from jobs.config.settings import KafkaSettings
from jobs.connect.topics import ensure_topics, produce
from tests import patterns_oracle as oracle
from tests.integration.test_kafka_es_e2e import read_topic, stop_job, wait_for

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
CART = REPO / "scenarios" / "abandoned_cart"
SCENARIO = CART / "abandoned_cart.yaml"
OOO, WITHIN = 2 * oracle.MIN, 30 * oracle.MIN
# moves the watermark past every deadline; a page view, so nothing waits for it
TICK = json.dumps({"event_id": "tick", "customer_id": "c-tick", "type": "page_view", "product": None,
                   "price": None, "ts": "2026-11-02T15:00:00Z"})


def lines() -> list[str]:
    return [line for line in (CART / "events.jsonl").read_text().splitlines() if '"e18"' not in line]


def expected_actions() -> list[dict]:
    events = oracle.parse([*lines(), TICK])
    assert not oracle.split_late(events, OOO)[1]  # none late: the outcome does not depend on timing
    return sorted(({"id": f"abandoned_cart:remind:{a['event_id']}", "scenario": "abandoned_cart", "node": "remind",
                    "channel": "push", "to": a["customer_id"], "event_id": a["event_id"],
                    "time": oracle.iso(deadline),
                    "payload": {"product": a["product"], "price": a["price"],
                                "text": f"Still thinking about {a['product']}? It is waiting in your cart."}}
                   for a, deadline in oracle.absence(events, OOO, WITHIN,
                                                     lambda e: e["type"] == "cart_add",
                                                     lambda e: e["type"] == "checkout")), key=lambda r: r["id"])


def test_abandoned_cart_reminders_on_kafka_are_exactly_the_oracles(kafka_bootstrap) -> None:
    prefix = f"pat{uuid.uuid4().hex[:8]}."
    kafka = KafkaSettings(kafka_bootstrap)
    source = f"{prefix}shop"
    ensure_topics(kafka, [source])
    job = subprocess.Popen([sys.executable, "-m", "jobs.cli", "run", str(SCENARIO), "--kafka",
                            kafka_bootstrap, "--prefix", prefix, "--exactly-once", "--checkpoint-ms", "1000",
                            "--max-seconds", "600"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    actions_topic, dead_topic = f"{prefix}abandoned_cart.actions.push", f"{prefix}abandoned_cart.dead_letter"
    expected = expected_actions()
    assert [a["event_id"] for a in expected] == ["e01", "e07", "e12", "e13", "e17", "e22"]
    try:
        all_lines = lines()
        first, rest = all_lines[:10], all_lines[10:]  # e01 ... e10: e01's deadline (10:30) is passed
        produce(kafka, source, first)
        wait_for("the first reminder", lambda: read_topic(kafka, actions_topic), job=job)
        produce(kafka, source, [*rest, TICK])
        wait_for(f"{len(expected)} reminders",
                 lambda: (r := read_topic(kafka, actions_topic)) and len(r) >= len(expected), job=job)
        time.sleep(2)  # anything unexpected would show up now
        got = read_topic(kafka, actions_topic)
        dead = read_topic(kafka, dead_topic)
    finally:
        log = stop_job(job)
    assert sorted((r for _, r in got), key=lambda r: r["id"]) == expected, log[-2000:]
    assert all(key == record["to"] for key, record in got)
    assert [(r["node"], r["raw"]) for _, r in dead] == [("shop", "not json at all")]
