"""The contact policy and cancel_if on real Kafka: two topics (refused withdrawals, deposits) read by a streaming
job (KafkaSource with per-topic watermarks -> Kafka sinks), up to the end offsets so that it finishes.

Each topic is out of order by up to 8 s (the scenario allows 10 s), so nothing is late and the outcome must not
depend on how the two topics interleave: actions and detections equal the brute-force oracle of
tests/e2e/test_policy.py exactly (cancels, cooldowns, caps, consent, quiet-hours holds), and the invalid time
zones are dead letters on the dead-letter topic.
"""

from __future__ import annotations

import json
import uuid

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.config.naming import Naming
from jobs.config.settings import KafkaSettings
from jobs.connect.topics import ensure_topics, produce
from jobs.runtime.harness import RunResult
from tests.e2e.test_policy import SCENARIO, check, iso, make_input
from tests.integration.test_kafka_hostile import read, run_bounded

pytestmark = pytest.mark.integration


def test_contact_policy_and_cancel_on_kafka(kafka_bootstrap, tmp_path) -> None:
    scenario = tmp_path / "policy_e2e.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    plan = make_plan(load(str(scenario)))
    kafka = KafkaSettings(kafka_bootstrap)
    naming = Naming(plan.scenario.name, prefix=f"t{uuid.uuid4().hex[:8]}.policy.")
    atm, deposits = make_input(seed=10)
    topics = {"atm": naming.source_topic("atm"), "deposits": naming.source_topic("deposits")}
    ensure_topics(kafka, list(topics.values()))
    for name, rows in (("atm", atm), ("deposits", deposits)):
        produce(kafka, topics[name], [json.dumps({**r, "ts": iso(r["ts"])}) for r in rows], key_field="customer_id")
    counts = run_bounded(plan, kafka, naming, str(tmp_path / "counts"))
    prefix = f"{naming.prefix}{plan.scenario.name}"
    result = RunResult(read(kafka, f"{prefix}.actions.sms"), read(kafka, f"{prefix}.detections"),
                       read(kafka, f"{prefix}.dead_letter"), counts)
    check(result, atm, deposits)
    print(f"kafka policy run: {len(result.actions)} actions, {len(result.detected)} detections, "
          f"{len(result.dead_letter)} dead letters")
