"""The local services are real and usable: Kafka produce/consume, Elasticsearch
index/search, Flink session cluster with a TaskManager."""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest

pytestmark = pytest.mark.integration


def test_kafka_produce_consume(kafka_bootstrap):
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    topic = f"it-services-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="it-admin")
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    sent = [(f"k{i}".encode(), json.dumps({"i": i}).encode()) for i in range(10)]
    for key, value in sent:
        producer.send(topic, key=key, value=value)
    producer.flush(timeout=30)
    producer.close()

    consumer = KafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
                             group_id=f"it-{topic}", consumer_timeout_ms=10_000)
    got = []
    for msg in consumer:
        got.append((msg.key, msg.value))
        if len(got) == len(sent):
            break
    consumer.close()
    assert got == sent


def test_kafka_secure_listener_when_enabled(kafka_env, kafka_bootstrap):
    """With `kafka.sh start --secure`: SASL_SSL round trip. Plain mode: the PLAINTEXT listener is all there is."""
    from kafka import KafkaConsumer, KafkaProducer

    if kafka_env.get("KAFKA_SECURE") != "1":
        assert "KAFKA_SECURE_BOOTSTRAP" not in kafka_env
        return
    kw = dict(bootstrap_servers=kafka_env["KAFKA_SECURE_BOOTSTRAP"], security_protocol="SASL_SSL",
              sasl_mechanism=kafka_env["KAFKA_SASL_MECHANISM"], sasl_plain_username=kafka_env["KAFKA_SASL_USERNAME"],
              sasl_plain_password=kafka_env["KAFKA_SASL_PASSWORD"], ssl_cafile=kafka_env["KAFKA_SSL_CAFILE"])
    topic = f"it-secure-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(**kw)
    producer.send(topic, b"over-tls")
    producer.flush(timeout=30)
    producer.close()
    consumer = KafkaConsumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=10_000, **kw)
    assert [m.value for m in consumer] == [b"over-tls"]
    consumer.close()


def test_elasticsearch_index_and_search(es_url, es_env):
    from elasticsearch import Elasticsearch

    kwargs = {}
    if es_env.get("ES_SECURE") == "1":
        kwargs = {"basic_auth": (es_env["ES_USERNAME"], es_env["ES_PASSWORD"]), "ca_certs": es_env["ES_CA_CERT"]}
    es = Elasticsearch(es_url, request_timeout=30, **kwargs)
    index = f"it-services-{uuid.uuid4().hex[:8]}"
    try:
        health = es.cluster.health(wait_for_status="yellow", timeout="30s")
        assert health["status"] in ("yellow", "green")
        for i in range(3):
            es.index(index=index, id=f"doc-{i}", document={"rule": "r1", "score": i})
        # same id again = update, not a new doc (what an idempotent sink relies on)
        es.index(index=index, id="doc-0", document={"rule": "r1", "score": 10})
        es.indices.refresh(index=index)
        res = es.search(index=index, query={"range": {"score": {"gte": 2}}}, sort=[{"score": "asc"}])
        assert res["hits"]["total"]["value"] == 2
        assert [h["_id"] for h in res["hits"]["hits"]] == ["doc-2", "doc-0"]
        assert es.count(index=index)["count"] == 3
    finally:
        es.options(ignore_status=404).indices.delete(index=index)
        es.close()


def test_flink_cluster_has_taskmanager(flink_rest, flink_env):
    with urllib.request.urlopen(f"{flink_rest}/overview", timeout=10) as r:
        overview = json.load(r)
    assert overview["taskmanagers"] >= 1, overview
    assert overview["slots-total"] >= 2, overview
    with urllib.request.urlopen(f"{flink_rest}/taskmanagers", timeout=10) as r:
        tms = json.load(r)["taskmanagers"]
    assert tms and tms[0]["slotsNumber"] >= 2


def test_flink_prometheus_reporter(flink_env):
    lo, hi = (int(p) for p in flink_env["FLINK_PROM_PORTS"].split("-"))
    found = []
    for port in range(lo, hi + 1):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3) as r:
                if "flink_" in r.read().decode():
                    found.append(port)
        except OSError:
            pass
    assert len(found) >= 2, f"expected JobManager + TaskManager Prometheus endpoints in {lo}-{hi}, got {found}"
