"""Stage 4: the plan. Cuts the checked graph into segments, each of which becomes ONE Python operator.

Every operator boundary costs a serialization, so stateless nodes are fused with whatever comes before them,
and a keyed segment keeps going until a node needs a different key:

  segment 0 ("entry")  decodes raw input and runs the stateless nodes that follow the sources;
  a keyed segment      starts at the first node needing keyed state for a key (key_by once per key) and also
                       runs every node after it that needs no state or the same key;
  a merge segment      starts at a union of branches from different segments (no key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from jobs.compiler.validate import Graph
from jobs.lang.expr import CompiledExpr
from jobs.nodes.base import NodeRuntime

ENTRY = 0
EVENT_KEY = "_key"  # key identity of nodes keyed by the event's own key


class SegmentKind(StrEnum):
    ENTRY = "entry"
    KEYED = "keyed"
    MERGE = "merge"


@dataclass
class Segment:
    index: int
    kind: SegmentKind
    key_id: str | None = None  # keyed segments: the key expression's text (EVENT_KEY for the event key)
    key: CompiledExpr | None = None  # how an envelope entering this segment gets its key
    nodes: list[str] = field(default_factory=list)
    changelogs: set[str] = field(default_factory=set)  # changelog sources this segment consumes
    origin: str = "entry"  # keyed segments: the uid of the segment whose envelopes it keys ("union": several)

    @property
    def uid(self) -> str:
        """The Flink operator uid: savepoints map state by it, so it must survive edits that leave the
        segment's state alone. A keyed segment is one per (upstream segment, key): named after both, not
        after its first node, so a new node (a filter, an action) joining the segment keeps its uid
        (docs/operations.md "Upgrade"); merge segments hold no state."""
        if self.kind == SegmentKind.KEYED:
            return f"keyed-{self.key_id}" + ("" if self.origin == "entry" else f"@{self.origin}")
        return self.kind.value if self.kind == SegmentKind.ENTRY else f"{self.kind}-{self.nodes[0]}"


@dataclass
class Plan:
    graph: Graph
    segments: list[Segment]
    segment_of: dict[str, int]  # node id -> segment index
    runtimes: dict[str, NodeRuntime]

    @property
    def scenario(self):
        return self.graph.scenario

    def targets(self, upstream: str, port: str) -> list[str]:
        return self.graph.downstream.get((upstream, port), [])

    def upstream_segments(self, segment: Segment) -> set[int]:
        found = set()
        for node_id in segment.nodes:
            for edge in self.graph.inputs[node_id]:
                if not edge.from_source and self.segment_of[edge.upstream] != segment.index:
                    found.add(self.segment_of[edge.upstream])
        return found

    def fused_entry(self) -> int | None:
        """The keyed segment the entry can run inside, or None.

        When everything the entry sends goes to one keyed segment keyed by the event's own key, the entry's
        work (decode, the stateless nodes after the sources) can run in that segment's operator, keyed by the
        source key before any Python runs: one Python operator per event instead of two (file runs key the
        input in Java; see jobs/flink/files_io.py)."""
        targets = {self.segment_of[t] for (up, _), ts in self.graph.downstream.items()
                   if up in self.scenario.sources or self.segment_of.get(up) == ENTRY for t in ts}
        targets.discard(ENTRY)
        targets |= {s.index for s in self.segments if s.changelogs}
        if len(targets) != 1:
            return None
        only = self.segments[next(iter(targets))]
        return only.index if only.kind == SegmentKind.KEYED and only.key_id == EVENT_KEY else None

    def describe(self) -> str:
        lines = []
        for seg in self.segments:
            lines.append(f"{seg.uid}: {', '.join(seg.nodes) or '(decode only)'}"
                         + (f" [changelogs: {', '.join(sorted(seg.changelogs))}]" if seg.changelogs else ""))
        return "\n".join(lines)


def make_plan(graph: Graph) -> Plan:
    segments = [Segment(ENTRY, SegmentKind.ENTRY)]
    segment_of: dict[str, int] = {}
    keyed_by_id: dict[tuple[int, str], int] = {}  # (upstream segment, key id) -> keyed segment
    for node_id in graph.order:
        compiled = graph.compiled[node_id]
        upstream = {ENTRY if e.from_source else segment_of[e.upstream] for e in graph.inputs[node_id] if not e.extra}
        if compiled.keyed:
            key_id = compiled.key.source.strip() if compiled.key is not None else EVENT_KEY
            only = next(iter(upstream)) if len(upstream) == 1 else None
            if only is not None and segments[only].kind == SegmentKind.KEYED and segments[only].key_id == key_id:
                index = only
            else:
                index = keyed_by_id.get((only if only is not None else -1, key_id))
                if index is None:
                    index = len(segments)
                    segments.append(Segment(index, SegmentKind.KEYED, key_id, compiled.key,
                                            origin=segments[only].uid if only is not None else "union"))
                    keyed_by_id[(only if only is not None else -1, key_id)] = index
            if compiled.changelog:
                segments[index].changelogs.add(compiled.changelog)
        elif len(upstream) == 1:
            index = next(iter(upstream))
        else:
            index = len(segments)
            segments.append(Segment(index, SegmentKind.MERGE))
        segment_of[node_id] = index
        segments[index].nodes.append(node_id)
    runtimes = {node_id: graph.compiled[node_id].runtime for node_id in graph.order}
    return Plan(graph, segments, segment_of, runtimes)
