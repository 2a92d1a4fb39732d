"""Credentials: from KAIROS_* variables or a secrets file, masked in everything kairos prints.

The first tests cover loading and masking without services. The integration tests below start their own
`kafka.sh start --secure` (SASL/PLAIN over TLS) and `elasticsearch.sh start --secure` (x-pack security, HTTPS,
user `elastic`) in a separate SERVICES_ENV_DIR (.cache/services-secure, or KAIROS_SECURE_SERVICES_DIR), so they
never collide with the plain services `make test` starts, and stop them at the end of the session.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from jobs.config.settings import EsSettings, KafkaSettings, load_connections, masked

REPO = Path(__file__).resolve().parents[2]
SECRETS = {"KAIROS_KAFKA_USERNAME": "kairos", "KAIROS_KAFKA_PASSWORD": "kafka-s3cret-pw",
           "KAIROS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAIROS_KAFKA_CA_FILE": "/etc/ca.pem",
           "KAIROS_ES_USERNAME": "elastic", "KAIROS_ES_PASSWORD": "es-s3cret-pw"}


def write_secrets(tmp_path: Path) -> Path:
    path = tmp_path / "kairos.secrets"
    path.write_text("# test\n" + "".join(f"{k}={v}\n" for k, v in SECRETS.items()))
    return path


def test_secrets_file_and_environment(tmp_path):
    conns = load_connections("b:9093", "https://es:9200", str(write_secrets(tmp_path)),
                             environ={"KAIROS_ES_PASSWORD": "from-env"})
    props = conns.kafka.java_properties()
    assert props["security.protocol"] == "SASL_SSL" and props["sasl.mechanism"] == "SCRAM-SHA-512"
    assert props["sasl.jaas.config"].startswith("org.apache.flink.kafka.shaded.org.apache.kafka.common.security.scram")
    assert props["ssl.truststore.type"] == "PEM"
    assert conns.es.client_kwargs()["basic_auth"] == ("elastic", "from-env")  # environment wins


def test_masked_config_has_no_secret(tmp_path):
    conns = load_connections("b:9093", "https://es:9200", str(write_secrets(tmp_path)), environ={})
    text = json.dumps(masked(conns)) + json.dumps(masked(conns.kafka.java_properties()))
    assert "s3cret" not in text and "***" in text


def test_cli_print_config_masks(tmp_path):
    out = subprocess.run([sys.executable, "-m", "jobs.cli", "run",
                          str(REPO / "scenarios/low_balance_offer/low_balance_offer.yaml"), "--kafka", "b:9093",
                          "--es", "https://es:9200", "--secrets", str(write_secrets(tmp_path)), "--print-config"],
                         cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert "s3cret" not in out.stdout + out.stderr
    assert json.loads(out.stdout)["connections"]["kafka"]["password"] == "***"


# -- secure services ----------------------------------------------------------------------------------
SECURE_DIR = Path(os.environ.get("KAIROS_SECURE_SERVICES_DIR", REPO / ".cache" / "services-secure"))
FRAUD = REPO / "scenarios" / "card_fraud_velocity"
# without the example's late event t8: whether it is late in a streaming run depends on when the periodic
# watermark passes it (see tests/integration/test_cluster_submit.py)
FRAUD_EVENTS = [line for line in (FRAUD / "events.jsonl").read_text().splitlines() if '"t8"' not in line]
PYFLINK_LOG_DIR = Path(importlib.util.find_spec("pyflink").origin).parent / "log"  # the embedded Flink logs here


def _services(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=REPO, env={**os.environ, "SERVICES_ENV_DIR": str(SECURE_DIR)},
                          capture_output=True, text=True, timeout=timeout, check=False)


def _read_env(name: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in (SECURE_DIR / f"{name}.env").read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            env[key] = shlex.split(value)[0] if value else ""
    return env


@pytest.fixture(scope="session")
def secure_services(request) -> dict[str, dict[str, str]]:
    """Secure Kafka + secure Elasticsearch, started in parallel; always stopped at the end of the session."""

    def stop():
        for name in ("elasticsearch", "kafka"):
            done = _services(f"services/{name}.sh", "stop", timeout=180)
            if done.returncode:
                print(f"secure {name} stop failed: {done.stderr[-2000:]}", file=sys.stderr)

    request.addfinalizer(stop)  # before starting: a start that fails half-way is stopped as well
    started = time.monotonic()
    env = {**os.environ, "SERVICES_ENV_DIR": str(SECURE_DIR)}
    starts = {name: subprocess.Popen([f"services/{name}.sh", "start", "--secure"], cwd=REPO, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for name in ("kafka", "elasticsearch")}
    failed = []
    for name, proc in starts.items():
        try:
            _, err = proc.communicate(timeout=420)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if proc.returncode != 0:
            failed.append(f"services/{name}.sh start --secure failed ({proc.returncode}):\n{err[-3000:]}")
    if failed:
        pytest.fail("\n".join(failed), pytrace=False)
    kafka, es = _read_env("kafka"), _read_env("elasticsearch")
    if kafka.get("KAFKA_SECURE") != "1" or es.get("ES_SECURE") != "1":
        pytest.fail(f"services in {SECURE_DIR} are running without --secure; stop them "
                    f"(SERVICES_ENV_DIR={SECURE_DIR} services/<name>.sh stop)", pytrace=False)
    print(f"secure services up in {time.monotonic() - started:.0f}s")
    return {"kafka": kafka, "es": es}


def _secure_kafka(env: dict[str, str], password: str | None = None) -> KafkaSettings:
    return KafkaSettings(env["KAFKA_SECURE_BOOTSTRAP"], env["KAFKA_SASL_USERNAME"],
                         password or env["KAFKA_SASL_PASSWORD"], env["KAFKA_SASL_MECHANISM"], tls=True,
                         ca_file=env["KAFKA_SSL_CAFILE"])


def _secrets_file(tmp_path: Path, kafka: dict[str, str], es: dict[str, str], **override: str) -> Path:
    values = {"KAIROS_KAFKA_USERNAME": kafka["KAFKA_SASL_USERNAME"],
              "KAIROS_KAFKA_PASSWORD": kafka["KAFKA_SASL_PASSWORD"],
              "KAIROS_KAFKA_SASL_MECHANISM": kafka["KAFKA_SASL_MECHANISM"],
              "KAIROS_KAFKA_CA_FILE": kafka["KAFKA_SSL_CAFILE"],
              "KAIROS_ES_USERNAME": es["ES_USERNAME"], "KAIROS_ES_PASSWORD": es["ES_PASSWORD"],
              "KAIROS_ES_CA_FILE": es["ES_CA_CERT"], **override}
    path = tmp_path / "secure.secrets"
    path.touch(mode=0o600)
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def _kairos_run(*args: str, timeout: float) -> subprocess.CompletedProcess:
    """`kairos run` with credentials from --secrets only (KAIROS_KAFKA_* / KAIROS_ES_* of this shell removed)."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith(("KAIROS_KAFKA_", "KAIROS_ES_")) and k != "KAIROS_KAFKA_JAR")}
    return subprocess.run([sys.executable, "-m", "jobs.cli", "run", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, check=False, env={**env, "PYTHONPATH": str(REPO)})


def _log_sizes() -> dict[Path, int]:
    return {p: p.stat().st_size for p in PYFLINK_LOG_DIR.glob("*.log")} if PYFLINK_LOG_DIR.is_dir() else {}


def _log_growth(before: dict[Path, int]) -> str:
    """What the embedded Flink (PyFlink's log dir) wrote since `before`."""
    text = []
    for path, size in _log_sizes().items():
        with open(path, "rb") as handle:
            handle.seek(before.get(path, 0) if before.get(path, 0) <= size else 0)
            text.append(handle.read().decode("utf-8", "replace"))
    return "".join(text)


@pytest.mark.integration
def test_bounded_run_over_sasl_ssl_and_https(secure_services, tmp_path):
    from jobs.compiler.plan import make_plan
    from jobs.compiler.validate import load
    from jobs.connect.topics import ensure_topics, produce, tail
    from jobs.runtime.harness import run_in_process

    kenv, eenv = secure_services["kafka"], secure_services["es"]
    passwords = (kenv["KAFKA_SASL_PASSWORD"], eenv["ES_PASSWORD"])
    kafka = _secure_kafka(kenv)
    prefix = f"s{uuid.uuid4().hex[:8]}."
    topic = f"{prefix}transactions"
    ensure_topics(kafka, [topic])
    assert produce(kafka, topic, FRAUD_EVENTS) == len(FRAUD_EVENTS)
    secrets = _secrets_file(tmp_path, kenv, eenv)
    assert secrets.stat().st_mode & 0o777 == 0o600

    logs_before, started = _log_sizes(), time.monotonic()
    run = _kairos_run(str(FRAUD / "card_fraud_velocity.yaml"), "--kafka", kenv["KAFKA_SECURE_BOOTSTRAP"],
                      "--es", eenv["ES_URL"], "--secrets", str(secrets), "--prefix", prefix, "--bounded",
                      "--exactly-once", "--start", "earliest", "--checkpoint-ms", "1000", "--max-seconds", "240",
                      timeout=300)
    run_s = time.monotonic() - started
    assert run.returncode == 0, run.stderr[-3000:]
    assert "stopped after" in run.stderr
    printed = run.stdout + run.stderr + _log_growth(logs_before)
    assert not [p for p in passwords if p in printed], "a password shows up in the job's output or log"

    expected = json.loads(json.dumps(run_in_process(make_plan(load(str(FRAUD / "card_fraud_velocity.yaml"))),
                                                    [("transactions", e) for e in FRAUD_EVENTS]).__dict__))
    assert expected["actions"] and expected["detected"] and expected["dead_letter"]

    def read(name: str) -> list[tuple[str | None, dict]]:  # over SASL_SSL, read_committed
        return [(k, json.loads(v)) for k, v in tail(kafka, name, from_beginning=True, idle_ms=3000)]

    actions = read(f"{prefix}card_fraud_velocity.actions.fraud_alert")
    assert sorted((r for _, r in actions), key=lambda r: r["id"]) == sorted(expected["actions"], key=lambda r: r["id"])
    assert all(key == record["to"] for key, record in actions)
    dead = read(f"{prefix}card_fraud_velocity.dead_letter")
    assert sorted(json.dumps(r, sort_keys=True) for _, r in dead) == sorted(
        json.dumps(r, sort_keys=True) for r in expected["dead_letter"])

    es = EsSettings(eenv["ES_URL"], eenv["ES_USERNAME"], eenv["ES_PASSWORD"], ca_file=eenv["ES_CA_CERT"]).client()
    try:
        index = f"{prefix}kairos-detections-card_fraud_velocity"
        es.indices.refresh(index=index)
        hits = es.search(index=index, size=100, query={"match_all": {}})["hits"]["hits"]
    finally:
        es.close()
    assert {h["_id"]: h["_source"] for h in hits} == {d["id"]: d for d in expected["detected"]}
    print(f"secure bounded run: {run_s:.0f}s")


@pytest.mark.integration
def test_wrong_password_fails_with_one_clear_line(secure_services, tmp_path):
    kenv, eenv = secure_services["kafka"], secure_services["es"]
    wrong = "wr0ng-" + uuid.uuid4().hex[:6]
    secrets = _secrets_file(tmp_path, kenv, eenv, KAIROS_ES_PASSWORD=wrong)
    started = time.monotonic()
    run = _kairos_run(str(FRAUD / "card_fraud_velocity.yaml"), "--kafka", kenv["KAFKA_SECURE_BOOTSTRAP"],
                      "--es", eenv["ES_URL"], "--secrets", str(secrets), "--prefix", f"s{uuid.uuid4().hex[:8]}.",
                      "--bounded", timeout=120)
    assert run.returncode != 0
    assert "401" in run.stderr and "unable to authenticate" in run.stderr, run.stderr[-3000:]
    assert "Traceback" not in run.stderr and len(run.stderr.splitlines()) <= 5, run.stderr[-3000:]
    assert wrong not in run.stdout + run.stderr and eenv["ES_PASSWORD"] not in run.stdout + run.stderr
    assert time.monotonic() - started < 60
