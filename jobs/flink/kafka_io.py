"""Kafka inputs and outputs for production runs (decisions 0002 and 0007).

Inputs: one KafkaSource per event source (value only), one `upsert-kafka` table per changelog source: that
connector turns a tombstone (null value) into a DELETE row carrying the record key, which becomes
`{"<key field>": key, "_deleted": true}` for the executor. Everything is mapped to "<source>\\t<json>" and unioned.

Outputs: actions go through the Table API kafka connector (the only way to write a separate record key, `to`),
one topic per channel; dead letters through a DataStream KafkaSink. Both at-least-once, or exactly-once
(transactions committed on checkpoints) on request.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field

from pyflink.common import Row, Types, WatermarkStrategy
from pyflink.common.serialization import SimpleStringSchema
from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.datastream.connectors.base import DeliveryGuarantee
from pyflink.datastream.connectors.kafka import (
    KafkaOffsetResetStrategy,
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
)
from pyflink.table import StreamTableEnvironment

from jobs.compiler.plan import Plan
from jobs.config.naming import Naming
from jobs.config.settings import KafkaSettings
from jobs.flink.job import source_watermarks
from jobs.flink.kafka_table import idleness_ms
from jobs.lang.model import SourceKind
from jobs.runtime.rawline import wrap_latin1, wrap_line

STARTS = ("committed", "earliest", "latest")
TRANSACTION_TIMEOUT_MS = "600000"  # below the broker's transaction.max.timeout.ms (default 15 min)


def action_channels(plan: Plan) -> list[str]:
    """The action channels of the scenario, as its nodes declare them (one Kafka topic each)."""
    return sorted({channel for rt in plan.runtimes.values() for channel in rt.channels()})


@dataclass
class TableEnv:
    """One StreamTableEnvironment per job, shared by inputs and outputs; its inserts join env.execute()."""

    env: StreamExecutionEnvironment
    _t_env: StreamTableEnvironment | None = None
    inserts: list[tuple[str, object]] = field(default_factory=list)

    @property
    def t_env(self) -> StreamTableEnvironment:
        if self._t_env is None:
            self._t_env = StreamTableEnvironment.create(self.env)
            # the changelog sources' operators (upsert-kafka source, ChangelogNormalize) hold state: without
            # planner uids theirs are hashes of the whole topology, and a savepoint no longer maps once a new
            # action adds a sink (docs/operations.md "Upgrade")
            self._t_env.get_config().set("table.exec.uid.generation", "ALWAYS")
        return self._t_env

    def attach_inserts(self) -> None:
        if not self.inserts:
            return
        statements = self.t_env.create_statement_set()
        for table, query in self.inserts:
            statements.add_insert(table, query)
        statements.attach_as_datastream()


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _with(options: dict[str, str]) -> str:
    return ", ".join(f"{_sql_string(k)} = {_sql_string(v)}" for k, v in options.items())


def _client_options(kafka: KafkaSettings) -> dict[str, str]:
    return {f"properties.{k}": v for k, v in kafka.java_properties().items()}


class _ToLine:
    """Prefix every value with its source name: the shape the entry operator expects. The value comes as
    ISO-8859-1 text (one char per byte) or None (a record without a value): `wrap_latin1` gives the
    transport line that the entry turns back into the exact bytes (rawline.MARK), so invalid UTF-8 and
    tombstones become dead letters with their raw input instead of killing the job or being lost."""

    def __init__(self, source: str):
        self.source = source

    def __call__(self, value: str | None) -> str:
        return f"{self.source}\t{wrap_latin1(value)}"


def _value_bytes_deserializer():
    """Kafka record values as ISO-8859-1 text, None for a null value, never an exception.

    SimpleStringSchema fails the job on a null value (`new String(null)`: NullPointerException) and replaces
    invalid UTF-8 by U+FFFD without a word; ByteArraySchema drops null values uncounted (the default
    DeserializationSchema.deserialize(bytes, out) does not collect null). KafkaValueOnlyDeserializerWrapper
    with Kafka's StringDeserializer collects null as null, and ISO-8859-1 maps each byte to one char.
    """
    from pyflink.java_gateway import get_gateway

    jvm = get_gateway().jvm
    deserializer = jvm.org.apache.flink.kafka.shaded.org.apache.kafka.common.serialization.StringDeserializer
    config = jvm.java.util.HashMap()
    config.put("value.deserializer.encoding", "ISO-8859-1")
    schemas = jvm.org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema
    return schemas.valueOnly(deserializer._java_lang_class, config)


class _ChangelogLine:
    """upsert-kafka rows -> lines; a DELETE (tombstone) becomes {"<key>": key, "_deleted": true}."""

    def __init__(self, source: str, key_field: str, key_is_text: bool):
        self.source, self.key_field, self.key_is_text = source, key_field, key_is_text

    def __call__(self, row: Row):
        from pyflink.common import RowKind

        kind = row.get_row_kind()
        if kind == RowKind.UPDATE_BEFORE:
            return []
        key, value = row[0], row[1]  # value: the record's bytes (a BYTES column), so nothing is decoded yet
        if kind == RowKind.DELETE or value is None:
            typed = key
            if not self.key_is_text and key is not None:
                with contextlib.suppress(ValueError):  # the executor dead-letters an undecodable key
                    typed = json.loads(key)
            return [f"{self.source}\t" + json.dumps({self.key_field: typed, "_deleted": True})]
        return [f"{self.source}\t{wrap_line(bytes(value))}"]  # invalid UTF-8: a dead letter, not U+FFFD


class KafkaInputs:
    def __init__(self, kafka: KafkaSettings, naming: Naming, tables: TableEnv, start: str = "committed",
                 bounded: bool = False, fuse: bool = True):
        if start not in STARTS:
            raise ValueError(f"start must be one of {STARTS}")
        self.kafka, self.naming, self.tables, self.start, self.bounded = kafka, naming, tables, start, bounded
        self.fuse = fuse  # False: the two-operator path below (kept for plans that cannot fuse, and for A/B)

    def fuses(self, plan: Plan) -> bool:
        """One Python operator per event: decode, key and time in Java (jobs/flink/kafka_table.py)."""
        from jobs.flink.kafka_table import fusable

        return self.fuse and fusable(plan)

    @property
    def fused_function(self):
        from jobs.flink.kafka_table import StreamFusedFunction

        return StreamFusedFunction

    def keyed_raw_stream(self, env: StreamExecutionEnvironment, plan: Plan) -> DataStream:
        from jobs.flink.kafka_table import KafkaTableSources

        return KafkaTableSources(self).stream(env, plan)

    def _offsets(self) -> KafkaOffsetsInitializer:
        if self.start == "earliest":
            return KafkaOffsetsInitializer.earliest()
        if self.start == "latest":
            return KafkaOffsetsInitializer.latest()
        return KafkaOffsetsInitializer.committed_offsets(KafkaOffsetResetStrategy.EARLIEST)

    assigns_watermarks = True  # per topic, before the union (see jobs/flink/job.py)
    reads_control = True  # live parameters: the control topic is broadcast to the entry (param_entry.py)

    def raw_stream(self, env: StreamExecutionEnvironment, plan: Plan) -> DataStream:
        streams = []
        for name, source in plan.scenario.sources.items():
            if source.kind == SourceKind.CHANGELOG:
                streams.append(self._changelog(plan, name))
                continue
            topic = self.naming.source_topic(source.topic)
            builder = (KafkaSource.builder().set_topics(topic).set_group_id(self.naming.group_id)
                       .set_starting_offsets(self._offsets())
                       .set_properties(self.kafka.java_properties())
                       .set_property("client.id.prefix", f"{self.naming.group_id}-{name}"))
            builder._j_builder.setDeserializer(_value_bytes_deserializer())  # no Python wrapper for this one
            if self.bounded:
                builder = builder.set_bounded(KafkaOffsetsInitializer.latest())
            uid = f"{plan.scenario.name}/source-{name}"
            stream = env.from_source(builder.build(), WatermarkStrategy.no_watermarks(), f"kafka:{topic}").uid(uid)
            lines = stream.map(_ToLine(name), output_type=Types.STRING()).name(f"{plan.scenario.name}/{name}")
            streams.append(lines.assign_timestamps_and_watermarks(source_watermarks(source, idleness_ms(plan, source))))
        return streams[0].union(*streams[1:]) if len(streams) > 1 else streams[0]

    def _changelog(self, plan: Plan, name: str) -> DataStream:
        """A compacted topic read from the beginning (it *is* the state); on restore, from the checkpoint."""
        source = plan.scenario.sources[name]
        table = f"changelog_{name}"
        options = {"connector": "upsert-kafka", "topic": self.naming.source_topic(source.topic),
                   "key.format": "raw", "value.format": "raw", "value.fields-include": "EXCEPT_KEY",
                   "properties.group.id": self.naming.group_id, **_client_options(self.kafka)}
        if self.bounded:
            options["scan.bounded.mode"] = "latest-offset"
        t_env = self.tables.t_env
        t_env.execute_sql(f"CREATE TEMPORARY TABLE `{table}` (k STRING, v BYTES, PRIMARY KEY (k) NOT ENFORCED) "
                          f"WITH ({_with(options)})")
        rows = t_env.to_changelog_stream(t_env.from_path(table))
        key_type = source.schema.fields.get(source.key)
        mapper = _ChangelogLine(name, source.key, str(key_type) == "string")
        lines = rows.flat_map(mapper, output_type=Types.STRING()).name(f"{plan.scenario.name}/{name}")
        return lines.assign_timestamps_and_watermarks(source_watermarks(source, idleness_ms(plan, source)))


class _ActionRow:
    def __call__(self, text: str) -> Row:
        record = json.loads(text)
        to = record.get("to")
        return Row(str(record.get("channel")), None if to is None else str(to), text)


class KafkaOutputs:
    """Actions -> <scenario>.actions.<channel> keyed by `to`; dead letters -> <scenario>.dead_letter.

    `detections` decides where detections go: a callable attaching them to Elasticsearch, or None for the
    Kafka topic <scenario>.detections (handy without Elasticsearch).
    """

    table_tag = ""  # [multi] jobs/connect/multi_runner.py: several scenarios' tables in one TableEnvironment

    def __init__(self, kafka: KafkaSettings, naming: Naming, tables: TableEnv, exactly_once: bool = False,
                 detections=None):
        self.kafka, self.naming, self.tables = kafka, naming, tables
        self.exactly_once, self.detections = exactly_once, detections

    def topics(self, plan: Plan) -> list[str]:
        topics = [self.naming.actions_topic(c) for c in action_channels(plan)] + [self.naming.dead_letter_topic]
        return topics if self.detections else [*topics, self.detections_topic]

    @property
    def detections_topic(self) -> str:
        return self.naming.detections_topic

    def attach(self, plan: Plan, actions: DataStream, detected: DataStream, dead_letter: DataStream) -> None:
        name = plan.scenario.name
        self._actions(plan, actions)
        if self.detections:
            refused = self.detections(detected)  # documents Elasticsearch refused are dead letters too
            if refused is not None:
                dead_letter = dead_letter.union(refused)
        else:
            self._sink(detected, self.detections_topic, "detections").name(f"{name}/detections-kafka")
        self._sink(dead_letter, self.naming.dead_letter_topic, "dead-letter").name(f"{name}/dead-letter-kafka")
        self.tables.attach_inserts()

    def _actions(self, plan: Plan, actions: DataStream) -> None:
        channels = action_channels(plan)
        if not channels:
            return
        t_env = self.tables.t_env
        rows = actions.map(_ActionRow(), output_type=Types.ROW_NAMED(
            ["c", "k", "v"], [Types.STRING(), Types.STRING(), Types.STRING()])).name(f"{plan.scenario.name}/actions")
        source = t_env.from_data_stream(rows)
        for channel in channels:
            table = f"actions_{self.table_tag}{channel}"  # [multi] one table per scenario in a shared job
            options = {"connector": "kafka", "topic": self.naming.actions_topic(channel),
                       "key.format": "raw", "key.fields": "k", "value.format": "raw",
                       "value.fields-include": "EXCEPT_KEY", **_client_options(self.kafka)}
            if self.exactly_once:
                options.update({"sink.delivery-guarantee": "exactly-once",
                                "sink.transactional-id-prefix": self.naming.transactional_prefix(f"actions-{channel}"),
                                "properties.transaction.timeout.ms": TRANSACTION_TIMEOUT_MS})
            else:
                options["sink.delivery-guarantee"] = "at-least-once"
            t_env.execute_sql(f"CREATE TEMPORARY TABLE `{table}` (k STRING, v STRING) WITH ({_with(options)})")
            query = source.where(source.c == channel).select(source.k, source.v)
            self.tables.inserts.append((table, query))

    def _sink(self, stream: DataStream, topic: str, what: str):
        builder = (KafkaSink.builder().set_bootstrap_servers(self.kafka.bootstrap)
                   .set_record_serializer(KafkaRecordSerializationSchema.builder().set_topic(topic)
                                          .set_value_serialization_schema(SimpleStringSchema()).build()))
        for key, value in self.kafka.java_properties().items():
            builder = builder.set_property(key, value)
        if self.exactly_once:
            builder = (builder.set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE)
                       .set_transactional_id_prefix(self.naming.transactional_prefix(what))
                       .set_property("transaction.timeout.ms", TRANSACTION_TIMEOUT_MS))
        else:
            builder = builder.set_delivery_guarantee(DeliveryGuarantee.AT_LEAST_ONCE)
        return stream.sink_to(builder.build()).uid(f"{self.naming.scenario}/{what}-kafka")
