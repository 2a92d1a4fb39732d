"""A detection Elasticsearch refuses (a field that clashes with the mapping) becomes a dead letter; the
writer goes on with the others of the same bulk request. Runs the writer's code against the real Elasticsearch
(tests/integration/test_es_bulk.py runs it inside a Flink job)."""

from __future__ import annotations

import json
import uuid

import pytest

from jobs.config.naming import Naming
from jobs.config.settings import load_connections
from jobs.connect.es_template import ensure_index_template
from jobs.flink.es_io import EsBulkWriter

pytestmark = pytest.mark.integration


def test_refused_document_goes_to_dead_letters(es_url):
    naming = Naming("refusal_check", prefix=f"t{uuid.uuid4().hex[:8]}.")
    settings = load_connections(None, es_url, None, environ={}).es
    ensure_index_template(settings, naming)
    writer = EsBulkWriter(settings, naming.index)
    writer.open()
    try:
        good = {"id": "s:n:1", "scenario": "s", "node": "n", "time": "2026-11-02T10:00:00.000Z", "fields": {}}
        bad = {**good, "id": "s:n:2", "time": "not a date"}  # `time` is mapped as a date
        assert not writer.add(json.dumps(bad)) and not writer.add(json.dumps(good))
        [dead] = [json.loads(x) for x in writer.flush()]
        assert dead["node"] == "n" and dead["scenario"] == "s" and dead["raw"]["id"] == "s:n:2"
        assert dead["error"].startswith("Elasticsearch refused the detection (400)")
        writer.es.indices.refresh(index=naming.index)
        assert writer.es.count(index=naming.index)["count"] == 1
        assert writer.es.get(index=naming.index, id="s:n:1")["_source"] == good
        assert writer.flush() == [] and writer.retries == 0
    finally:
        writer.es.indices.delete(index=naming.index, ignore_unavailable=True)
        writer.close()
