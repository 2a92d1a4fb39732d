"""Tracing runs: the in-process harness, with every node's real runtime wrapped to record what each event did.

Nothing in the engine changes: a TracingHarness builds the same segment programs, then swaps each program's
node objects for thin proxies (the compiled node code still runs) and its executors for a subclass that
notes, per push, the outcome the executor counted. Steps are attributed to the input event being fed, or,
for work done by timers (delayed actions, event-time joins, closing windows), to the event id they carry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from jobs.compiler.plan import Plan
from jobs.compiler.program import make_program
from jobs.nodes.base import Ctx, NodeRuntime, Output, Runtime, output_kind
from jobs.nodes.outputs import jsonable
from jobs.runtime.executor import Executor
from jobs.runtime.harness import Harness

# checked in this order: a late event also counts as a dead letter
OUTCOMES = ("late", "dead_letter", "held", "filtered", "out")


@dataclass
class Step:
    node: str
    type: str
    outcome: str  # out, filtered, held, dead_letter, late, emitted (by a timer)
    ports: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    timer: bool = False


@dataclass
class EventTrace:
    index: int
    source: str
    raw: str
    id: str | None = None
    steps: list[Step] = field(default_factory=list)
    actions: list[dict] = field(default_factory=list)
    detected: list[dict] = field(default_factory=list)
    dead_letter: list[dict] = field(default_factory=list)

    @property
    def event(self) -> Any:
        try:
            return json.loads(self.raw)
        except ValueError:
            return self.raw


@dataclass
class TraceResult:
    scenario: str
    events: list[EventTrace]
    emitted: dict[str, EventTrace]  # results of timers that belong to no input event (e.g. closed windows)
    counts: dict[str, dict[str, int]]
    edges: dict[tuple[str, str, str], int]  # (upstream, port, target) -> events that went along it
    actions: list[dict]
    detected: list[dict]
    dead_letter: list[dict]
    seconds: float


def visible(ctx: Ctx) -> dict[str, Any]:
    """What an analyst can name at this point: fields and variables, not the _-prefixed metadata."""
    return {k: jsonable(v) for k, v in ctx.items() if not k.startswith("_")}


class Tracer:
    def __init__(self, plan: Plan):
        self.plan = plan
        self.events: list[EventTrace] = []
        self.emitted: dict[str, EventTrace] = {}
        self.by_id: dict[str, int] = {}
        self.current: EventTrace | None = None  # None while timers run
        self.last: dict[str, list] = {}  # node -> its latest emissions (set by the proxy)
        self.open: dict[str, Step] = {}  # node -> step being pushed
        self.dead_owner: dict[int, str | None] = {}  # id(dead-letter record) -> event id
        self.edges: dict[tuple[str, str, str], int] = {}

    def trace_for(self, event_id: Any) -> EventTrace:
        if self.current is not None:
            return self.current
        index = self.by_id.get(str(event_id))
        if index is not None:
            return self.events[index]
        key = str(event_id)
        if key not in self.emitted:
            self.emitted[key] = EventTrace(-1, "timer", "", key)
        return self.emitted[key]

    def type_of(self, node: str) -> str:
        spec = self.plan.graph.specs.get(node)
        return spec.type if spec else "source"

    def note_edges(self, node: str, emissions: list) -> None:
        for port, _ in emissions:
            for target in self.plan.targets(node, port):
                edge = (node, port, target)
                self.edges[edge] = self.edges.get(edge, 0) + 1


class TracingNode:
    """Stands in for a NodeRuntime: calls the real one and remembers what it emitted."""

    def __init__(self, inner: NodeRuntime, tracer: Tracer):
        self.inner, self.tracer, self.id = inner, tracer, inner.id

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def process(self, ctx: Ctx, ts: int, rt: Runtime) -> list:
        self.tracer.last[self.id] = out = list(self.inner.process(ctx, ts, rt))
        return out

    def on_timer(self, ts: int, rt: Runtime) -> Iterator:
        out = list(self.inner.on_timer(ts, rt) or ())
        for port, ctx in out:
            trace = self.tracer.trace_for(ctx.get("_id"))
            trace.steps.append(Step(self.id, self.tracer.type_of(self.id), "emitted", [port], visible(ctx),
                                    timer=True))
        self.tracer.note_edges(self.id, out)
        return iter(out)

    def on_changelog(self, source: str, ctx: Ctx, ts: int, rt: Runtime) -> None:
        return self.inner.on_changelog(source, ctx, ts, rt)


class TracingExecutor(Executor):
    def __init__(self, program, tracer: Tracer):
        program.nodes = {n: TracingNode(r, tracer) for n, r in program.nodes.items()}
        super().__init__(program)
        self.tracer = tracer

    def accept_raw(self, source_name: str, line: str | bytes, rt: Runtime, stamp: int | None = None) -> None:
        before = self.counts[source_name]["out"]
        super().accept_raw(source_name, line, rt, stamp)
        if self.counts[source_name]["out"] > before:  # decoded: count the edges from the source
            for target in self.tracer.plan.targets(source_name, "out"):
                edge = (source_name, "out", target)
                self.tracer.edges[edge] = self.tracer.edges.get(edge, 0) + 1

    def push(self, node_id: str, ctx: Ctx, rt: Runtime, from_timer: bool = False) -> None:
        tracer = self.tracer
        trace = tracer.trace_for(ctx.get("_id"))
        if trace.id is None and trace.index >= 0:
            trace.id = str(ctx.get("_id"))
            tracer.by_id.setdefault(trace.id, trace.index)
        step = Step(node_id, tracer.type_of(node_id), "out", timer=from_timer)
        trace.steps.append(step)
        before = dict(self.counts.get(node_id) or {})
        tracer.last.pop(node_id, None)
        tracer.open[node_id] = step
        try:
            super().push(node_id, ctx, rt, from_timer)
        finally:
            tracer.open.pop(node_id, None)
        after = self.counts[node_id]
        step.outcome = next((c for c in OUTCOMES if after.get(c, 0) > before.get(c, 0)), "out")
        emissions = tracer.last.get(node_id) or []
        step.ports = list(dict.fromkeys(port for port, _ in emissions))
        step.vars = visible(emissions[0][1] if emissions else ctx)
        if emissions and step.outcome == "out":
            tracer.note_edges(node_id, emissions)

    def _dead(self, node_id: str, error: str, ctx: Ctx) -> None:
        super()._dead(node_id, error, ctx)
        self.tracer.dead_owner[id(self.outbox[-1][1])] = ctx.get("_id")
        step = self.tracer.open.get(node_id)
        if step is not None:
            step.error = error
        else:  # the key of the next segment could not be computed: the target never saw the event
            trace = self.tracer.trace_for(ctx.get("_id"))
            trace.steps.append(Step(node_id, self.tracer.type_of(node_id), "dead_letter", [], visible(ctx), error))


class TracingHarness(Harness):
    def __init__(self, plan: Plan):
        super().__init__(plan)
        self.tracer = Tracer(plan)
        self.executors = [TracingExecutor(make_program(plan, s.index), self.tracer) for s in plan.segments]

    def feed(self, source: str, line: str) -> None:
        trace = EventTrace(len(self.tracer.events), source, line)
        self.tracer.events.append(trace)
        self.tracer.current = trace
        super().feed(source, line)

    def _advance(self, watermark: int) -> None:
        self.tracer.current = None  # from here on, work belongs to whichever event a timer carries
        super()._advance(watermark)

    def _collect(self, kind: str, record: dict) -> None:
        super()._collect(kind, record)
        kind = output_kind(kind)
        owner = self.tracer.dead_owner.pop(id(record), None) if kind == Output.DEAD_LETTER else record.get("event_id")
        trace = self.tracer.trace_for(owner)
        {Output.ACTIONS: trace.actions, Output.DETECTED: trace.detected, Output.DEAD_LETTER: trace.dead_letter}[
            kind].append(record)


def trace_run(plan: Plan, inputs: Iterable[tuple[str, str]]) -> TraceResult:
    started = time.perf_counter()
    harness = TracingHarness(plan)
    for source, line in inputs:
        harness.feed(source, line)
    result = harness.finish()
    tracer = harness.tracer
    return TraceResult(plan.scenario.name, tracer.events, tracer.emitted, result.counts, tracer.edges,
                       result.actions, result.detected, result.dead_letter, time.perf_counter() - started)
