"""`kairos erase KEY`: send the erase request, wait for the running jobs to pass it, delete the documents.

1. the request goes to `<prefix>kairos.control` (jobs/flink/control.py);
2. every consumer group that reads the control topic must commit past it: a job commits its offsets when a
   checkpoint completes, so its state without the key is then durable (a restore cannot bring it back);
3. the key's detections are deleted from every `<prefix>kairos-detections-*` index (field `key`); then
   again after the Elasticsearch writers' flush window, for documents that were still buffered.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from jobs.config.settings import Connections
from jobs.flink.control import CONTROL_TOPIC, erase_request

FLUSH_WAIT_S = 3.0  # jobs/flink/es_io.py flushes its buffer 200 ms after its first document; retries take longer


@dataclass
class EraseReport:
    key: str
    request_id: str
    offset: int
    groups_done: list[str] = field(default_factory=list)
    groups_waiting: list[str] = field(default_factory=list)
    deleted_documents: int = 0
    remaining_documents: int | None = None


def send_erase(conns: Connections, prefix: str, key: str) -> tuple[dict, int]:
    from kafka import KafkaProducer

    from jobs.connect.topics import ensure_topics

    topic = prefix + CONTROL_TOPIC
    ensure_topics(conns.kafka, [topic])
    request = erase_request(key)
    producer = KafkaProducer(acks="all", **conns.kafka.python_kwargs())
    try:
        meta = producer.send(topic, json.dumps(request).encode(), key=key.encode()).get(timeout=30)
    finally:
        producer.close()
    return request, meta.offset


def control_groups(conns: Connections, topic: str) -> dict[str, int]:
    """Consumer groups with a committed offset on the control topic -> that offset."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**conns.kafka.python_kwargs())
    try:
        found: dict[str, int] = {}
        names = [g["group_id"] if isinstance(g, dict) else g[0] for g in admin.list_groups()]
        if not names:
            return found
        for group, offsets in admin.list_group_offsets({n: None for n in names}).items():
            for tp, meta in (offsets or {}).items():
                if tp.topic == topic and meta.offset >= 0:
                    found[group] = max(found.get(group, 0), meta.offset)
        return found
    finally:
        admin.close()


def delete_documents(conns: Connections, prefix: str, key: str) -> tuple[int, int]:
    """(deleted, remaining) detections of `key` in the prefix's detection indices."""
    from jobs.config.naming import Naming

    pattern = Naming("x", prefix).index_pattern
    es = conns.es.client()
    query = {"term": {"key": key}}
    deleted = 0
    try:
        # search + bulk delete rather than _delete_by_query: that lives in the `reindex` module, which a
        # minimal Elasticsearch (the local services/elasticsearch.sh one) does not load
        while True:
            es.indices.refresh(index=pattern, allow_no_indices=True, ignore_unavailable=True)
            hits = es.search(index=pattern, query=query, size=1000, source=False, allow_no_indices=True,
                             ignore_unavailable=True)["hits"]["hits"]
            if not hits:
                return deleted, 0
            operations = [{"delete": {"_index": h["_index"], "_id": h["_id"]}} for h in hits]
            result = es.bulk(operations=operations, refresh=True)
            deleted += sum(1 for item in result["items"] if item["delete"].get("result") == "deleted")
    finally:
        es.close()


def erase(conns: Connections, prefix: str, key: str, wait_s: float = 120.0) -> EraseReport:
    topic = prefix + CONTROL_TOPIC
    request, offset = send_erase(conns, prefix, key)
    report = EraseReport(key, request["id"], offset)
    deadline = time.monotonic() + wait_s
    while True:
        groups = control_groups(conns, topic)
        report.groups_done = sorted(g for g, o in groups.items() if o > offset)
        report.groups_waiting = sorted(g for g, o in groups.items() if o <= offset)
        if (groups and not report.groups_waiting) or time.monotonic() > deadline:
            break
        time.sleep(1)
    if conns.es:
        deleted, _ = delete_documents(conns, prefix, key)
        time.sleep(FLUSH_WAIT_S)
        again, remaining = delete_documents(conns, prefix, key)
        report.deleted_documents, report.remaining_documents = deleted + again, remaining
    return report
