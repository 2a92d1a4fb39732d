"""Detections in bulk against the real Elasticsearch (jobs/flink/es_io.py):
* inside a Flink job (embedded MiniCluster, parallelism 2, buffers in ListState): exactly the input documents in
  the index (the expected set is the input minus the one the mapping refuses), more than one bulk request's
  worth, and the refused one in the returned dead-letter stream with the raw document;
* an outage: Elasticsearch unreachable for a while (its port closed, then a plain TCP relay to the real node):
  the write waits and retries instead of failing, and no document is lost.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid

import pytest

from jobs.connect.es_template import ensure_index_template
from jobs.connect.naming import Naming
from jobs.connect.settings import load_connections
from jobs.flink.es_io import MAX_DOCS, Cancelled, EsBulkWriter

pytestmark = pytest.mark.integration


def detection(i: int, **extra) -> dict:
    return {"id": f"bulk:n:{i}", "scenario": "bulk", "node": "n", "kind": "detected", "key": f"k{i % 7}",
            "event_id": str(i), "time": f"2026-11-02T10:{i // 60 % 60:02d}:{i % 60:02d}.000Z",
            "fields": {"amount": i * 3, "label": f"L{i}"}, **extra}


def index_docs(es, index: str) -> dict[str, dict]:
    es.indices.refresh(index=index)
    found = {}
    for hit in es.search(index=index, size=10000, query={"match_all": {}})["hits"]["hits"]:
        found[hit["_id"]] = hit["_source"]
    return found


@pytest.fixture
def index(es_url):
    naming = Naming("bulk_check", prefix=f"b{uuid.uuid4().hex[:8]}.")
    settings = load_connections(None, es_url, None, environ={}).es
    ensure_index_template(settings, naming)
    yield settings, naming.index
    es = settings.client()
    es.indices.delete(index=naming.index, ignore_unavailable=True)
    es.close()


@pytest.mark.flink
def test_bulk_writes_inside_a_flink_job(index):
    from pyflink.common import Types

    from jobs.flink.embedded import prepare_python_path
    from jobs.flink.es_io import attach_es_detections
    from jobs.flink.job import JobOptions, make_environment

    settings, name = index
    docs = [detection(i) for i in range(2 * MAX_DOCS + 37)]
    refused = detection(99999, time="not a date")  # `time` is mapped as a date
    texts = [json.dumps(d) for d in docs]
    texts.append(json.dumps(refused))  # last: in the final, partial buffer (written at the end of the input)
    prepare_python_path()
    env = make_environment(JobOptions(parallelism=2, extra_config={"restart-strategy.type": "none"}))
    stream = env.from_collection(texts, type_info=Types.STRING())
    dead = attach_es_detections(stream, settings.for_job(embedded=True), name, "bulk", buckets=2)
    with dead.execute_and_collect() as results:  # a test's sink, off any hot path
        dead_letters = [json.loads(r) for r in results]

    [letter] = dead_letters
    assert letter["raw"] == refused and letter["scenario"] == "bulk" and letter["node"] == "n"
    assert letter["error"].startswith("Elasticsearch refused the detection (400): document_parsing_exception")
    es = settings.client()
    try:
        assert index_docs(es, name) == {d["id"]: d for d in docs}
    finally:
        es.close()


class Relay:
    """A TCP relay from `port` to Elasticsearch, started late: until then the port refuses connections."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.server: socket.socket | None = None

    def start(self) -> None:
        self.server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if self.server:
            self.server.close()


def test_outage_is_waited_out_without_losing_documents(index, es_url):
    settings, name = index
    host, port = es_url.split("://", 1)[1].rsplit(":", 1)
    relay = Relay((host, int(port)))
    through = load_connections(None, f"http://127.0.0.1:{relay.port}", None, environ={}).es
    writer = EsBulkWriter(through, name)
    writer.open()
    docs = [detection(i) for i in range(120)]
    for d in docs:
        writer.add(json.dumps(d))
    done: dict = {}
    flusher = threading.Thread(target=lambda: done.update(refused=writer.flush()))
    try:
        flusher.start()
        time.sleep(2.0)  # Elasticsearch "down": every request so far was refused at connect
        assert flusher.is_alive() and writer.retries >= 2
        relay.start()
        flusher.join(timeout=60)
        assert not flusher.is_alive()
    finally:
        relay.stop()
        writer.close()
    assert done["refused"] == []
    es = settings.client()
    try:
        assert index_docs(es, name) == {d["id"]: d for d in docs}
    finally:
        es.close()


def test_a_deadline_ends_the_retries(index):
    """close() writes with a deadline (a cancel must not wait for the outage to end); the documents stay."""
    _, name = index
    relay = Relay(("127.0.0.1", 1))  # never started: connection refused
    writer = EsBulkWriter(load_connections(None, f"http://127.0.0.1:{relay.port}", None, environ={}).es, name)
    writer.open()
    writer.add(json.dumps(detection(1)))
    with pytest.raises(Cancelled, match="gave up"):
        writer.flush(deadline_s=1.0)
    assert writer.retries >= 2
    assert len(writer.pending) == 1  # not dropped: still buffered
    writer.close()
