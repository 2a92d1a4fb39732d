"""`kairos param set`: one parameter change on the control topic (jobs/runtime/live_params.py reads it)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

from jobs.config.naming import Naming
from jobs.config.settings import KafkaSettings
from jobs.flink.control import CONTROL_TOPIC
from jobs.runtime.live_params import param_message


def change_message(scenario: str, name: str, value: Any) -> dict:
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return param_message(scenario, name, value, uuid.uuid4().hex, now)


def send_change(kafka: KafkaSettings, prefix: str, message: dict) -> tuple[str, int]:
    """(topic, offset) of the message, written with acks=all. Keyed by the scenario: one partition per
    scenario, so its changes keep their order whatever the topic's partitions."""
    from kafka import KafkaProducer

    from jobs.connect.topics import ensure_topics

    topic = Naming(str(message["scenario"]), prefix).source_topic(CONTROL_TOPIC)
    ensure_topics(kafka, [topic])
    producer = KafkaProducer(acks="all", **kafka.python_kwargs())
    try:
        meta = producer.send(topic, json.dumps(message).encode(), key=str(message["scenario"]).encode()).get(timeout=30)
    finally:
        producer.close()
    return topic, meta.offset
