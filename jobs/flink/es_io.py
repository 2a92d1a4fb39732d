"""Detections to Elasticsearch from a Python ProcessFunction (decision 0002: no ES connector for Flink 2.x).

Document id = the detection id (scenario:node:event_id), so a replay after a failure overwrites instead of
duplicating: at-least-once delivery, effectively once in the index. Writes are synchronous, so nothing is in
flight when a checkpoint barrier passes the operator.
"""

from __future__ import annotations

import json

from pyflink.datastream import DataStream
from pyflink.datastream.functions import ProcessFunction, RuntimeContext

from jobs.connect.settings import EsSettings


class EsDetectionsWriter(ProcessFunction):
    def __init__(self, settings: EsSettings, index: str):
        self.settings, self.index = settings, index
        self.es = None

    def open(self, runtime_context: RuntimeContext) -> None:
        self.es = self.settings.client()

    def process_element(self, value: str, ctx: ProcessFunction.Context):
        doc = json.loads(value)
        self.es.index(index=self.index, id=doc["id"], document=doc)
        return iter(())

    def close(self) -> None:
        if self.es is not None:
            self.es.close()


def attach_es_detections(stream: DataStream, settings: EsSettings, index: str, name: str) -> None:
    stream.process(EsDetectionsWriter(settings, index)).name(f"{name}/detections-es").uid(f"{name}/detections-es")
