"""The serialized job graph holds no password (decision 0011): built for a local run (`kairos run --kafka`) and
for the cluster path (jobs/scenario_job.py under `flink run`), then Java-serialized the way the client ships it
to the JobManager, and searched for the test's passwords (as UTF-8, and as Java's modified UTF-8 / UTF-16 in
case a value is stored as characters). No services: building a job connects to nothing.
tests/integration/test_secrets_secure.py runs the same jobs against secured Kafka and Elasticsearch."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.config.settings import load_connections
from jobs.connect.runner import ConnectOptions, build, default_kafka_jar

pytestmark = pytest.mark.flink
REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "scenarios" / "low_balance_offer" / "low_balance_offer.yaml"  # changelog + actions + ES
KAFKA_PW, STORE_PW, ES_PW, URL_PW = "kfk-Graph-pw-91", "trust-Graph-pw-92", "es-Graph-pw-93", "url-Graph-pw-94"


def serialized(env) -> bytes:
    """StreamGraph and JobGraph of `env` as the client serializes them (Java serialization)."""
    from pyflink.java_gateway import get_gateway

    gateway = get_gateway()
    stream_graph = env._generate_stream_graph(clear_transformations=False)
    job_graph = stream_graph.getJobGraph()
    util = gateway.jvm.org.apache.flink.util.InstantiationUtil
    return bytes(util.serializeObject(stream_graph)) + bytes(util.serializeObject(job_graph))


def leaks(blob: bytes, *passwords: str) -> list[str]:
    return [p for p in passwords if any(form in blob for form in (p.encode(), p.encode("utf-16-be")))]


def secrets(tmp_path: Path, es: bool = True) -> str:
    path = tmp_path / "job.secrets"
    path.write_text(f"KAIROS_KAFKA_USERNAME=kairos\nKAIROS_KAFKA_PASSWORD={KAFKA_PW}\n"
                    "KAIROS_KAFKA_TRUSTSTORE=/etc/kairos/truststore.p12\n"
                    + (f"KAIROS_ES_USERNAME=elastic\nKAIROS_ES_PASSWORD={ES_PW}\n" if es else ""))
    return str(path)


def test_local_run_job_graph_holds_no_password(tmp_path, monkeypatch):
    monkeypatch.setenv("KAIROS_KAFKA_TRUSTSTORE_PASSWORD", STORE_PW)
    plan = make_plan(load(str(SCENARIO)))
    # ES credentials from the URL this time (embedded runs accept them; they go to an ephemeral file)
    conns = load_connections("broker:9093", f"https://elastic:{URL_PW}@es.example:9200", secrets(tmp_path, es=False))
    assert conns.kafka.password == KAFKA_PW and conns.es.password == URL_PW  # the client did read them
    env = build(plan, conns, ConnectOptions(exactly_once=True, kafka_jar=default_kafka_jar()), embedded=True)
    blob = serialized(env)
    assert b"${file:" + str(tmp_path).encode() in blob  # the references are there ...
    assert b"${env:KAIROS_KAFKA_TRUSTSTORE_PASSWORD}" in blob
    assert b'username="kairos"' in blob  # the Kafka properties are readable in the blob: a password would be too
    assert b"kairos-detections-low_balance_offer" in blob  # ... and so is the ES writer (pickled)
    assert leaks(blob, KAFKA_PW, STORE_PW, ES_PW, URL_PW) == []  # ... the values are not


def test_cluster_job_graph_holds_no_password(tmp_path, monkeypatch):
    from jobs.scenario_job import build_kafka_job, parse_args

    monkeypatch.setenv("KAIROS_KAFKA_TRUSTSTORE_PASSWORD", STORE_PW)
    args = parse_args(["--scenario", str(SCENARIO), "--kafka", "broker:9093", "--es", "https://es.example:9200",
                       "--secrets", secrets(tmp_path), "--exactly-once", "--no-prepare"])
    env, name = build_kafka_job(args)
    blob = serialized(env)
    assert name == "kairos/low_balance_offer"
    assert b"job.secrets:KAIROS_KAFKA_PASSWORD}" in blob
    assert leaks(blob, KAFKA_PW, STORE_PW, ES_PW) == []
