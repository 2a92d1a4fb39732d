"""Issue 8 on real Kafka: the fraud stream with 10% hostile records of every category (plus records without a
value, which only Kafka has) runs as a streaming job (KafkaSource -> Kafka sinks) with the job up to the end;
per node in == out + filtered + dead_letter + held exactly; every hostile record is on the dead-letter topic
with its raw input; actions and detections equal an in-process run on the good events alone.

The job reads the topic up to its end offset (bounded) so it finishes and writes its counts: the same job
as a streaming one, which would simply go on.
"""

from __future__ import annotations

import glob
import json
import os
import uuid

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.config.naming import Naming
from jobs.config.settings import KafkaSettings
from jobs.connect.runner import default_kafka_jar
from jobs.connect.topics import ensure_topics, tail
from jobs.runtime.files import canonical
from jobs.runtime.harness import run_in_process
from tests.hostile import KAFKA_ONLY, MAKERS, arithmetic, check_fraud_oracle, check_hostile_run, mixed_stream

pytestmark = pytest.mark.integration
SCENARIO = os.path.join(os.path.dirname(__file__), "..", "..", "scenarios", "card_fraud_velocity",
                        "card_fraud_velocity.yaml")


class Result:
    def __init__(self, actions, detected, dead_letter, counts):
        norm = lambda records: json.loads(json.dumps(canonical(records)))  # noqa: E731
        self.actions, self.detected, self.dead_letter, self.counts = \
            norm(actions), norm(detected), norm(dead_letter), counts


def produce_raw(kafka: KafkaSettings, topic: str, values: list[bytes | None]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(acks="all", max_request_size=1_048_576, **kafka.python_kwargs())
    try:
        for value in values:
            producer.send(topic, key=b"k", value=value)
        producer.flush()
    finally:
        producer.close()


def run_bounded(plan, kafka: KafkaSettings, naming: Naming, counts_dir: str) -> dict:
    from jobs.flink.embedded import prepare_python_path
    from jobs.flink.job import JobOptions, build_job, make_environment
    from jobs.flink.kafka_io import KafkaInputs, KafkaOutputs, TableEnv
    from jobs.runtime.executor import merge_counts

    prepare_python_path()
    options = JobOptions(parallelism=1, deterministic=False, counts_dir=counts_dir, checkpoint_interval_ms=1000,
                         pipeline_jars=[default_kafka_jar()], extra_config={"restart-strategy.type": "none"})
    env = make_environment(options)
    tables = TableEnv(env)
    outputs = KafkaOutputs(kafka, naming, tables)
    ensure_topics(kafka, outputs.topics(plan))
    build_job(env, plan, KafkaInputs(kafka, naming, tables, start="earliest", bounded=True), outputs, options)
    env.execute(f"kairos/{plan.scenario.name}/hostile")  # raises when the job fails
    parts = []
    for path in sorted(glob.glob(os.path.join(counts_dir, "*.json"))):
        with open(path, encoding="utf-8") as handle:
            parts.append(json.load(handle))
    return merge_counts(parts)


def read(kafka: KafkaSettings, topic: str) -> list[dict]:
    return [json.loads(v) for _, v in tail(kafka, topic, from_beginning=True, idle_ms=5000)]


def test_hostile_stream_on_kafka(kafka_bootstrap, tmp_path) -> None:
    stream = mixed_stream(n_good=1000, hostile_share=0.10, seed=23, kafka=True)
    assert {line.category for line in stream} == {"good", *MAKERS, *KAFKA_ONLY}
    kafka = KafkaSettings(kafka_bootstrap)
    plan = make_plan(load(SCENARIO))
    naming = Naming(plan.scenario.name, prefix=f"t{uuid.uuid4().hex[:8]}.hostile.")
    topic = naming.source_topic("transactions")
    ensure_topics(kafka, [topic])
    produce_raw(kafka, topic, [line.data for line in stream])
    counts = run_bounded(plan, kafka, naming, str(tmp_path / "counts"))
    prefix = f"{naming.prefix}{plan.scenario.name}"
    mixed = Result(read(kafka, f"{prefix}.actions.fraud_alert"), read(kafka, f"{prefix}.detections"),
                   read(kafka, f"{prefix}.dead_letter"), counts)
    # the oracle: the same engine code in-process, fed the good records alone in the same order
    good = run_in_process(plan, [("transactions", line.data.decode()) for line in stream if not line.hostile])
    oracle = Result(good.actions, good.detected, good.dead_letter, json.loads(json.dumps(good.counts)))
    assert oracle.detected and oracle.actions
    result = check_hostile_run(stream, mixed, oracle)
    check_fraud_oracle(stream, mixed)
    print("kafka hostile run:", arithmetic(result))


BANK = os.path.join(os.path.dirname(__file__), "..", "..", "scenarios", "low_balance_offer", "low_balance_offer.yaml")


def test_changelog_value_that_is_not_utf8_is_a_dead_letter(kafka_bootstrap, tmp_path) -> None:
    """upsert-kafka's raw STRING value replaced invalid bytes by U+FFFD: a corrupted profile was taken as good.
    The value is now read as BYTES; the entry decodes it, and refuses it with its exact bytes."""
    import base64

    kafka = KafkaSettings(kafka_bootstrap)
    plan = make_plan(load(BANK))
    naming = Naming(plan.scenario.name, prefix=f"t{uuid.uuid4().hex[:8]}.hostile.")
    profiles, atm = naming.source_topic("profiles"), naming.source_topic("atm")
    ensure_topics(kafka, [profiles, atm], compacted=[profiles])
    good = {"customer_id": "c-1", "name": "Anna", "phone": "+48600100100", "balance": 1.0, "sms_consent": True,
            "segment": "mass", "updated_at": "2026-11-02T08:00:00Z"}
    corrupt = json.dumps({**good, "customer_id": "c-2", "name": "Ol@"}).encode().replace(b"@", b"\xe9")
    from kafka import KafkaProducer

    producer = KafkaProducer(acks="all", **kafka.python_kwargs())
    producer.send(profiles, key=b"c-1", value=json.dumps(good).encode())
    producer.send(profiles, key=b"c-2", value=corrupt)
    producer.send(atm, key=b"c-1", value=b"\xff not an event")
    producer.flush()
    producer.close()
    counts = run_bounded(plan, kafka, naming, str(tmp_path / "counts"))
    dead = read(kafka, f"{naming.prefix}{plan.scenario.name}.dead_letter")
    assert sorted((d["node"], base64.b64decode(d["raw_base64"])) for d in dead) == \
        [("atm", b"\xff not an event"), ("profiles", corrupt)]
    assert {k: counts["profiles"][k] for k in ("in", "out", "dead_letter")} == {"in": 2, "out": 1, "dead_letter": 1}
