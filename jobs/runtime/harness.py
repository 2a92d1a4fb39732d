"""The in-process harness: runs the very same segment programs as the Flink job, without Flink.

Used by `kairos test` (answers in a second instead of a JVM start) and by tests that compare both engines.
State lives in dictionaries here because nothing is checkpointed: this is a simulator of the job, and its
time rules are the file-run rules of the Flink job (docs/time.md), so both give the same outputs.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jobs.compiler.plan import ENTRY, Plan
from jobs.compiler.program import make_program
from jobs.nodes.base import Output, output_kind
from jobs.nodes.outputs import encode_checked
from jobs.runtime.decode import MAX_TS, MIN_TS
from jobs.runtime.executor import Executor, Stamps, merge_counts
from jobs.runtime.files import line_time
from jobs.runtime.live_params import CONTROL_INPUT, LiveParameters


class _Value:
    def __init__(self, store: dict, key: tuple):
        self.store, self.key = store, key

    def value(self) -> Any:
        return self.store.get(self.key)

    def update(self, value: Any) -> None:
        self.store[self.key] = value

    def clear(self) -> None:
        self.store.pop(self.key, None)


class _Map:
    def __init__(self, store: dict, key: tuple):
        self.data = store.setdefault(key, {})

    def get(self, k: Any) -> Any:
        return self.data.get(k)

    def put(self, k: Any, v: Any) -> None:
        self.data[k] = v

    def remove(self, k: Any) -> None:
        self.data.pop(k, None)

    def contains(self, k: Any) -> bool:
        return k in self.data

    def keys(self) -> list:
        return list(self.data)

    def is_empty(self) -> bool:
        return not self.data


class MemoryRuntime:
    """Runtime services over dictionaries, with the same watermark rule as a file run of the job."""

    def __init__(self, scenario: str, out_of_orderness_ms: int):
        self.scenario = scenario
        self.ooo_ms = out_of_orderness_ms
        self.values: dict = {}
        self.maps: dict = {}
        self.timers: list[tuple[int, int, str]] = []  # heap of (ts, segment, key)
        self.timer_set: set[tuple[int, int, str]] = set()
        self.current_watermark = MIN_TS
        self.segment = ENTRY
        self.key = ""
        self.sink: list[tuple[str, dict]] = []

    def value_state(self, node_id: str, name: str) -> _Value:
        return _Value(self.values, (self.segment, self.key, node_id, name))

    def map_state(self, node_id: str, name: str) -> _Map:
        return _Map(self.maps, (self.segment, self.key, node_id, name))

    def register_timer(self, ts: int) -> None:
        entry = (ts, self.segment, self.key)
        if entry not in self.timer_set:
            self.timer_set.add(entry)
            heapq.heappush(self.timers, entry)

    def watermark(self, ctx: dict | None = None) -> int:
        gate = ctx.get("_wm", MIN_TS) if ctx else MIN_TS
        return max(gate, self.current_watermark)

    def current_key(self) -> str:
        return self.key

    def emit(self, kind: str, record: dict) -> None:
        self.sink.append((kind, record))


@dataclass
class RunResult:
    actions: list[dict] = field(default_factory=list)
    detected: list[dict] = field(default_factory=list)
    dead_letter: list[dict] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)


class Harness:
    def __init__(self, plan: Plan):
        self.plan = plan
        self.executors = [Executor(make_program(plan, s.index)) for s in plan.segments]
        ooo = plan.scenario.max_out_of_orderness_ms
        self.rt = MemoryRuntime(plan.scenario.name, ooo)
        self.stamps = Stamps(ooo)  # the file-run rule: the job reads these stamps from its input file
        self.result = RunResult()

    def _drain(self, executor: Executor) -> None:
        for kind, payload in executor.drain():
            if kind == "route":
                seg, _, key, _, _ = payload
                saved = (self.rt.segment, self.rt.key)
                self.rt.segment, self.rt.key = seg, key
                self.executors[seg].accept(payload, self.rt)
                self._drain(self.executors[seg])
                self.rt.segment, self.rt.key = saved
            else:
                self._output(executor, kind, payload)
        for kind, record in self.rt.sink:
            self._output(executor, kind, record)
        self.rt.sink.clear()

    def _output(self, executor: Executor, kind: str, record: dict) -> None:
        """What the job's writers write (the same serializer, jobs/nodes/outputs.py): a record that cannot be
        JSON becomes what the job writes instead, e.g. a dead letter in place of the action."""
        kind, text, exact = encode_checked(kind, record, executor.counts)
        self._collect(kind, record if exact else json.loads(text))

    def _collect(self, kind: str, record: dict) -> None:
        target = {Output.ACTIONS: self.result.actions, Output.DETECTED: self.result.detected,
                  Output.DEAD_LETTER: self.result.dead_letter}
        target[output_kind(kind)].append(record)


    def _advance(self, watermark: int) -> None:
        self.rt.current_watermark = max(self.rt.current_watermark, watermark)
        while self.rt.timers and self.rt.timers[0][0] <= self.rt.current_watermark:
            entry = heapq.heappop(self.rt.timers)
            self.rt.timer_set.discard(entry)
            ts, seg, key = entry
            self.rt.segment, self.rt.key = seg, key
            self.executors[seg].fire_timers(ts, self.rt)
            self._drain(self.executors[seg])

    def enter(self, source: str, line: str) -> None:
        """One input line through the entry and everything it reaches, without moving the watermark."""
        self.rt.segment, self.rt.key = ENTRY, ""
        entry = self.executors[ENTRY]
        entry.accept_raw(source, line, self.rt, self.stamps.next(line_time(self.plan.scenario, source, line)))
        self._drain(entry)

    def control(self, line: str) -> None:
        """A live parameter change between two events, as the job's entry applies one (jobs/flink/param_entry.py):
        the events after it are stamped with the new values; a refused one is a dead letter."""
        entry = self.executors[ENTRY]
        if entry.params is None:  # a scenario without parameters: nothing it could change
            return
        live = LiveParameters(self.plan.scenario.name, self.plan.scenario.parameters)
        values, _, outputs = live.apply(entry.params, line, now_ms=0)
        if values is not None:
            entry.params = values
        for kind, record in outputs:
            self._output(entry, kind, record)

    def feed(self, source: str, line: str) -> None:
        if source == CONTROL_INPUT:
            self.control(line)
            return
        self.enter(source, line)
        if self.stamps.max_ts is not None:
            self._advance(self.stamps.watermark)

    def finish(self) -> RunResult:
        self._advance(MAX_TS)  # end of input: the final watermark closes every window
        self.result.counts = merge_counts(e.counts for e in self.executors)
        return self.result


def run_in_process(plan: Plan, inputs: Iterable[tuple[str, str]]) -> RunResult:
    harness = Harness(plan)
    for source, line in inputs:
        harness.feed(source, line)
    return harness.finish()
