"""The contacts topic: contact history shared by jobs that apply the same policy file (decision 0015).

Written: every snapshot a shared policy publishes after a sent contact (jobs/nodes/policy_shared.py) goes to
`<prefix>kairos.contacts` (compacted), record key `customer|policy|origin`: compaction keeps the latest
snapshot of every origin for every customer, and one origin's snapshots of a customer stay in order in one
partition. Read: every job applying a shared policy reads the topic from the beginning (on restore: from its
checkpoint) and routes the snapshots of the same policy name, keyed by customer, into the keyed operators that
hold the policy state, as a changelog route of those operators: other scenarios' into `_policy.remote`, the
job's own back into its history (after a fresh start without a checkpoint, it has its contacts again).

Watermarks: contacts carry no event time the job must wait for. The stream gets timestamps far in the future
and goes idle after IDLE_MS without records, so it never holds back the watermark of the operator it feeds
(a lagging contacts stream would otherwise stop every timer of the job).

The race (stated in docs/scenarios.md): job B sees job A's contact only after A wrote it and B read it (a
Kafka round trip, plus A's checkpoint interval under exactly-once, whose transactions B reads committed).
Two jobs deciding for one customer within that gap can both send.
"""

from __future__ import annotations

import json

from pyflink.common import Duration, Row, Types, WatermarkStrategy
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.datastream.connectors.kafka import KafkaOffsetsInitializer, KafkaSource

from jobs.compiler.plan import Plan
from jobs.config.naming import Naming
from jobs.flink.kafka_io import KafkaInputs, KafkaOutputs, _value_bytes_deserializer, _with
from jobs.flink.operators import ENVELOPE
from jobs.nodes.base import CONTACTS_SOURCE
from jobs.runtime.decode import parse_timestamp
from jobs.runtime.executor import CHANGELOG

TOPIC = "kairos.contacts"
FAR_TS = 2**62  # a contact's Flink timestamp: ahead of any event, so its watermark never holds anything back
IDLE_MS = 200  # before the first contact the stream is idle after this long (not waited for)


def contacts_topic(naming: Naming, write: bool = False) -> str:
    """A dry run reads the production history but writes its own contacts beside it (`.dryrun`)."""
    topic = naming.prefix + TOPIC
    return f"{topic}.dryrun" if write and naming.dry_run else topic  # Naming's rule for every output


def shared_policy(plan: Plan) -> tuple[str | None, list[int]]:
    """(policy name, indices of the segments whose nodes apply it); (None, []) without a shared policy."""
    name, segments = None, set()
    for node_id, rt in plan.runtimes.items():
        if rt.shared_policy() is not None:
            name = rt.shared_policy()
            segments.add(plan.segment_of[node_id])
    return name, sorted(segments)


def enable_publishing(plan: Plan) -> None:
    """Connected runs only: the shared policy's nodes publish their snapshots (origin: scenario/segment)."""
    for node_id, rt in plan.runtimes.items():
        if rt.shared_policy() is not None:
            rt.publish_contacts(f"{plan.scenario.name}/{plan.segments[plan.segment_of[node_id]].uid}")


class _FarAhead(TimestampAssigner):
    def extract_timestamp(self, value, record_timestamp: int) -> int:
        return FAR_TS


class _Snapshots:
    """Kafka values (ISO-8859-1 text, None for a tombstone) -> the JSON text of the snapshots of this policy
    name (the policy node adds our own back to our history, keeps other scenarios' apart). A value that is not
    one is passed on as {"raw": ...}: the policy node makes it a dead letter with its raw input."""

    def __init__(self, policy: str):
        self.policy = policy

    def __call__(self, value: str | None):
        if value is None:
            return []
        try:
            record = json.loads(value.encode("latin-1").decode("utf-8"))
        except ValueError:
            return [json.dumps({"raw": value})]
        if not isinstance(record, dict) or not isinstance(record.get("customer"), str):
            return [json.dumps({"raw": value})]
        if record.get("policy") != self.policy:
            return []
        return [json.dumps(record)]


class _Envelope:
    def __init__(self, segment: int):
        self.segment = segment

    def __call__(self, text: str) -> Row:
        record = json.loads(text)
        customer = record.get("customer") if isinstance(record.get("customer"), str) else ""
        try:
            ts = parse_timestamp(record.get("time"))
        except Exception:  # noqa: BLE001 - the time is only shown in a dead letter; the snapshot decides
            ts = 0
        ctx = {**record, "_src": CONTACTS_SOURCE, "_key": customer, "_ts": ts, "_fields": tuple(record)}
        return Row(customer, (self.segment, CHANGELOG + CONTACTS_SOURCE, customer, ts, ctx))


class ContactsInputs(KafkaInputs):
    """KafkaInputs plus the contacts topic, routed straight into the policy's keyed operators."""

    def extra_segment_feeds(self, env: StreamExecutionEnvironment, plan: Plan) -> dict[int, list[DataStream]]:
        policy, segments = shared_policy(plan)
        if not segments:
            return {}
        topic, group = contacts_topic(self.naming), self.naming.group_id
        builder = (KafkaSource.builder().set_topics(topic).set_group_id(group)
                   .set_starting_offsets(KafkaOffsetsInitializer.earliest())  # the history; a restore resumes
                   .set_properties(self.kafka.java_properties())
                   .set_property("client.id.prefix", f"{group}-contacts")
                   # an exactly-once writer's contacts count once committed; other writers' are committed at once
                   .set_property("isolation.level", "read_committed"))
        builder._j_builder.setDeserializer(_value_bytes_deserializer())
        if self.bounded:
            builder = builder.set_bounded(KafkaOffsetsInitializer.latest())
        name = plan.scenario.name
        stream = env.from_source(builder.build(), WatermarkStrategy.no_watermarks(), f"kafka:{topic}")
        lines = (stream.uid(f"{name}/source-contacts")
                 .flat_map(_Snapshots(policy), output_type=Types.STRING()).name(f"{name}/contacts")
                 .assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps()
                                                   .with_idleness(Duration.of_millis(IDLE_MS))
                                                   .with_timestamp_assigner(_FarAhead())))
        return {seg: [lines.map(_Envelope(seg), output_type=ENVELOPE).name(f"{name}/contacts-seg{seg}")]
                for seg in segments}


class _ContactRow:
    def __call__(self, text: str) -> Row:
        record = json.loads(text)
        return Row(f"{record.get('customer')}|{record.get('policy')}|{record.get('origin')}", text)


class ContactsOutputs(KafkaOutputs):
    """KafkaOutputs plus the published snapshots -> the contacts topic (Table API: a record key of its own)."""

    def topics(self, plan: Plan) -> list[str]:
        return [*super().topics(plan), *self.compacted]

    @property
    def compacted(self) -> list[str]:
        return list(dict.fromkeys([contacts_topic(self.naming, write=True), contacts_topic(self.naming)]))

    def attach_contacts(self, plan: Plan, contacts: DataStream) -> None:
        t_env = self.tables.t_env
        rows = contacts.map(_ContactRow(), output_type=Types.ROW_NAMED(["k", "v"], [Types.STRING(), Types.STRING()]))
        options = {"connector": "kafka", "topic": contacts_topic(self.naming, write=True), "key.format": "raw",
                   "key.fields": "k", "value.format": "raw", "value.fields-include": "EXCEPT_KEY",
                   **{f"properties.{k}": v for k, v in self.kafka.java_properties().items()}}
        if self.exactly_once:
            from jobs.flink.kafka_io import TRANSACTION_TIMEOUT_MS

            options.update({"sink.delivery-guarantee": "exactly-once",
                            "sink.transactional-id-prefix": self.naming.transactional_prefix("contacts"),
                            "properties.transaction.timeout.ms": TRANSACTION_TIMEOUT_MS})
        else:
            options["sink.delivery-guarantee"] = "at-least-once"
        t_env.execute_sql(f"CREATE TEMPORARY TABLE `contacts_out` (k STRING, v STRING) WITH ({_with(options)})")
        rows = rows.name(f"{plan.scenario.name}/contacts-out")
        self.tables.inserts.append(("contacts_out", t_env.from_data_stream(rows)))


def io_classes(plan: Plan) -> tuple[type[KafkaInputs], type[KafkaOutputs]]:
    """The contacts-aware inputs and outputs when the plan applies a shared policy. Whoever builds the job with
    them turns publishing on (`enable_publishing`): only a job that writes the snapshots should make them."""
    if shared_policy(plan)[1]:
        return ContactsInputs, ContactsOutputs
    return KafkaInputs, KafkaOutputs
