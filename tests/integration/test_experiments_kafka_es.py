"""The experiment example end to end on the real services: `kairos run --kafka --es --bounded` reads usage and
conversions from Kafka, writes actions to Kafka and contact / holdout detections to Elasticsearch, and
`kairos report` on that index (plus the conversions, indexed as a sink would) gives the numbers an oracle
computes from the input alone: who is in which strategy (the hash), and which contacts converted (the
subscriber's latest contact before the top-up). The bandit's arms depend on how the two topics interleave,
so for it only the total and the per-arm sums are checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from jobs.config.naming import Naming
from jobs.config.settings import KafkaSettings, load_connections
from jobs.connect.topics import ensure_topics, produce
from jobs.report.build import Options, make_report
from jobs.runtime.decode import parse_time_value
from tests.experiment_oracle import assign

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "scenarios" / "topup_offer_test"
WEIGHTS = {"fixed": 45, "learned": 45, "control": 10}


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (EXAMPLE / name).read_text().splitlines() if line.strip()]


def oracle(usage: list[dict], conversions: list[dict]) -> dict[str, tuple[int, int]]:
    """variant -> (contacts, converted contacts), by the documented rules, from the input files alone."""
    contacts = [(parse_time_value(u["ts"]), u["usage_id"], u["msisdn"]) for u in usage if u["credit_left"] < 5]
    converted = set()
    for c in conversions:
        t = parse_time_value(c["ts"])
        mine = [x for x in contacts if x[2] == c["msisdn"] and x[0] <= t and t - x[0] <= 7 * 86_400_000]
        if mine:
            converted.add(max(mine)[1])
    out: dict[str, tuple[int, int]] = {}
    for _, usage_id, msisdn in contacts:
        variant = assign("topup_strategy_2026q4", msisdn, WEIGHTS)
        n, k = out.get(variant, (0, 0))
        out[variant] = (n + 1, k + (usage_id in converted))
    return out


def test_run_on_kafka_and_report_from_elasticsearch(kafka_bootstrap, es_url, tmp_path):
    prefix = f"exp{uuid.uuid4().hex[:8]}."
    kafka = KafkaSettings(kafka_bootstrap)
    usage, conversions = rows("usage.jsonl"), rows("conversions.jsonl")
    ensure_topics(kafka, [f"{prefix}usage", f"{prefix}conversions"])
    produce(kafka, f"{prefix}usage", [json.dumps(u) for u in usage], key_field="msisdn")
    produce(kafka, f"{prefix}conversions", [json.dumps(c) for c in conversions], key_field="msisdn")
    done = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "run", str(EXAMPLE / "topup_offer_test.yaml"), "--kafka", kafka_bootstrap,
         "--es", es_url, "--prefix", prefix, "--bounded", "--start", "earliest"],
        cwd=REPO, capture_output=True, text=True, timeout=540, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-3000:]
    es = load_connections(None, es_url).es.client()
    index = Naming("topup_offer_test", prefix).index
    conversions_index = f"{prefix}conversions"
    try:
        es.indices.create(index=conversions_index, mappings={"properties": {"ts": {"type": "date"}}})
        for c in conversions:  # what a Kafka Connect sink would index from the conversions topic
            es.index(index=conversions_index, id=c["conversion_id"], document=c)
        es.indices.refresh(index=[index, conversions_index])
        report = make_report(es, Options(index, conversions_index, "topup_offer_test", key_field="msisdn"))
    finally:
        es.indices.delete(index=[index, conversions_index], ignore_unavailable=True)
        es.close()
    want = oracle(usage, conversions)
    strategy = next(t for t in report.tables if t.experiment == "topup_strategy_2026q4")
    assert {r.variant: (r.contacts, r.conversions) for r in strategy.rows} == want
    assert sum(n for n, _ in want.values()) == 30 and min(n for n, _ in want.values()) >= 3
    bandit = next(t for t in report.tables if t.experiment == "pick_bundle")
    assert {r.variant for r in bandit.rows} <= {"data_5gb", "voice_300", "topup_10"}
    assert sum(r.contacts for r in bandit.rows) == want["learned"][0]
    assert sum(r.conversions for r in bandit.rows) == want["learned"][1]
    print(report.markdown)
