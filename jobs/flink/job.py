"""Stage 5: build the PyFlink DataStream job from a plan, with pluggable inputs and outputs.

    raw input --(entry: decode + stateless nodes)--> envelopes --watermarks--> key_by --> keyed segment --> ...
                                  \\-- side outputs: actions / detected / dead letters --> sinks

Inputs and outputs are adapters (`Inputs`, `Outputs`): files for embedded runs, Kafka and Elasticsearch
for production. The same compiled job runs embedded (MiniCluster) or on a cluster.
"""

from __future__ import annotations

import json
import os
import site
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import yaml
from pyflink.common import Configuration, Duration, Types, WatermarkStrategy
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import DataStream, KeyedStream, StreamExecutionEnvironment
from pyflink.java_gateway import get_gateway

from jobs.compiler.plan import ENTRY, Plan, SegmentKind
from jobs.compiler.program import fan_out, make_program, segment_feeds
from jobs.config.project import PROJECT_ROOT
from jobs.flink.operators import (
    ACTIONS,
    CONTACTS,
    DEAD_LETTER,
    DETECTED,
    ENVELOPE,
    TIMED_ENVELOPE,
    EntryFunction,
    FusedFunction,
    MergeFunction,
    SegmentFunction,
)
from jobs.flink.param_entry import PARAM_STATE, InlineParamEntryFunction, ParamEntryFunction, control_lines, live
from jobs.lang.model import Source
from jobs.runtime.decode import MIN_TS, parse_timestamp

# Low-latency bundles: Python work is flushed to Java every 100 records or 10 ms (Flink's default is 1000 ms).
# See docs/decisions/0006-runtime-settings.md for the measurements behind these numbers.
LOCAL_FLINK_CONF = os.path.join(PROJECT_ROOT, "flink-conf", "local", "config.yaml")
BUNDLE_SIZE = 100
BUNDLE_TIME_MS = 10


@dataclass
class JobOptions:
    parallelism: int = 1
    deterministic: bool = False  # file runs: one ordered input whose lines carry their watermark stamp
    counts_dir: str | None = None
    checkpoint_interval_ms: int | None = None
    pipeline_jars: list[str] = field(default_factory=list)
    extra_config: dict[str, str] = field(default_factory=dict)
    embedded: bool = True  # False under `flink run`: the cluster's own configuration applies
    bundle_size: int = BUNDLE_SIZE
    bundle_time_ms: int = BUNDLE_TIME_MS


class Inputs(Protocol):
    """Optionally `assigns_watermarks = True` when raw_stream already carries per-source watermarks."""

    def raw_stream(self, env: StreamExecutionEnvironment, plan: Plan) -> DataStream:
        """A stream of (source name, raw line) tuples covering every source of the scenario."""


class Outputs(Protocol):
    def attach(self, plan: Plan, actions: DataStream, detected: DataStream, dead_letter: DataStream) -> None:
        """Connect the three JSON-text streams to their sinks."""


def read_flink_conf(path: str) -> dict[str, str]:
    """Flink 2.x `config.yaml` (nested YAML) as flat `a.b.c: value` settings."""
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}

    def flatten(prefix: str, value: object) -> Iterator[tuple[str, str]]:
        if isinstance(value, dict):
            for key, inner in value.items():
                yield from flatten(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            yield prefix, str(value).lower() if isinstance(value, bool) else str(value)

    return dict(flatten("", data))


def flink_configuration(options: JobOptions) -> Configuration:
    conf = Configuration()
    if options.embedded:
        # the project's flink-conf/local/config.yaml is the base; what the job itself needs comes on top
        for key, value in read_flink_conf(LOCAL_FLINK_CONF).items():
            if not key.startswith("env.java"):  # the JVM is already running
                conf.set_string(key, value)
        conf.set_string("python.executable", sys.executable)
        conf.set_string("python.client.executable", sys.executable)
        # the embedded interpreter must find kairos and the venv's packages (else: "No module named 'pemja'")
        conf.set_string("python.pythonpath", os.pathsep.join([PROJECT_ROOT, *site.getsitepackages()]))
    conf.set_string("python.execution-mode", "thread")  # ~20x faster than process mode here
    conf.set_string("python.fn-execution.bundle.size", str(options.bundle_size))
    conf.set_string("python.fn-execution.bundle.time", str(options.bundle_time_ms))
    conf.set_string("pipeline.auto-watermark-interval", "50 ms")
    if options.checkpoint_interval_ms:
        conf.set_string("execution.checkpointing.interval", f"{options.checkpoint_interval_ms} ms")
    elif options.embedded:
        conf.remove_config("execution.checkpointing.interval")
    for key, value in options.extra_config.items():
        conf.set_string(key, value)
    return conf


class _LineTime(TimestampAssigner):
    """Event time of a raw `source<TAB>json` line, for watermarks per source before anything else runs."""

    def __init__(self, time_field: str):
        self.time_field = time_field

    def extract_timestamp(self, value, record_timestamp: int) -> int:
        try:
            return parse_timestamp(json.loads(value.partition("\t")[2])[self.time_field])
        except Exception:  # noqa: BLE001 - a broken line holds no time; the entry sends it to the dead letters
            return MIN_TS


def source_watermarks(source: Source, idleness_ms: int | None = None) -> WatermarkStrategy:
    """Bounded out-of-orderness watermarks of one source (streaming runs: one strategy per topic)."""
    idle_ms = source.idleness_ms if idleness_ms is None else idleness_ms  # kafka_table.idleness_ms
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(source.out_of_orderness_ms))
    if idle_ms:
        strategy = strategy.with_idleness(Duration.of_millis(idle_ms))
    return strategy.with_timestamp_assigner(_LineTime(source.time))


def _watermarks(plan: Plan) -> WatermarkStrategy:
    sources = plan.scenario.sources.values()
    ooo_ms = plan.scenario.max_out_of_orderness_ms
    idle_ms = min((s.idleness_ms for s in sources if s.idleness_ms), default=0)
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(ooo_ms))
    if idle_ms:
        strategy = strategy.with_idleness(Duration.of_millis(idle_ms))
    return strategy


def _java_timestamps(stream: DataStream, strategy: WatermarkStrategy) -> DataStream:
    """(Row, ts) -> Row with ts as the record's timestamp, and watermarks: all in Java.

    What PyFlink's assign_timestamps_and_watermarks does after it has called a Python TimestampAssigner
    per record (a Python operator of its own); here the entry already emits the (value, ts) pair."""
    jvm = get_gateway().jvm.org.apache.flink.streaming.api.functions.python.eventtime
    assigner = strategy._j_watermark_strategy.withTimestampAssigner(jvm.CustomTimestampAssigner())
    timed = stream._j_data_stream.assignTimestampsAndWatermarks(assigner)
    return DataStream(timed.map(jvm.RemoveTimestampMapFunction(), ENVELOPE.get_java_type_info()))


def _key_by_field0(stream: DataStream, value_type=None) -> KeyedStream:
    """Key a stream of Row(key, envelope) in Java: what DataStream.key_by does after its Python AddKey
    operator (one Python call and one Row per event), whose output is exactly this shape."""
    key_type = Types.ROW([Types.STRING()]).get_java_type_info()
    j_keyed = stream._j_data_stream.keyBy(get_gateway().jvm.KeyByKeySelector(), key_type)
    return KeyedStream(j_keyed, value_type or Types.PICKLED_BYTE_ARRAY(), stream)


def _side_output(stream: DataStream, tag) -> DataStream:
    """A Python operator's side output, taken in Java. In thread mode PyFlink's SideOutputContext already
    converts each side-output record with the tag's type, so DataStream.get_side_output's identity map
    (`map(lambda i: i)`: one more Python call per action, detection and dead letter) is not needed."""
    return DataStream(stream._j_data_stream.getSideOutput(tag.get_java_output_tag()))


def build_job(env: StreamExecutionEnvironment, plan: Plan, inputs: Inputs, outputs: Outputs,
              options: JobOptions) -> None:
    """Add the scenario's operators to `env`. Every stateful operator gets a uid from scenario + segment."""
    name = plan.scenario.name
    entry_program = make_program(plan, ENTRY)
    # a shared contact policy (Kafka runs): snapshots leave on a fourth side output, and the contacts topic
    # feeds the policy's keyed operators directly (jobs/flink/contacts_io.py)
    contacts = hasattr(outputs, "attach_contacts")
    tags = (ACTIONS, DETECTED, DEAD_LETTER, CONTACTS) if contacts else (ACTIONS, DETECTED, DEAD_LETTER)
    extra_feeds = inputs.extra_segment_feeds(env, plan) if hasattr(inputs, "extra_segment_feeds") else {}
    side: dict[str, list[DataStream]] = {tag.tag_id: [] for tag in tags}
    # parallelism 1 only: a parallel Table file source may split the file, and one key's lines must keep their order
    fusable = options.deterministic and options.parallelism == 1 and hasattr(inputs, "keyed_raw_stream")
    fusable = fusable or getattr(inputs, "fuses", lambda _plan: False)(plan)  # Kafka: jobs/flink/kafka_table.py
    # extra feeds (a shared policy's contacts topic) go into the segments below: not into a fused operator
    # live parameters: the control topic is broadcast into an unfused entry (jobs/flink/param_entry.py)
    live_params = live(plan, inputs)
    fused = plan.fused_entry() if fusable and not extra_feeds and not live_params else None
    if fused is not None:
        # one Python operator per event: the input is keyed and timed in Java, the entry runs in the segment
        segment = plan.segments[fused]
        fused_type = getattr(inputs, "fused_function", FusedFunction)
        function = fused_type(make_program(plan, fused), options.counts_dir, entry=entry_program)
        out = (_key_by_field0(inputs.keyed_raw_stream(env, plan), Types.STRING())
               .process(function, output_type=ENVELOPE).name(f"{name}/entry+{segment.uid}")
               .uid(f"{name}/{segment.uid}"))
        envelopes = {fused: out}
    else:
        # streaming inputs put watermarks on each source before the union: a backlog in one topic then cannot
        # make another topic's events late, and events the entry filters out still move time forward. File
        # runs: one ordered input; the stamp in each line decides lateness (docs/time.md), Flink's watermark
        # fires the timers.
        own_watermarks = not getattr(inputs, "assigns_watermarks", False)
        stamped = getattr(inputs, "stamped", False)
        raw = inputs.raw_stream(env, plan)
        if live_params:
            live_type = ParamEntryFunction if live_params == "broadcast" else InlineParamEntryFunction
            function = live_type(entry_program, plan.scenario.parameters, options.counts_dir,
                                 timed=own_watermarks, stamped=stamped)
            if live_params == "broadcast":
                raw = raw.connect(control_lines(inputs, env, plan).broadcast(PARAM_STATE))
        else:
            function = EntryFunction(entry_program, options.counts_dir, timed=own_watermarks, stamped=stamped)
        out = raw.process(function, output_type=TIMED_ENVELOPE if own_watermarks else ENVELOPE)
        out = out.name(f"{name}/entry").uid(f"{name}/entry")
        envelopes = {ENTRY: _java_timestamps(out, _watermarks(plan)).name(f"{name}/watermarks")
                     if own_watermarks else out}
    for tag in tags:
        side[tag.tag_id].append(_side_output(out, tag))

    feeds_of = segment_feeds(plan, skip=fused)  # the plan's wiring; this only builds it
    shared = fan_out(feeds_of)
    for index, ups in feeds_of.items():
        segment = plan.segments[index]
        feeds = []
        for up in ups:
            stream = envelopes[up]
            if shared[up] > 1:  # only split a stream that feeds several segments: a filter is one more Python call
                stream = stream.filter(lambda e, i=segment.index: e[1][0] == i)
            feeds.append(stream)
        feeds.extend(extra_feeds.get(segment.index, ()))
        merged = feeds[0].union(*feeds[1:]) if len(feeds) > 1 else feeds[0]
        program = make_program(plan, segment.index)
        if segment.kind == SegmentKind.KEYED:
            out = _key_by_field0(merged).process(SegmentFunction(program, options.counts_dir), output_type=ENVELOPE)
        else:
            out = merged.process(MergeFunction(program, options.counts_dir), output_type=ENVELOPE)
        out = out.name(f"{name}/{segment.uid}").uid(f"{name}/{segment.uid}")
        envelopes[segment.index] = out
        for tag in tags:
            side[tag.tag_id].append(_side_output(out, tag))

    def union(streams: list[DataStream]) -> DataStream:
        return streams[0].union(*streams[1:]) if len(streams) > 1 else streams[0]

    if contacts:  # before attach: its Table inserts join the statement set attach() builds
        outputs.attach_contacts(plan, union(side["contacts"]))
    outputs.attach(plan, union(side["actions"]), union(side["detected"]), union(side["dead_letter"]))


def make_environment(options: JobOptions) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment(flink_configuration(options))
    env.set_parallelism(options.parallelism)
    if options.pipeline_jars:
        # add_jars appends; setting pipeline.jars would drop the flink-python jar `flink run -py` put there
        env.add_jars(*(f"file://{os.path.abspath(j)}" for j in options.pipeline_jars))
    return env
