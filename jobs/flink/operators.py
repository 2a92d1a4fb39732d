"""The two PyFlink primitives every scenario is built from.

* `EntryFunction`: decodes raw input and runs the stateless nodes after the sources (a fused flat map;
  unkeyed: in file runs each line carries its watermark stamp, see executor.Stamps).
* `SegmentFunction`: one KeyedProcessFunction per keyed segment: all its nodes' state (ValueState /
  MapState with TTL) and event-time timers, and the stateless nodes fused after them.
Both delegate to the same `Executor` as the in-process harness. Actions, detections and dead letters
leave through side outputs as JSON text; envelopes for other segments through the main output as
`Row(key, pickled envelope)`, so the next keyed segment is keyed in Java (KeyByKeySelector on field 0)
instead of by a Python key selector, and in file runs as `(Row, ts)` so Java assigns the timestamps
(PyFlink's own Python-assigner path adds a Python call per event; docs/performance.md).
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from pyflink.common import Duration, Row, Time, Types
from pyflink.datastream import OutputTag, TimeDomain
from pyflink.datastream.functions import KeyedProcessFunction, ProcessFunction, RuntimeContext
from pyflink.datastream.state import MapStateDescriptor, StateTtlConfig, ValueStateDescriptor

from jobs.compiler.program import SegmentProgram
from jobs.config import codeversion
from jobs.flink.metrics import REPORT_EVERY, OperatorMetrics, now_ms  # noqa: F401 - REPORT_EVERY: multi_ops.py
from jobs.nodes.base import Output, StateKind, StateSpec
from jobs.nodes.outputs import encode_output
from jobs.runtime.executor import Executor, merge_counts, unescape_key

ACTIONS = OutputTag("actions", Types.STRING())
DETECTED = OutputTag("detected", Types.STRING())
DEAD_LETTER = OutputTag("dead_letter", Types.STRING())
CONTACTS = OutputTag("contacts", Types.STRING())  # a shared policy's snapshots (Kafka runs: jobs/flink/contacts_io.py)
ENVELOPE = Types.ROW([Types.STRING(), Types.PICKLED_BYTE_ARRAY()])  # (key, executor envelope)
TIMED_ENVELOPE = Types.TUPLE([ENVELOPE, Types.LONG()])  # file runs: + event time for the Java assigner
_TAGS = {Output.ACTIONS: ACTIONS, Output.DETECTED: DETECTED, Output.DEAD_LETTER: DEAD_LETTER,  # by encode_output
         Output.CONTACTS: CONTACTS}
REPORT_TIMER_MS = 1000  # a keyed operator publishes its counters at most this long after its last input


def _descriptor(spec: StateSpec):
    name = f"{spec.node_id}.{spec.name}"
    if spec.kind == StateKind.VALUE:
        descriptor = ValueStateDescriptor(name, Types.PICKLED_BYTE_ARRAY())
    else:
        descriptor = MapStateDescriptor(name, Types.LONG(), Types.PICKLED_BYTE_ARRAY())
    if spec.ttl_ms:
        # PyFlink builds its default background-cleanup strategies eagerly, one with a py4j Duration: on a
        # TaskManager that launches a gateway process (it fails: "FileNotFoundError"). So name them
        # explicitly, the RocksDB compaction filter with a placeholder period: PyFlink passes only
        # query_time_after_num_entries to Java, which keeps its own default period (30 days).
        ttl = (StateTtlConfig.new_builder(Time.milliseconds(spec.ttl_ms)).disable_cleanup_in_background()
               .cleanup_incrementally(5, False).cleanup_in_rocksdb_compact_filter(1000, Duration(None)).build())
        descriptor.enable_time_to_live(ttl)
    return descriptor


class FlinkRuntime:
    """The node-facing runtime services, backed by Flink keyed state and the timer service."""

    def __init__(self, scenario: str, runtime_context: RuntimeContext | None, specs: list[StateSpec]):
        self.scenario = scenario
        self.ctx: Any = None  # the current Flink Context / OnTimerContext
        self.key: str | None = None  # the current envelope's key (None in timers and in the entry)
        self.escaped_keys = False
        self.sink: list[tuple[str, dict]] = []
        self.states: dict[tuple[str, str], Any] = {}
        for spec in specs:
            descriptor = _descriptor(spec)
            getter = runtime_context.get_state if spec.kind == StateKind.VALUE else runtime_context.get_map_state
            self.states[(spec.node_id, spec.name)] = getter(descriptor)

    def value_state(self, node_id: str, name: str) -> Any:
        return self.states[(node_id, name)]

    map_state = value_state

    def register_timer(self, ts: int) -> None:
        self.ctx.timer_service().register_event_time_timer(ts)

    def watermark(self, ctx: dict | None = None) -> int:
        stamp = ctx.get("_wm") if ctx else None
        if stamp is not None:
            # file runs: Flink's watermark is computed from the same ordered events, later, so it never
            # passes the line's stamp (docs/time.md): max(flink, stamp) is the stamp, without a Java call
            return stamp
        return self.ctx.timer_service().current_watermark()

    def current_key(self) -> str:
        # the envelope carries the key Flink keyed it by: no Java call, except in timers
        if self.key is not None:
            return self.key
        key = self.ctx.get_current_key()
        return unescape_key(key) if self.escaped_keys else key

    def emit(self, kind: str, record: dict) -> None:
        self.sink.append((kind, record))


class _Base:
    """Shared by all four functions: the executor(s), the runtime services, metrics and the counts file."""

    def __init__(self, program: SegmentProgram, counts_dir: str | None = None, timed: bool = False,
                 entry: SegmentProgram | None = None):
        self.program, self.counts_dir, self.timed = program, counts_dir, timed
        self.entry_program = entry  # FusedFunction: the entry's program, run in this operator first
        self.code_version = codeversion.LOADED  # the code this job is built with (jobs/config/codeversion.py)

    def open(self, runtime_context: RuntimeContext) -> None:
        program = self.program
        codeversion.check(getattr(self, "code_version", None), f"{program.scenario}/{type(self).__name__}")
        self.executor = Executor(program)
        self.entry = Executor(self.entry_program) if self.entry_program is not None else None
        self.executors = [e for e in (self.entry, self.executor) if e is not None]
        # every node's counters, whichever executor runs it: an output that cannot be written moves its node's
        # count from out to dead_letter (outputs.encode_output), also for a node of the fused entry
        self.node_counts = {node: c for e in reversed(self.executors) for node, c in e.counts.items()}
        specs = [spec for e in self.executors for node in e.p.nodes.values() for spec in node.state_specs()]
        self.rt = FlinkRuntime(program.scenario, runtime_context, specs)
        self.rt.escaped_keys = self.entry is not None  # fused: Flink keys by escape_key(key)
        self.instance = uuid.uuid4().hex[:12]  # thread mode's context cannot tell the subtask index
        self.metrics = OperatorMetrics(runtime_context, program.scenario, self.executors)
        self.arrival_ms: int | None = None  # when the input being processed entered the job (wall clock)
        self.report_timer = False  # keyed operators: a processing-time timer will publish the counters
        sources = [(e, name) for e in self.executors for name in e.p.sources if name in e.counts]
        if self.counts_dir and sources:  # file runs: the lines read so far, for `kairos run`'s progress bar
            self.metrics.on_report = lambda: write_progress(self.counts_dir, self.instance, sources)

    def _drain(self) -> list[tuple[str, Any]]:
        if self.entry is None:
            return self.executor.drain()
        # fused: what the entry routes to this segment goes straight in (the same key by construction)
        out = []
        for kind, payload in self.entry.drain():
            if kind != "route":
                out.append((kind, payload))
            elif payload[2] == self.rt.key:
                self.executor.accept(payload, self.rt)
            else:  # cannot happen unless the input file's key and the decoded key disagree: never silently
                self.executor._dead(payload[1], f"internal: keyed by {self.rt.key!r}, routed to {payload[2]!r}",
                                    payload[4])
        out.extend(self.executor.drain())
        return out

    def _flush(self):
        counts, metrics, arrival = self.node_counts, self.metrics, self.arrival_ms
        for kind, payload in self._drain():
            if kind == "route":  # payload: (segment, route, key, ts, ctx)
                if arrival is not None:
                    payload[4]["_in_ms"] = arrival  # the next segment measures ingestion -> action from it
                yield (Row(payload[2], payload), payload[3]) if self.timed else Row(payload[2], payload)
            else:
                yield self._output(kind, payload, counts, metrics, arrival)
        for kind, record in self.rt.sink:
            yield self._output(kind, record, counts, metrics, arrival)
        self.rt.sink.clear()

    @staticmethod
    def _output(kind, record, counts, metrics, arrival):
        written, text = encode_output(kind, record, counts)  # never raises: see jobs/nodes/outputs.py
        if written == Output.ACTIONS:
            metrics.action(record, arrival)
        elif written == Output.DETECTED:
            metrics.detection(record)
        return _TAGS[written], text

    def close(self) -> None:
        self.metrics.report()
        # file runs read these tallies into counts.json once the job has finished
        if self.counts_dir:
            os.makedirs(self.counts_dir, exist_ok=True)
            path = os.path.join(self.counts_dir, f"seg{self.executor.p.index}-{self.instance}.json")
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(merge_counts(e.counts for e in self.executors), handle)


def write_progress(counts_dir: str, instance: str, sources) -> None:
    folder = os.path.join(counts_dir, "progress")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{instance}.json")
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(sum(e.counts[name]["in"] for e, name in sources), handle)
    os.replace(path + ".tmp", path)  # the client never reads half a file


class EntryFunction(_Base, ProcessFunction):
    """The entry: input is "source<TAB>raw line", in file runs "source<TAB>stamp<TAB>raw line"."""

    def __init__(self, program: SegmentProgram, counts_dir: str | None = None, timed: bool = False,
                 stamped: bool = False):
        super().__init__(program, counts_dir, timed)
        self.stamped = stamped

    def process_element(self, value, ctx):
        self.rt.ctx = ctx
        self.metrics.before_input()
        self.arrival_ms = now_ms()
        if self.stamped:
            source, stamp, line = value.split("\t", 2)
            self.executor.accept_raw(source, line, self.rt, int(stamp))
        else:
            source, _, line = value.partition("\t")  # one string: no Python-side tuple type
            self.executor.accept_raw(source, line, self.rt)
        yield from self._flush()


class SegmentFunction(_Base, KeyedProcessFunction):
    """A keyed segment: input envelopes keyed by their key; state and timers per key."""

    def process_element(self, value, ctx):
        self.rt.ctx, self.rt.key = ctx, value[2]
        self._arrived(value[4].get("_in_ms"), ctx)
        self.executor.accept(value, self.rt)  # PyFlink hands a keyed function field 1 of Row(key, envelope)
        yield from self._flush()

    def _arrived(self, arrival_ms: int | None, ctx) -> None:
        metrics = self.metrics
        metrics.before_input()
        self.arrival_ms = arrival_ms
        if not self.report_timer:  # publish the tail of a burst even if no more input comes
            self.report_timer = True
            ctx.timer_service().register_processing_time_timer(now_ms() + REPORT_TIMER_MS)

    def on_timer(self, timestamp: int, ctx):
        if ctx.time_domain() == TimeDomain.PROCESSING_TIME:  # only the metrics' own timer
            self.report_timer = False
            self.metrics.report()
            return
        self.rt.ctx, self.rt.key = ctx, None
        self.arrival_ms = None  # released by event time: measured by the event-time latency only
        self.executor.fire_timers(timestamp, self.rt)
        yield from self._flush()


class MergeFunction(_Base, ProcessFunction):
    """A merge segment (a union of branches from different segments): stateless, unkeyed."""

    def process_element(self, value, ctx):
        self.rt.ctx = ctx
        self.metrics.before_input()
        self.arrival_ms = value[1][4].get("_in_ms")
        self.executor.accept(value[1], self.rt)
        yield from self._flush()


class FusedFunction(SegmentFunction):
    """The entry and the keyed segment it feeds in one keyed operator (Plan.fused_entry): the input arrives
    keyed in Java as "key<TAB>time<TAB>source<TAB>stamp<TAB>raw line" (FileInputs.keyed_raw_stream)."""

    def process_element(self, value, ctx):
        key, _, source, stamp, line = value.split("\t", 4)
        self.rt.ctx, self.rt.key = ctx, unescape_key(key)
        self._arrived(now_ms(), ctx)
        self.entry.accept_raw(source, line, self.rt, int(stamp))
        yield from self._flush()
