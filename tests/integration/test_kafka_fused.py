"""The fused streaming path (decision 0022) on real Kafka: keys and times computed in Java must place every
event with its own key's state, whatever the key holds and however the producer wrote it.

One card's transactions alternate between raw UTF-8 and \\u-escaped JSON (json.dumps' default): the same key
for Python, two different byte strings for Java; keys hold tabs, backslashes, quotes and an emoji; times come
as ISO text with offsets, as epoch-ms numbers and as digit strings, out of order. The velocity window must
count each card's transactions together: the oracle is the in-process harness fed the same records, and a
hand count (card A: 5 transactions within 10 minutes -> txn_count 5 on the last one), and no dead letter.
"""

from __future__ import annotations

import json
import uuid

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.config.naming import Naming
from jobs.config.settings import KafkaSettings
from jobs.connect.topics import ensure_topics
from jobs.flink.kafka_table import fusable
from jobs.runtime.harness import run_in_process
from tests.integration.test_kafka_hostile import SCENARIO, Result, produce_raw, read, run_bounded

pytestmark = pytest.mark.integration

CARD_A = 'zoë "\\t\t" 😀'  # quote, backslash, tab, non-ASCII, astral
CARD_B = "card\\\\b"
BASE_MS = 1_793_600_000_000  # 2026-11-02T...


def _txn(i: int, card: str, ts, amount: float = 10.0) -> dict:
    return {"txn_id": f"f{i}", "card_id": card, "customer_id": "c1", "amount": amount, "merchant": "m",
            "country": "PL", "ts": ts}


def _iso(ms: int, offset_h: int = 0) -> str:
    from datetime import datetime, timedelta, timezone

    zone = timezone(timedelta(hours=offset_h))
    return datetime.fromtimestamp(ms / 1000, tz=zone).isoformat(timespec="milliseconds")


def test_keys_and_times_from_java_keep_each_cards_state(kafka_bootstrap, tmp_path) -> None:
    plan = make_plan(load(SCENARIO))
    assert fusable(plan)
    records = []
    # card A: 5 transactions within 10 minutes, two encodings, times in three forms, one out of order
    for i, (dt_s, form) in enumerate([(0, "iso+2"), (60, "ms"), (30, "digits"), (120, "iso"), (180, "iso-5")]):
        ms = BASE_MS + dt_s * 1000
        ts = {"iso+2": _iso(ms, 2), "ms": ms, "digits": str(ms), "iso": _iso(ms).replace("+00:00", "Z"),
              "iso-5": _iso(ms, -5)}[form]
        records.append(json.dumps(_txn(i, CARD_A, ts), ensure_ascii=i % 2 == 0).encode())
    # card B (backslashes): 2 transactions; card C ("card" + a tab) 1
    # (after card A's last time: out of order by more than 30 s they would be late, and in a streaming run
    # whether they are depends on when the watermark arrives)
    records += [json.dumps(_txn(10, CARD_B, _iso(BASE_MS + 181_000))).encode(),
                json.dumps(_txn(11, CARD_B, BASE_MS + 182_000)).encode(),
                json.dumps(_txn(12, "card\t", BASE_MS + 183_000)).encode()]

    kafka = KafkaSettings(kafka_bootstrap)
    naming = Naming(plan.scenario.name, prefix=f"t{uuid.uuid4().hex[:8]}.fused.")
    topic = naming.source_topic("transactions")
    ensure_topics(kafka, [topic])
    produce_raw(kafka, topic, records)
    counts = run_bounded(plan, kafka, naming, str(tmp_path / "counts"))
    prefix = f"{naming.prefix}{plan.scenario.name}"
    got = Result(read(kafka, f"{prefix}.actions.fraud_alert"), read(kafka, f"{prefix}.detections"),
                 read(kafka, f"{prefix}.dead_letter"), counts)

    by_event = {d["event_id"]: d for d in got.detected}
    assert by_event["f4"]["key"] == CARD_A and by_event["f4"]["fields"]["txn_count"] == 5
    assert got.dead_letter == []  # none "internal: keyed by ...": Java's key was the decoded one every time
    oracle = run_in_process(plan, [("transactions", r.decode()) for r in records])
    expected = Result(oracle.actions, oracle.detected, oracle.dead_letter, oracle.counts)
    assert got.detected == expected.detected
    assert got.actions == expected.actions
    assert counts["transactions"]["in"] == len(records)
    for node in ("card_present", "velocity"):
        assert counts[node] == oracle.counts[node]
