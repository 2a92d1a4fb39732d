"""Poison stream on real Kafka: the fraud example's stream with 10% hostile records of every kind tests/hostile.py
makes (malformed JSON, wrong types, non-finite numbers, out-of-range and far-future times, invalid UTF-8, blank
lines, oversized and deeply nested records, control bytes, lone surrogates, records without a value) through a
streaming Kafka job on the private broker, read to the topic's end so the job finishes and writes its counts.

Checked (tests/hostile.py, the acceptance checks of issue 8, here at 100k records): the job ends without a
failure; per node in == out + filtered + dead_letter + held exactly; every hostile record is a dead letter of the
source with its raw input; the outputs equal an in-process run on the good records alone, and the detections and
alerts equal a brute-force reading of the scenario (fraud_oracle). The watermark: the good records hold no late
event (none is older than the 30 s bound), so a rejected far-future record that moved event time would make the
good ones after it late at the window, dead letters at `velocity`: `late_good_events` must be 0.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid

from bench.drills.private import Private


def produce_all(kafka, topic: str, values: list[bytes | None], chunk: int = 2_000) -> int:
    """Every record on the topic or an exception: the first 100k run lost 59,565 of them in the producer
    (batches past kafka-python's 120 s delivery timeout on a loaded machine are dropped, and a producer
    that does not look at its futures never knows). Returns the topic's record count afterwards."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    producer = KafkaProducer(acks="all", max_request_size=1_048_576, delivery_timeout_ms=900_000,
                             request_timeout_ms=120_000, linger_ms=20, **kafka.python_kwargs())
    try:
        for start in range(0, len(values), chunk):
            futures = [producer.send(topic, key=b"k", value=v) for v in values[start:start + chunk]]
            producer.flush()
            for future in futures:
                future.get(timeout=900)  # raises the send's error
    finally:
        producer.close()
    consumer = KafkaConsumer(**kafka.python_kwargs())
    try:
        partition = TopicPartition(topic, 0)
        return consumer.end_offsets([partition])[partition]
    finally:
        consumer.close()


def run(private: Private, n: int, seed: int = 29) -> dict:
    from jobs.compiler.plan import make_plan
    from jobs.compiler.validate import load
    from jobs.config.naming import Naming
    from jobs.config.settings import KafkaSettings
    from jobs.connect.topics import ensure_topics
    from jobs.runtime.harness import run_in_process
    from tests.hostile import KAFKA_ONLY, MAKERS, arithmetic, check_fraud_oracle, check_hostile_run, mixed_stream
    from tests.integration.test_kafka_hostile import SCENARIO, Result, read, run_bounded

    stream = mixed_stream(n_good=round(n * 0.9), hostile_share=0.10, seed=seed, kafka=True)
    categories = sorted({line.category for line in stream} - {"good"})
    kafka = KafkaSettings(private.env("kafka")["KAFKA_BOOTSTRAP"])
    plan = make_plan(load(SCENARIO))
    naming = Naming(plan.scenario.name, prefix=f"drill{uuid.uuid4().hex[:6]}.poison.")
    topic = naming.source_topic("transactions")
    ensure_topics(kafka, [topic])
    started = time.monotonic()
    on_topic = produce_all(kafka, topic, [line.data for line in stream])
    produced_s = round(time.monotonic() - started, 1)
    if on_topic != len(stream):
        raise RuntimeError(f"{on_topic} records on {topic}, {len(stream)} produced")
    started = time.monotonic()
    failure = None
    with tempfile.TemporaryDirectory(prefix="kairos-drill-poison-") as counts_dir:
        try:
            counts = run_bounded(plan, kafka, naming, counts_dir)
        except Exception as exc:  # noqa: BLE001 - the drill reports a job that failed
            counts, failure = {}, repr(exc)[:2000]
    job_s = round(time.monotonic() - started, 1)
    result = {"records": len(stream), "hostile": sum(line.hostile for line in stream), "categories": categories,
              "all_categories": set(categories) == set(MAKERS) | set(KAFKA_ONLY), "produce_s": produced_s,
              "job_s": job_s, "job_failed": failure}
    if failure:
        return {**result, "ok": False}
    prefix = f"{naming.prefix}{plan.scenario.name}"
    mixed = Result(read(kafka, f"{prefix}.actions.fraud_alert"), read(kafka, f"{prefix}.detections"),
                   read(kafka, f"{prefix}.dead_letter"), counts)
    good = run_in_process(plan, [("transactions", line.data.decode()) for line in stream if not line.hostile])
    oracle = Result(good.actions, good.detected, good.dead_letter, json.loads(json.dumps(good.counts)))
    unbalanced = [name for name, c in counts.items()
                  if c["in"] != c["out"] + c["filtered"] + c["dead_letter"] + c["held"]]
    result.update({
        "counts": {name: {k: c[k] for k in ("in", "out", "filtered", "dead_letter", "held")}
                   for name, c in counts.items()},
        "unbalanced_nodes": unbalanced,
        "dead_letters": len(mixed.dead_letter),
        "late_good_events": sum(1 for d in mixed.dead_letter if d["node"] == "velocity"),
        "actions": len(mixed.actions), "detections": len(mixed.detected)})
    problems = []
    for check in (lambda: check_hostile_run(stream, mixed, oracle), lambda: check_fraud_oracle(stream, mixed)):
        try:
            check()
        except AssertionError as exc:
            problems.append(str(exc)[:1000] or "assertion failed")
    result["problems"] = problems
    print(f"  poison: {arithmetic(result['counts'])}", flush=True)
    result["ok"] = not problems and not unbalanced and result["late_good_events"] == 0 and result["all_categories"]
    return result
