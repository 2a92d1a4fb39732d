"""Secrets passed by reference work for real and show up nowhere (decision 0011), against the secured Kafka
(SASL_SSL) and Elasticsearch (HTTPS + basic auth) of `services/*.sh start --secure`:
* embedded `kairos run`: the Kafka password from an environment variable (`${env:...}` resolved by the Kafka
  client inside the MiniCluster), the rest from a secrets file, the Elasticsearch credentials in the `--es` URL;
* `kairos submit` to the local Flink session cluster: everything from a secrets file that the JobManager and
  TaskManager read at its path.
Outputs are compared with the in-process oracle; stdout/stderr, `--print-config`, the embedded Flink log, the
cluster's logs and its REST view of the job are searched for the passwords.
The secured services run in KAIROS_SECURE_SERVICES_DIR (default .cache/services-secure); services this module
starts are stopped at the end, services it found running are left running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.config.settings import EsSettings
from jobs.connect.cluster import cancel_job, job_state
from jobs.connect.topics import ensure_topics, produce, tail
from jobs.runtime.harness import run_in_process
from tests.integration.test_secure import (
    FRAUD,
    FRAUD_EVENTS,
    SECURE_DIR,
    _log_growth,
    _log_sizes,
    _read_env,
    _secrets_file,
    _secure_kafka,
    _services,
)

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
SCENARIO = FRAUD / "card_fraud_velocity.yaml"


@pytest.fixture(scope="module")
def secure(request) -> dict[str, dict[str, str]]:
    started = []
    for name in ("kafka", "elasticsearch"):
        if _services(f"services/{name}.sh", "status", timeout=60).returncode == 0:
            continue
        done = _services(f"services/{name}.sh", "start", "--secure", timeout=420)
        started.append(name)
        request.addfinalizer(lambda n=name: _services(f"services/{n}.sh", "stop", timeout=180))
        if done.returncode:
            pytest.fail(f"services/{name}.sh start --secure failed:\n{done.stderr[-3000:]}", pytrace=False)
    kafka, es = _read_env("kafka"), _read_env("elasticsearch")
    if kafka.get("KAFKA_SECURE") != "1" or es.get("ES_SECURE") != "1":
        pytest.fail(f"services in {SECURE_DIR} run without --secure", pytrace=False)
    return {"kafka": kafka, "es": es}


def expected() -> dict:
    result = run_in_process(make_plan(load(str(SCENARIO))), [("transactions", e) for e in FRAUD_EVENTS])
    out = json.loads(json.dumps(result.__dict__))
    assert out["actions"] and out["detected"] and out["dead_letter"]
    return out


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith(("KAIROS_KAFKA_", "KAIROS_ES_")) and k != "KAIROS_KAFKA_JAR")}
    return {**env, "PYTHONPATH": str(REPO)}


def kairos(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jobs.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, check=False, env=env)


def topic_records(kafka, name: str) -> list[dict]:
    return sorted((json.loads(v) for _, v in tail(kafka, name, from_beginning=True, idle_ms=3000)),
                  key=lambda r: json.dumps(r, sort_keys=True))


def index_docs(eenv: dict[str, str], index: str) -> dict[str, dict]:
    es = EsSettings(eenv["ES_URL"], eenv["ES_USERNAME"], eenv["ES_PASSWORD"], ca_file=eenv["ES_CA_CERT"]).client()
    try:
        if not es.indices.exists(index=index):
            return {}
        es.indices.refresh(index=index)
        return {h["_id"]: h["_source"] for h in es.search(index=index, size=100)["hits"]["hits"]}
    finally:
        es.close()


def by_json(records: list[dict]) -> list[dict]:
    return sorted(records, key=lambda r: json.dumps(r, sort_keys=True))


def prepared_topic(kenv: dict[str, str]) -> tuple[str, object]:
    kafka = _secure_kafka(kenv)
    prefix = f"z{uuid.uuid4().hex[:8]}."
    ensure_topics(kafka, [f"{prefix}transactions"])
    assert produce(kafka, f"{prefix}transactions", FRAUD_EVENTS) == len(FRAUD_EVENTS)
    return prefix, kafka


def test_embedded_run_with_env_file_and_url_credentials(secure, tmp_path):
    kenv, eenv = secure["kafka"], secure["es"]
    passwords = (kenv["KAFKA_SASL_PASSWORD"], eenv["ES_PASSWORD"])
    prefix, kafka = prepared_topic(kenv)
    secrets = _secrets_file(tmp_path, kenv, eenv)
    kept = [line for line in secrets.read_text().splitlines()
            if not line.startswith(("KAIROS_KAFKA_PASSWORD=", "KAIROS_ES_USERNAME=", "KAIROS_ES_PASSWORD="))]
    secrets.write_text("\n".join(kept) + "\n")
    env = {**clean_env(), "KAIROS_KAFKA_PASSWORD": kenv["KAFKA_SASL_PASSWORD"]}
    host = eenv["ES_URL"].split("://", 1)[1]
    url = f"https://{eenv['ES_USERNAME']}:{eenv['ES_PASSWORD']}@{host}"
    common = [str(SCENARIO), "--kafka", kenv["KAFKA_SECURE_BOOTSTRAP"], "--es", url, "--secrets", str(secrets),
              "--prefix", prefix]

    shown = kairos("run", *common, "--print-config", env=env, timeout=120)
    assert shown.returncode == 0, shown.stderr[-2000:]
    config = json.loads(shown.stdout)
    assert config["connections"]["es"]["url"] == eenv["ES_URL"]
    assert config["connections"]["kafka"]["refs"]["password"] == "env:KAIROS_KAFKA_PASSWORD"

    logs_before = _log_sizes()
    run = kairos("run", *common, "--bounded", "--start", "earliest", "--checkpoint-ms", "1000",
                 "--max-seconds", "240", env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    printed = shown.stdout + shown.stderr + run.stdout + run.stderr + _log_growth(logs_before)
    assert [p for p in passwords if p in printed] == []

    want = expected()
    assert topic_records(kafka, f"{prefix}card_fraud_velocity.actions.fraud_alert") == by_json(want["actions"])
    assert topic_records(kafka, f"{prefix}card_fraud_velocity.dead_letter") == by_json(want["dead_letter"])
    assert index_docs(eenv, f"{prefix}kairos-detections-card_fraud_velocity") == {d["id"]: d for d in want["detected"]}


def _cluster_texts(flink_env: dict[str, str]) -> dict[Path, int]:
    logs = Path(flink_env["FLINK_CLUSTER_LOG"]).parent
    state_logs = Path(flink_env["FLINK_CONF_DIR"]).parent / "log"
    return {p: p.stat().st_size for d in (logs, state_logs) if d.is_dir() for p in d.glob("*.log*") if p.is_file()}


def _grown(before: dict[Path, int], now: dict[Path, int]) -> str:
    text = []
    for path in now:
        with open(path, "rb") as handle:
            start = before.get(path, 0)
            handle.seek(start if start <= path.stat().st_size else 0)
            text.append(handle.read().decode("utf-8", "replace"))
    return "".join(text)


def test_cluster_submit_reads_secrets_on_the_cluster(secure, flink_env, flink_rest, tmp_path):
    from tests.integration.test_kafka_es_e2e import wait_for

    kenv, eenv = secure["kafka"], secure["es"]
    passwords = (kenv["KAFKA_SASL_PASSWORD"], eenv["ES_PASSWORD"])
    prefix, kafka = prepared_topic(kenv)
    secrets = _secrets_file(tmp_path, kenv, eenv)
    cluster = flink_rest.split("://", 1)[1]
    before = _cluster_texts(flink_env)
    submitted = kairos("submit", str(SCENARIO), "--cluster", cluster, "--kafka", kenv["KAFKA_SECURE_BOOTSTRAP"],
                       "--es", eenv["ES_URL"], "--secrets", str(secrets), "--prefix", prefix, "--start", "earliest",
                       "--checkpoint-ms", "1000", env=clean_env())
    assert submitted.returncode == 0, submitted.stderr[-3000:]
    job_id = submitted.stdout.strip().splitlines()[-1]
    try:
        want = expected()
        index = f"{prefix}kairos-detections-card_fraud_velocity"
        docs = wait_for("detections in the secured index", lambda: (d := index_docs(eenv, index))
                        and len(d) >= len(want["detected"]) and d)
        assert docs == {d["id"]: d for d in want["detected"]}
        actions = wait_for("actions over SASL_SSL", lambda: (r := topic_records(
            kafka, f"{prefix}card_fraud_velocity.actions.fraud_alert")) and len(r) >= len(want["actions"]) and r)
        assert actions == by_json(want["actions"])
        views = "".join(urllib.request.urlopen(f"{flink_rest}/jobs/{job_id}{path}", timeout=15).read().decode()
                        for path in ("", "/config", "/plan", "/checkpoints"))
    finally:
        cancel_job(flink_rest, job_id)
    wait_for("job cancelled", lambda: job_state(flink_rest, job_id) == "CANCELED", timeout=60)
    time.sleep(1)
    printed = submitted.stdout + submitted.stderr + views + _grown(before, _cluster_texts(flink_env))
    assert "card_fraud_velocity" in views  # the REST views are about this job
    assert [p for p in passwords if p in printed] == []
