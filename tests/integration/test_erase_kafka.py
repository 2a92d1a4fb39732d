"""GDPR erasure on real Kafka + Elasticsearch: `kairos erase KEY` while a two-scenario job runs.

Customer `ann` and `bob` withdraw; each event makes a detection in both scenarios (a profile counter and a
sliding 1 h count) and schedules an SMS 10 minutes later (event time). Then `kairos erase ann` (it waits for
the job to commit past the request), then more events, then a tick an hour later that releases every delayed
SMS. Hand-worked expectations:
  * no document of ann's from before the erasure remains in either index; bob's are all there;
  * ann's pending SMS (3) are never sent, bob's (3 + 1) are;
  * ann's state is gone: her next event counts n = 1, spent = her new amount, txn_count = 1 (bob: 4, 4).
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
from tests.integration.test_many_campaigns_kafka import es_docs

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent / "scenarios" / "erase"


def ev(eid: str, who: str, amount: float, minute: int) -> str:
    hour, minute = divmod(minute, 60)
    return json.dumps({"event_id": eid, "customer_id": who, "amount": amount,
                       "ts": f"2026-11-02T{10 + hour}:{minute:02d}:00Z"})


BEFORE = [ev("a1", "ann", 10.0, 0), ev("b1", "bob", 1.0, 0), ev("a2", "ann", 20.0, 1), ev("b2", "bob", 2.0, 1),
          ev("a3", "ann", 30.0, 2), ev("b3", "bob", 3.0, 2)]
AFTER = [ev("a4", "ann", 7.0, 3), ev("b4", "bob", 4.0, 3)]
TICK = [ev("z1", "zed", 0.0, 90)]  # an hour later: every 10-minute delay is due


def test_erase_mid_stream_leaves_no_state_action_or_document(kafka_bootstrap, es_url):
    from elasticsearch import Elasticsearch

    prefix = f"t{uuid.uuid4().hex[:8]}."
    kafka = KafkaSettings(kafka_bootstrap)
    ensure_topics(kafka, [f"{prefix}atm", f"{prefix}kairos.control"])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    job = subprocess.Popen([sys.executable, "-m", "jobs.cli", "run", str(HERE), "--kafka", kafka_bootstrap,
                            "--es", es_url, "--prefix", prefix, "--start", "earliest", "--checkpoint-ms", "1000",
                            "--max-seconds", "500", "--quiet"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    es = Elasticsearch(es_url)
    counter, window = f"{prefix}kairos-detections-erase_counter", f"{prefix}kairos-detections-erase_window"
    try:
        produce(kafka, f"{prefix}atm", BEFORE)
        wait_for("6 + 6 detections", lambda: len(es_docs(es, counter)) >= 6 and len(es_docs(es, window)) >= 6,
                 timeout=300, job=job)
        erased = subprocess.run([sys.executable, "-m", "jobs.cli", "erase", "ann", "--kafka", kafka_bootstrap,
                                 "--es", es_url, "--prefix", prefix, "--wait-s", "120"], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=300)
        assert erased.returncode == 0, erased.stdout + erased.stderr
        report = json.loads(erased.stdout.splitlines()[-1])
        assert report["groups_done"] == [f"{prefix}kairos-campaigns-erase"] and report["deleted_documents"] == 6
        assert report["remaining_documents"] == 0
        produce(kafka, f"{prefix}atm", AFTER)
        wait_for("a4 + b4 detections", lambda: len(es_docs(es, counter)) >= 5, timeout=120, job=job)
        produce(kafka, f"{prefix}atm", TICK)
        sms = wait_for("bob's 4 SMS + ann's new one", lambda: (r := read_topic(kafka, f"{prefix}erase_counter."
                                                                                 "actions.sms")) and len(r) >= 5 and r,
                       timeout=120, job=job)
        import time

        time.sleep(3)  # anything that should not be there would show up now
        sms = read_topic(kafka, f"{prefix}erase_counter.actions.sms")
        docs_counter, docs_window = es_docs(es, counter), es_docs(es, window)
    finally:
        log = stop_job(job)
        es.close()
    assert sorted(r["id"].rsplit(":", 1)[1] for _, r in sms) == ["a4", "b1", "b2", "b3", "b4"], log[-2000:]
    assert {r["payload"]["n"] for _, r in sms if r["to"] == "ann"} == {1}
    assert sorted(docs_counter) == sorted(f"erase_counter:seen:{e}" for e in ("a4", "b1", "b2", "b3", "b4", "z1"))
    assert sorted(docs_window) == sorted(f"erase_window:counted:{e}" for e in ("a4", "b1", "b2", "b3", "b4", "z1"))
    assert docs_counter["erase_counter:seen:a4"]["fields"] == {"n": 1, "spent": 7.0}  # fresh state
    assert docs_counter["erase_counter:seen:b4"]["fields"] == {"n": 4, "spent": 10.0}
    assert docs_window["erase_window:counted:a4"]["fields"] == {"txn_count": 1}
    assert docs_window["erase_window:counted:b4"]["fields"] == {"txn_count": 4}
