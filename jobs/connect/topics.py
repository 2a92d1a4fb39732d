"""Kafka admin and client helpers (kafka-python): create output topics, produce files, tail topics."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator

from jobs.config.settings import KafkaSettings


def ensure_topics(kafka: KafkaSettings, topics: Iterable[str], partitions: int = 1, replication: int = 1,
                  compacted: Iterable[str] = ()) -> list[str]:
    """Create the topics that do not exist yet; returns the created ones. Existing topics are left alone."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(client_id="kairos-admin", **kafka.python_kwargs())
    try:
        wanted = list(dict.fromkeys(topics))
        missing = [t for t in wanted if t not in set(admin.list_topics())]
        compact = set(compacted)
        new = [NewTopic(t, partitions, replication,
                        topic_configs={"cleanup.policy": "compact"} if t in compact else {}) for t in missing]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):  # created concurrently: fine
                admin.create_topics(new)
        return missing
    finally:
        admin.close()


def produce(kafka: KafkaSettings, topic: str, lines: Iterable[str], key_field: str | None = None) -> int:
    """Send JSON lines; key = the record's `key_field` as text. A line `{"<key>": k, "_deleted": true}` with
    a key field becomes a tombstone (null value), which is how changelog deletes look on a compacted topic."""
    from kafka import KafkaProducer

    producer = KafkaProducer(acks="all", **kafka.python_kwargs())
    sent = 0
    try:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            key, value = None, line.encode()
            if key_field:
                try:
                    record = json.loads(line)
                except ValueError:
                    record = None  # malformed lines are sent as they are: the job dead-letters them
                if isinstance(record, dict) and record.get(key_field) is not None:
                    key = str(record[key_field]).encode()
                    if record.get("_deleted") is True:
                        value = None
            producer.send(topic, key=key, value=value)
            sent += 1
        producer.flush()
    finally:
        producer.close()
    return sent


def tail(kafka: KafkaSettings, topic: str, from_beginning: bool = False, max_records: int | None = None,
         idle_ms: int | None = None, committed_only: bool = True) -> Iterator[tuple[str | None, str | None]]:
    """(key, value) pairs of a topic as text; stops after `max_records` or `idle_ms` without records."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, auto_offset_reset="earliest" if from_beginning else "latest",
                             enable_auto_commit=False, group_id=None,
                             isolation_level="read_committed" if committed_only else "read_uncommitted",
                             consumer_timeout_ms=idle_ms if idle_ms else float("inf"), **kafka.python_kwargs())
    seen = 0
    try:
        for message in consumer:
            yield (message.key.decode() if message.key is not None else None,
                   message.value.decode() if message.value is not None else None)
            seen += 1
            if max_records is not None and seen >= max_records:
                return
    finally:
        consumer.close()
