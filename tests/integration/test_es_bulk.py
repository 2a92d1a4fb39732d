"""Detections in bulk against the real Elasticsearch (jobs/flink/es_io.py):
* inside a Flink job (embedded MiniCluster, parallelism 2, buffers in ListState): exactly the input documents in
  the index (the expected set is the input minus the one the mapping refuses), more than one bulk request's
  worth, and the refused one in the returned dead-letter stream with the raw document;
* a restore: documents buffered (Elasticsearch unreachable) when a savepoint is taken are written by the job
  restored from it: the buffer is Flink state, not Python memory;
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

from jobs.config.naming import Naming
from jobs.config.settings import load_connections
from jobs.connect.es_template import ensure_index_template
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


@pytest.mark.flink
def test_buffered_documents_survive_a_restore(index, kafka_bootstrap, tmp_path):
    from pyflink.common import Types, WatermarkStrategy
    from pyflink.common.serialization import SimpleStringSchema
    from pyflink.datastream.connectors.kafka import KafkaOffsetsInitializer, KafkaSource
    from pyflink.java_gateway import get_gateway

    from jobs.config.settings import KafkaSettings
    from jobs.connect.runner import default_kafka_jar
    from jobs.connect.topics import ensure_topics, produce
    from jobs.flink.embedded import prepare_python_path
    from jobs.flink.es_io import attach_es_detections
    from jobs.flink.job import JobOptions, make_environment
    from tests.integration.test_kafka_es_e2e import committed, wait_for

    settings, name = index
    topic, group = f"{name}.in", f"g-{uuid.uuid4().hex[:8]}"
    docs = [detection(i) for i in range(50)]
    ensure_topics(KafkaSettings(kafka_bootstrap), [topic])
    produce(KafkaSettings(kafka_bootstrap), topic, [json.dumps(d) for d in docs])
    down = Relay(("127.0.0.1", 1))  # never started: Elasticsearch unreachable
    prepare_python_path()

    def job(es, flush_ms: int, restore: str | None = None):
        extra = {"restart-strategy.type": "none", **({"execution.state-recovery.path": restore} if restore else {})}
        env = make_environment(JobOptions(checkpoint_interval_ms=500, pipeline_jars=[default_kafka_jar()],
                                          extra_config=extra))
        builder = (KafkaSource.builder().set_bootstrap_servers(kafka_bootstrap).set_topics(topic)
                   .set_group_id(group).set_starting_offsets(KafkaOffsetsInitializer.earliest())
                   .set_value_only_deserializer(SimpleStringSchema()))
        stream = env.from_source(builder.build(), WatermarkStrategy.no_watermarks(), "in").uid("in")
        attach_es_detections(stream.map(lambda x: x, output_type=Types.STRING()), es, name, "bulk",
                             max_docs=10_000, flush_ms=flush_ms)
        return env.execute_async("es-restore")

    unreachable = load_connections(None, f"http://127.0.0.1:{down.port}", None, environ={}).es
    first = job(unreachable, flush_ms=600_000)  # no timer, no size flush before the savepoint: all 50 wait
    kafka = KafkaSettings(kafka_bootstrap)
    try:  # offsets are committed when a checkpoint completes: then every document is in the writer's state
        wait_for("all input consumed and checkpointed", lambda: committed(kafka, group, topic) == 50)
        # PyFlink's trigger_savepoint() calls a signature Flink 2 no longer has: the Java method directly
        canonical = get_gateway().jvm.org.apache.flink.core.execution.SavepointFormatType.CANONICAL
        savepoint = first._j_job_client.triggerSavepoint(str(tmp_path / "sp"), canonical).get()
    finally:
        first.cancel().result()  # close() tries to write for 10 s, gives up: the documents stay in the savepoint
    es = settings.client()
    try:
        assert index_docs(es, name) == {}
        second = job(settings, flush_ms=200, restore=savepoint)
        try:  # (a restored split keeps its unbounded stopping offset: this job runs until cancelled)
            late = detection(50)
            produce(kafka, topic, [json.dumps(late)])  # the key's next document writes the restored buffer too
            expected = {d["id"]: d for d in [*docs, late]}
            wait_for("restored documents in the index", lambda: len(index_docs(es, name)) >= len(expected))
            assert index_docs(es, name) == expected
        finally:
            second.cancel().result()
    finally:
        es.close()
