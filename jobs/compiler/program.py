"""Stage 4b: the plan's segments as programs, what one operator runs: its node runtimes and their wiring.

A segment program is picklable data (node runtimes, local wiring, routes to other segments); PyFlink ships it
to the workers and the in-process harness runs the same one. jobs/runtime/executor.py only executes it: every
decision about where an event goes next is made here, from the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobs.compiler.plan import ENTRY, Plan, SegmentKind
from jobs.lang.model import Source
from jobs.lang.parameters import defaults
from jobs.nodes.base import DEFAULT_PORT, NodeRuntime


@dataclass
class SegmentProgram:
    scenario: str
    index: int
    kind: SegmentKind
    nodes: dict[str, NodeRuntime]
    order: list[str]
    uses_time: set[str]
    terminal: set[str]
    holds: set[str]
    local: dict[tuple[str, str], list[str]]
    remote: dict[tuple[str, str], list[tuple[int, str]]]
    segment_keys: dict[int, Any]  # target segment -> CompiledExpr or None (the event key)
    sources: dict[str, Source] = field(default_factory=dict)  # entry only
    source_routes: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # entry: source -> targets
    source_local: dict[str, list[str]] = field(default_factory=dict)
    changelog_routes: dict[str, list[int]] = field(default_factory=dict)  # entry: changelog -> segments
    # live parameters (jobs/lang/parameters.py): their declared defaults; None when the scenario has none
    parameters: dict[str, Any] | None = None


def make_program(plan: Plan, index: int) -> SegmentProgram:
    """A fresh program for segment `index` (callers may wrap its nodes: the sandbox's tracer does)."""
    segment = plan.segments[index]
    graph = plan.graph
    local: dict[tuple[str, str], list[str]] = {}
    remote: dict[tuple[str, str], list[tuple[int, str]]] = {}
    members = set(segment.nodes)
    wiring = [(up, port, targets) for (up, port), targets in graph.downstream.items()
              if up in members or (index == ENTRY and up in graph.scenario.sources)]
    for upstream, port, targets in wiring:
        for target in targets:
            seg = plan.segment_of[target]
            if seg == index:
                local.setdefault((upstream, port), []).append(target)
            else:
                remote.setdefault((upstream, port), []).append((seg, target))
    program = SegmentProgram(
        scenario=plan.scenario.name, index=index, kind=segment.kind,
        nodes={n: plan.runtimes[n] for n in segment.nodes}, order=list(segment.nodes),
        uses_time={n for n in segment.nodes if graph.compiled[n].uses_time},
        terminal={n for n in segment.nodes if graph.compiled[n].terminal},
        holds={n for n in segment.nodes if graph.compiled[n].holds and not graph.compiled[n].terminal},
        local=local, remote=remote,
        segment_keys={s.index: s.key for s in plan.segments},
        parameters=defaults(plan.scenario.parameters) if plan.scenario.parameters else None,
    )
    if index == ENTRY:
        program.sources = dict(plan.scenario.sources)
        for name in plan.scenario.sources:
            program.source_local[name] = local.pop((name, DEFAULT_PORT), [])
            program.source_routes[name] = remote.pop((name, DEFAULT_PORT), [])
        for seg in plan.segments:
            for changelog in seg.changelogs:
                program.changelog_routes.setdefault(changelog, []).append(seg.index)
    return program


def segment_feeds(plan: Plan, skip: int | None = None) -> dict[int, list[int]]:
    """For every segment but the entry (and `skip`, the one the entry is fused into): the segments whose output
    streams feed it, in index order. A segment reads the entry when it consumes a changelog or a node of it
    reads a source; the job builder unions these streams in front of the segment's operator."""
    feeds = {}
    for segment in plan.segments[1:]:
        if segment.index == skip:
            continue
        found = plan.upstream_segments(segment) | ({ENTRY} if segment.changelogs else set())
        if any(e.from_source for n in segment.nodes for e in plan.graph.inputs[n]):
            found.add(ENTRY)
        feeds[segment.index] = sorted(found)
    return feeds


def fan_out(feeds: dict[int, list[int]]) -> dict[int, int]:
    """How many segments each segment's stream feeds (a stream feeding several is split by target segment)."""
    counts: dict[int, int] = {}
    for ups in feeds.values():
        for up in ups:
            counts[up] = counts.get(up, 0) + 1
    return counts
