"""The two PyFlink primitives every scenario is built from.

* `EntryFunction`: decodes raw input and runs the stateless nodes after the sources (a fused flat map;
  in file runs it is keyed by one constant so the deterministic watermark gate can live in ValueState).
* `SegmentFunction`: one KeyedProcessFunction per keyed segment: all its nodes' state (ValueState /
  MapState with TTL) and event-time timers, and the stateless nodes fused after them.
Both delegate to the same `Executor` as the in-process harness. Actions, detections and dead letters
leave through side outputs as JSON text; envelopes for other segments through the main output.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from pyflink.common import Time, Types
from pyflink.datastream import OutputTag
from pyflink.datastream.functions import KeyedProcessFunction, ProcessFunction, RuntimeContext
from pyflink.datastream.state import MapStateDescriptor, StateTtlConfig, ValueStateDescriptor

from jobs.nodes.base import StateSpec
from jobs.nodes.outputs import encode_output
from jobs.runtime.executor import COUNTERS, Executor, SegmentProgram

ACTIONS = OutputTag("actions", Types.STRING())
DETECTED = OutputTag("detected", Types.STRING())
DEAD_LETTER = OutputTag("dead_letter", Types.STRING())
_TAGS = {"action": ACTIONS, "detected": DETECTED, "dead": DEAD_LETTER}
MIN_TS = -(2**63)
REPORT_EVERY = 256


def _descriptor(spec: StateSpec):
    name = f"{spec.node_id}.{spec.name}"
    if spec.kind == "value":
        descriptor = ValueStateDescriptor(name, Types.PICKLED_BYTE_ARRAY())
    else:
        descriptor = MapStateDescriptor(name, Types.LONG(), Types.PICKLED_BYTE_ARRAY())
    if spec.ttl_ms:
        descriptor.enable_time_to_live(StateTtlConfig.new_builder(Time.milliseconds(spec.ttl_ms)).build())
    return descriptor


class FlinkRuntime:
    """The node-facing runtime services, backed by Flink keyed state and the timer service."""

    def __init__(self, scenario: str, runtime_context: RuntimeContext | None, specs: list[StateSpec]):
        self.scenario = scenario
        self.ctx: Any = None  # the current Flink Context / OnTimerContext
        self.sink: list[tuple[str, dict]] = []
        self.states: dict[tuple[str, str], Any] = {}
        for spec in specs:
            descriptor = _descriptor(spec)
            getter = runtime_context.get_state if spec.kind == "value" else runtime_context.get_map_state
            self.states[(spec.node_id, spec.name)] = getter(descriptor)
        self.gate = None
        self.gate_max_ts: int | None = None
        self.gate_cached = False

    def value_state(self, node_id: str, name: str) -> Any:
        return self.states[(node_id, name)]

    map_state = value_state

    def register_timer(self, ts: int) -> None:
        self.ctx.timer_service().register_event_time_timer(ts)

    def watermark(self, ctx: dict | None = None) -> int:
        flink = self.ctx.timer_service().current_watermark()
        return max(flink, ctx.get("_wm", MIN_TS)) if ctx else flink

    def current_key(self) -> str:
        return self.ctx.get_current_key()

    def emit(self, kind: str, record: dict) -> None:
        self.sink.append((kind, record))

    def observe(self, ts: int) -> int | None:
        """File runs: the watermark as of this event (max time seen - out of orderness - 1), in ValueState."""
        if self.gate is None:
            return None
        # write-through cache of the one key's ValueState: Flink state stays the truth (checkpoints carry
        # it, a restore starts with an empty cache and reads it back); it saves a Java call per event
        max_ts = self.gate_max_ts if self.gate_cached else self.gate.value()
        if max_ts is None or ts > max_ts:
            self.gate.update(ts)
            self.gate_max_ts, self.gate_cached = ts, True
        else:
            self.gate_max_ts, self.gate_cached = max_ts, True
        return MIN_TS if max_ts is None else max_ts - self.gate_ooo_ms - 1


class _Base:
    """Shared by all four functions: the executor, the runtime services, metrics and the counts file."""

    def __init__(self, program: SegmentProgram, counts_dir: str | None = None):
        self.program, self.counts_dir = program, counts_dir

    def open(self, runtime_context: RuntimeContext) -> None:
        program = self.program
        self.executor = Executor(program)
        specs = [spec for node in program.nodes.values() for spec in node.state_specs()]
        self.rt = FlinkRuntime(program.scenario, runtime_context, specs)
        self.instance = uuid.uuid4().hex[:12]  # thread mode's context cannot tell the subtask index
        group = runtime_context.get_metrics_group().add_group("kairos").add_group("scenario", program.scenario)
        # Flink counters fed from the executor's tallies every REPORT_EVERY inputs: no metric call per event.
        # (Not gauges: Flink reads a gauge from its own threads, and calling into the embedded interpreter
        # from there crashes the TaskManager once a job is cancelled.)
        self.metrics = {(node_id, counter): group.add_group("node", node_id).counter(counter)
                        for node_id in self.executor.counts for counter in COUNTERS}
        self.reported: dict[tuple[str, str], int] = dict.fromkeys(self.metrics, 0)
        self.inputs = 0

    def _report(self) -> None:
        for (node_id, counter), metric in self.metrics.items():
            value = self.executor.counts.get(node_id, {}).get(counter, 0)
            delta = value - self.reported[(node_id, counter)]
            if delta:
                metric.inc(delta)
                self.reported[(node_id, counter)] = value

    def _flush(self):
        self.inputs += 1
        if self.inputs % REPORT_EVERY == 0:
            self._report()
        counts = self.executor.counts
        for kind, payload in self.executor.drain():
            if kind == "route":
                yield payload
            else:
                kind, text = encode_output(kind, payload, counts)  # never raises: see jobs/nodes/outputs.py
                yield _TAGS[kind], text
        for kind, record in self.rt.sink:
            kind, text = encode_output(kind, record, counts)
            yield _TAGS[kind], text
        self.rt.sink.clear()

    def close(self) -> None:
        self._report()
        # file runs read these tallies into counts.json once the job has finished
        if self.counts_dir:
            os.makedirs(self.counts_dir, exist_ok=True)
            path = os.path.join(self.counts_dir, f"seg{self.executor.p.index}-{self.instance}.json")
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(self.executor.counts, handle)


class _RawInput:
    def process_element(self, value, ctx):
        self.rt.ctx = ctx
        source, _, line = value.partition("\t")  # "source<TAB>raw line": one string, no Python-side tuple type
        self.executor.accept_raw(source, line, self.rt)
        yield from self._flush()


class _Envelopes:
    def process_element(self, value, ctx):
        self.rt.ctx = ctx
        self.executor.accept(value, self.rt)
        yield from self._flush()


class EntryFunction(_RawInput, _Base, ProcessFunction):
    """Unkeyed entry (streaming runs): input is "source name<TAB>raw line"."""


class GatedEntryFunction(_RawInput, _Base, KeyedProcessFunction):
    """File-run entry: keyed by one constant, so the watermark gate's state is Flink ValueState."""

    def __init__(self, program: SegmentProgram, out_of_orderness_ms: int, counts_dir: str | None = None):
        super().__init__(program, counts_dir)
        self.ooo_ms = out_of_orderness_ms

    def open(self, runtime_context: RuntimeContext) -> None:
        super().open(runtime_context)
        self.rt.gate = runtime_context.get_state(ValueStateDescriptor("gate.max_ts", Types.LONG()))
        self.rt.gate_ooo_ms = self.ooo_ms


class SegmentFunction(_Envelopes, _Base, KeyedProcessFunction):
    """A keyed segment: input envelopes keyed by their key; state and timers per key."""

    def on_timer(self, timestamp: int, ctx):
        self.rt.ctx = ctx
        self.executor.fire_timers(timestamp, self.rt)
        yield from self._flush()


class MergeFunction(_Envelopes, _Base, ProcessFunction):
    """A merge segment (a union of branches from different segments): stateless, unkeyed."""
