"""Detections to Elasticsearch in bulk, from a keyed Python function (decision 0002: no ES connector for 2.x).

Document id = the detection id (scenario:node:event_id), so writing a document twice overwrites it: at-least-once
delivery, effectively once in the index.

Buffering without a checkpoint hook: in thread mode PyFlink calls no Python code before a checkpoint barrier
passes (the embedded operator's finish-bundle is a no-op), so a buffer in Python memory would be lost by a crash
after the checkpoint that counted its documents as done. The buffer is therefore a ListState (a write-through
copy is kept in Python): a checkpoint carries the documents not yet acknowledged by Elasticsearch, and after a
restore the restored processing-time timer writes them again. A buffer is written when it holds `max_docs`
documents or `max_bytes`, when its timer fires (`flush_ms` after its first document) and when the job ends.

Failures: documents Elasticsearch refuses one by one (4xx other than 429, e.g. a field clashing with the
mapping) go to the dead letters; throttling (429), server errors (5xx) and connection errors are retried with
exponential backoff for as long as they last, which backpressures the job instead of failing it or dropping
documents (checkpoints wait too: their barrier queues behind the retrying write).
"""

from __future__ import annotations

import json
import logging
import time
import zlib

from pyflink.common import Types
from pyflink.datastream import DataStream
from pyflink.datastream.functions import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ListStateDescriptor

from jobs.config.settings import EsSettings
from jobs.nodes.outputs import dead_letter
from jobs.runtime.decode import MAX_TS

LOG = logging.getLogger("kairos.es")
END_OF_INPUT = MAX_TS  # an event-time timer there fires on the final watermark of a bounded input
MAX_DOCS = 500
MAX_BYTES = 5 * 1024 * 1024
FLUSH_MS = 200
BACKOFF_S = (0.1, 10.0)  # first and longest wait between retries of a failed bulk request


CLOSE_DEADLINE_S = 10.0  # close() writes what is left at most this long (see close)
_JAVA_THREAD = []


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


class Cancelled(Exception):
    pass


def _task_interrupted() -> bool:
    """Flink cancels a task by interrupting its thread, which is the thread running this Python code (thread
    mode). Python's sleep does not notice, so a write retrying through an outage asks Java: without this, a
    cancel during an outage would wait for task.cancellation.timeout and then kill the TaskManager."""
    try:
        if not _JAVA_THREAD:
            from pemja import findClass

            _JAVA_THREAD.append(findClass("java.lang.Thread"))
        return bool(_JAVA_THREAD[0].currentThread().isInterrupted())
    except Exception:  # noqa: BLE001 - outside Flink (tests, tools): never interrupted
        return False


class EsBulkWriter:
    """Buffered bulk writes with retries; the Flink function below adds the checkpointed copy of the buffer."""

    def __init__(self, settings: EsSettings, index: str, max_docs: int = MAX_DOCS, max_bytes: int = MAX_BYTES,
                 sleep=time.sleep):
        self.settings, self.index, self.max_docs, self.max_bytes = settings, index, max_docs, max_bytes
        self.sleep = sleep
        self.es = None
        self.pending: list[str] = []
        self.pending_bytes = 0
        self.retries = 0  # bulk requests repeated after a failure (for logs and tests)
        self.deadline: float | None = None

    def open(self) -> None:
        # credentials are resolved here, where the job runs: the job graph holds none (decision 0011)
        self.es = self.settings.resolved().client(max_retries=0, retry_on_timeout=False)

    def add(self, text: str) -> bool:
        """Buffer one detection (JSON text); True when the buffer is full and should be flushed."""
        self.pending.append(text)
        self.pending_bytes += len(text)
        return len(self.pending) >= self.max_docs or self.pending_bytes >= self.max_bytes

    def flush(self, deadline_s: float | None = None) -> list[str]:
        """Write every buffered document; returns the dead letters (JSON text) of the ones refused.

        Retries until done, or raises Cancelled when the task is cancelled or `deadline_s` has passed."""
        docs = [json.loads(t) for t in self.pending]
        refused: list[str] = []
        delay = BACKOFF_S[0]
        self.deadline = None if deadline_s is None else time.monotonic() + deadline_s
        while docs:
            status, items = self._bulk(docs)
            if items is None:  # the whole request failed: outage, throttling, timeout
                self._wait(delay, f"bulk request of {len(docs)} documents failed ({status})")
                delay = min(delay * 2, BACKOFF_S[1])
                continue
            again = []
            for doc, item in zip(docs, items, strict=True):
                result = next(iter(item.values()))
                code = result.get("status", 500)
                if code < 300:
                    continue
                if _retryable(code):
                    again.append(doc)
                    continue
                error = result.get("error") or {}
                reason = f"{error.get('type', '')}: {error.get('reason', '')}" if isinstance(error, dict) else error
                refused.append(json.dumps(dead_letter(
                    doc.get("scenario", ""), doc.get("node", "elasticsearch"),
                    f"Elasticsearch refused the detection ({code}): {reason}"[:1000], doc, None)))
            if again:
                self._wait(delay, f"{len(again)} of {len(docs)} documents throttled or failed")
                delay = min(delay * 2, BACKOFF_S[1])
            docs = again
        self.pending, self.pending_bytes = [], 0
        return refused

    def _bulk(self, docs: list[dict]) -> tuple[object, list | None]:
        from elasticsearch import ApiError, TransportError

        operations: list[dict] = []
        for doc in docs:
            operations += [{"index": {"_index": self.index, "_id": doc["id"]}}, doc]
        try:
            response = self.es.bulk(operations=operations)
        except ApiError as exc:  # a status for the request as a whole (401, 413, 429, 5xx...)
            return getattr(exc.meta, "status", exc), None
        except TransportError as exc:  # connection refused / reset, timeout
            return type(exc).__name__, None
        return 200, response["items"]

    def _wait(self, delay_s: float, what: str) -> None:
        self.retries += 1
        LOG.warning("Elasticsearch %s: %s; retrying in %.1fs", self.settings.url, what, delay_s)
        end = time.monotonic() + delay_s
        while (left := end - time.monotonic()) > 0:
            if _task_interrupted() or (self.deadline is not None and time.monotonic() >= self.deadline):
                raise Cancelled(f"Elasticsearch {self.settings.url}: {what}; gave up (task cancelled or closing)")
            self.sleep(min(left, 0.2))

    def close(self) -> None:
        if self.es is not None:
            self.es.close()
            self.es = None


class EsDetectionsWriter(KeyedProcessFunction):
    """Keyed by a bucket of the detection id: each key's buffer is a ListState, so checkpoints carry it."""

    def __init__(self, settings: EsSettings, index: str, max_docs: int = MAX_DOCS, flush_ms: int = FLUSH_MS):
        self.settings, self.index, self.max_docs, self.flush_ms = settings, index, max_docs, flush_ms
        self.writer: EsBulkWriter | None = None
        self.buffer = None
        self.cached: dict[str, list[str]] = {}  # write-through copy of each key's ListState
        self.sizes: dict[str, int] = {}

    def open(self, runtime_context: RuntimeContext) -> None:
        self.writer = EsBulkWriter(self.settings, self.index, self.max_docs)
        self.writer.open()
        self.buffer = runtime_context.get_list_state(ListStateDescriptor("es-buffer", Types.STRING()))

    def _pending(self, key: str) -> list[str]:
        if key not in self.cached:  # first time since a (re)start: what the checkpoint restored
            self.cached[key] = list(self.buffer.get() or [])
            self.sizes[key] = sum(map(len, self.cached[key]))
        return self.cached[key]

    def _flush(self, key: str):
        pending = self._pending(key)
        self.writer.pending, self.writer.pending_bytes = list(pending), 0
        refused = self.writer.flush()
        pending.clear()
        self.sizes[key] = 0
        self.buffer.clear()
        return refused

    def process_element(self, value: str, ctx: KeyedProcessFunction.Context):
        key = ctx.get_current_key()
        restored = key not in self.cached
        pending = self._pending(key)
        if not pending or restored:  # restored: its timer belongs to the old job's clock and flush_ms
            timers = ctx.timer_service()
            timers.register_processing_time_timer(timers.current_processing_time() + self.flush_ms)
            # processing-time timers do not fire once a bounded input has ended; this one does, so the last
            # refused documents still reach the dead letters
            timers.register_event_time_timer(END_OF_INPUT)
        pending.append(value)
        self.buffer.add(value)
        self.sizes[key] += len(value)
        if len(pending) >= self.max_docs or self.sizes[key] >= MAX_BYTES:
            yield from self._flush(key)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        key = ctx.get_current_key()
        if self._pending(key):
            yield from self._flush(key)

    def close(self) -> None:
        # Best effort, bounded: a bounded input's last documents were written by the END_OF_INPUT timer; what is
        # still here (cancel, failure) is in the last checkpoint's ListState or after it, and so is written
        # again by the restored job either way. Retrying here without end would block a cancel.
        if self.writer is not None:
            rest = [t for pending in self.cached.values() for t in pending]
            if rest and self.writer.es is not None:
                self.writer.pending = rest
                try:
                    for text in self.writer.flush(deadline_s=CLOSE_DEADLINE_S):
                        LOG.error("refused at close, not in the dead-letter topic: %s", text[:500])
                except Cancelled as exc:
                    LOG.warning("%s: %d documents left to the restored job", exc, len(rest))
            self.writer.close()


class _Bucket:
    """Key of a detection: a stable hash of its text over `buckets` keys (Python's hash() is salted)."""

    def __init__(self, buckets: int):
        self.buckets = buckets

    def __call__(self, text: str) -> str:
        return str(zlib.crc32(text.encode()) % self.buckets) if self.buckets > 1 else "0"


def attach_es_detections(stream: DataStream, settings: EsSettings, index: str, name: str, buckets: int = 1,
                         max_docs: int = MAX_DOCS, flush_ms: int = FLUSH_MS) -> DataStream:
    """Write detections; returns the dead letters of documents Elasticsearch refused (JSON text)."""
    return (stream.key_by(_Bucket(buckets), key_type=Types.STRING())
            .process(EsDetectionsWriter(settings, index, max_docs, flush_ms), output_type=Types.STRING())
            .name(f"{name}/detections-es").uid(f"{name}/detections-es"))
