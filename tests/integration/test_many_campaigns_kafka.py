"""Many scenarios in one job on real Kafka + Elasticsearch: `kairos run DIR --kafka ... --es ... --bounded`.

The four scenarios of tests/e2e/scenarios/multi/ (two keys, a chain of keyed segments, a delayed action,
division by zero in two of them) read one topic; the job reads it once (one KafkaSource: checked in the
printed plan) and each scenario's actions, dead letters and Elasticsearch documents must be exactly what the
in-process harness gives for that scenario alone on the same lines. No late events in the input: over Kafka,
which event is late depends on when watermarks are emitted, not on the data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.config.settings import KafkaSettings
from jobs.connect.topics import ensure_topics, produce
from jobs.runtime.harness import run_in_process
from tests.e2e.test_many_campaigns import HERE, make_events
from tests.integration.test_kafka_es_e2e import read_topic

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def es_docs(es, index: str) -> dict[str, dict]:
    if not es.indices.exists(index=index):
        return {}
    es.indices.refresh(index=index)
    hits = es.search(index=index, size=10_000, query={"match_all": {}})["hits"]["hits"]
    return {h["_id"]: h["_source"] for h in hits}


def test_directory_of_scenarios_one_kafka_job(kafka_bootstrap, es_url, tmp_path):
    from elasticsearch import Elasticsearch

    prefix = f"t{uuid.uuid4().hex[:8]}."
    kafka = KafkaSettings(kafka_bootstrap)
    events = tmp_path / "events.jsonl"
    make_events(events, n=600, late=False)
    lines = events.read_text().splitlines()
    ensure_topics(kafka, [f"{prefix}transactions"])
    produce(kafka, f"{prefix}transactions", lines)
    args = [sys.executable, "-m", "jobs.cli", "run", str(HERE), "--kafka", kafka_bootstrap, "--es", es_url,
            "--prefix", prefix, "--start", "earliest", "--bounded", "--quiet", "--checkpoint-ms", "1000"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    config = json.loads(subprocess.run([*args, "--print-config"], cwd=REPO, env=env, capture_output=True,
                                       text=True, check=True).stdout)
    assert config["group_id"] == f"{prefix}kairos-campaigns-multi" and len(config["scenarios"]) == 4
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    es = Elasticsearch(es_url)
    try:
        for path in sorted(HERE.glob("*.yaml")):
            plan = make_plan(load(str(path)))
            name = plan.scenario.name
            alone = json.loads(json.dumps(run_in_process(plan, [("transactions", line) for line in lines]).__dict__))
            actions = {}
            for channel in {a["channel"] for a in alone["actions"]}:
                for key, record in read_topic(kafka, f"{prefix}{name}.actions.{channel}"):
                    assert key == record["to"]
                    actions[record["id"]] = record
            assert actions == {a["id"]: a for a in alone["actions"]}, name
            dead = sorted((r for _, r in read_topic(kafka, f"{prefix}{name}.dead_letter")), key=json.dumps)
            assert dead == sorted(alone["dead_letter"], key=json.dumps), name
            docs = es_docs(es, f"{prefix}kairos-detections-{name}")
            assert docs == {d["id"]: d for d in alone["detected"]}, name
            if name in ("multi_poison", "multi_windows"):
                assert any("division by zero" in d["error"] for d in dead), name
            if name == "multi_spender":
                assert actions, "the delayed actions were released at the end of the bounded input"
    finally:
        es.close()
