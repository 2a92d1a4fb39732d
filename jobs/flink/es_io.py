"""Detections to Elasticsearch from a Python ProcessFunction (decision 0002: no ES connector for Flink 2.x).

Document id = the detection id (scenario:node:event_id), so a replay after a failure overwrites instead of
duplicating: at-least-once delivery, effectively once in the index. Writes are synchronous, so nothing is in
flight when a checkpoint barrier passes the operator.
"""

from __future__ import annotations

import json

from elasticsearch import ApiError
from pyflink.common import Types
from pyflink.datastream import DataStream
from pyflink.datastream.functions import ProcessFunction, RuntimeContext

from jobs.connect.settings import EsSettings
from jobs.nodes.outputs import dead_letter


class EsDetectionsWriter(ProcessFunction):
    def __init__(self, settings: EsSettings, index: str):
        self.settings, self.index = settings, index
        self.es = None

    def open(self, runtime_context: RuntimeContext) -> None:
        self.es = self.settings.client()

    def process_element(self, value: str, ctx: ProcessFunction.Context):
        doc = json.loads(value)
        try:
            self.es.index(index=self.index, id=doc["id"], document=doc)
        except ApiError as exc:
            # a document Elasticsearch refuses (e.g. a field whose type clashes with the mapping) is bad input:
            # it goes to the dead letters; outages and throttling (429, 5xx) still fail the job so it retries
            status = getattr(exc, "status_code", None) or getattr(getattr(exc, "meta", None), "status", 0)
            if not 400 <= status < 500 or status == 429:
                raise
            yield json.dumps(dead_letter(doc.get("scenario", ""), doc.get("node", "elasticsearch"),
                                         f"Elasticsearch refused the detection ({status}): {exc}"[:1000], doc, None))

    def close(self) -> None:
        if self.es is not None:
            self.es.close()


def attach_es_detections(stream: DataStream, settings: EsSettings, index: str, name: str) -> DataStream:
    """Write detections; returns the dead letters of documents Elasticsearch refused (JSON text)."""
    return (stream.process(EsDetectionsWriter(settings, index), output_type=Types.STRING())
            .name(f"{name}/detections-es").uid(f"{name}/detections-es"))
