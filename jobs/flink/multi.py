"""Many scenarios, one job: the shared plan and its PyFlink build (docs/decisions/0021-many-campaigns-one-job.md).

    scenarios --group by the inputs they read--> input groups --per group--> slots --> one operator per slot

* An *input group* is the scenarios that read exactly the same inputs (file runs: source names; Kafka: topics
  with the same time settings). Each group is one pipeline, so every scenario sees the watermarks it would
  see alone; an input read by several groups is still read once (the stream fans out in Java).
* A *slot* is a place in the scenarios' graphs: the entry, or a keyed / merge segment identified by its key
  expression and the slots upstream of it. Segments of different scenarios in the same slot run in one
  operator: one decode per source, one key_by per key, one Python call per event and slot whatever the number
  of scenarios (multi_ops.py). Renamed copies of a scenario share every slot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Protocol

from pyflink.common import Types
from pyflink.datastream import DataStream, StreamExecutionEnvironment

from jobs.compiler.plan import ENTRY, Plan, SegmentKind
from jobs.compiler.program import make_program
from jobs.flink.job import JobOptions, _java_timestamps, _key_by_field0  # noqa: PLC2701
from jobs.flink.multi_ops import (
    JOINED,
    KINDS,
    Member,
    MultiEntryFunction,
    MultiFusedFunction,
    MultiMergeFunction,
    MultiSegmentFunction,
    SlotProgram,
    side_tag,
)
from jobs.flink.operators import ENVELOPE, TIMED_ENVELOPE
from jobs.lang.model import Source


class MultiPlanError(ValueError):
    """Scenarios that cannot share one job as given (e.g. two scenarios with the same name)."""


@dataclass
class InputGroup:
    members: list[int]  # scenario indices
    inputs: dict[str, tuple[str, Source]]  # input id -> (source name, declaration) of the first reader
    slots: list[SlotProgram] = field(default_factory=list)  # topological order, the entry (or fused) first
    upstream: dict[int, set[int]] = field(default_factory=dict)  # slot id -> upstream slot ids
    stamp_ooo_ms: list[int] = field(default_factory=list)  # file runs: out-of-orderness of each stamp

    @property
    def sources(self) -> SimpleNamespace:
        """A scenario-shaped view of the group's inputs (what files.timed_inputs reads)."""
        return SimpleNamespace(sources={i: s for i, (_, s) in self.inputs.items()},
                               max_out_of_orderness_ms=max(self.stamp_ooo_ms, default=0))


@dataclass
class MultiPlan:
    plans: list[Plan]
    groups: list[InputGroup]
    reads: dict[int, dict[str, str]]  # scenario index -> {source name: input id}


def _upstream_of(plan: Plan, segment) -> set[int]:
    found = plan.upstream_segments(segment) | ({ENTRY} if segment.changelogs else set())
    if any(e.from_source for n in segment.nodes for e in plan.graph.inputs[n]):
        found.add(ENTRY)
    return found


def _signatures(plan: Plan, fused: int | None) -> dict[int, tuple]:
    """Each segment's slot signature: what makes two scenarios' segments the same operator."""
    sig: dict[int, tuple] = {ENTRY: ("fused",) if fused is not None else ("entry",)}
    if fused is not None:
        sig[fused] = sig[ENTRY]

    def of(index: int, seen: frozenset = frozenset()) -> tuple:
        if index not in sig:
            if index in seen:  # a plan's segments form a DAG; never loop on a broken one
                raise MultiPlanError(f"scenario '{plan.scenario.name}': segment cycle")
            segment = plan.segments[index]
            ups = frozenset(of(u, seen | {index}) for u in _upstream_of(plan, segment))
            sig[index] = (segment.kind, segment.key_id, ups)
        return sig[index]

    for segment in plan.segments:
        of(segment.index)
    return sig


def _depth(sig: tuple) -> int:
    return 0 if len(sig) == 1 else 1 + max((_depth(u) for u in sig[2]), default=0)


def plan_many(plans: list[Plan], input_id, fuse: bool = False, counts_dir: str | None = None) -> MultiPlan:
    """Group the scenarios and lay out their slots. `input_id(source name, Source)` names what a source reads
    (two scenarios reading the same input must get the same id); `fuse`: file runs at parallelism 1."""
    names = [p.scenario.name for p in plans]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise MultiPlanError(f"scenario names must differ within one job: {', '.join(duplicates)}")
    reads = {i: {name: input_id(name, src) for name, src in p.scenario.sources.items()} for i, p in enumerate(plans)}
    by_inputs: dict[frozenset, InputGroup] = {}
    for index, plan in enumerate(plans):
        key = frozenset(reads[index].values())
        group = by_inputs.setdefault(key, InputGroup([], {}))
        group.members.append(index)
        for name, source in plan.scenario.sources.items():
            group.inputs.setdefault(reads[index][name], (name, source))
    groups = list(by_inputs.values())
    next_slot = 0
    for group in groups:
        fused = {i: plans[i].fused_entry() if fuse else None for i in group.members}
        if any(f is None for f in fused.values()):
            fused = dict.fromkeys(group.members)
        ooo = {i: plans[i].scenario.max_out_of_orderness_ms for i in group.members}
        group.stamp_ooo_ms = sorted(set(ooo.values()))
        sigs = {i: _signatures(plans[i], fused[i]) for i in group.members}
        ordered = sorted({s for per in sigs.values() for s in per.values()}, key=lambda s: (_depth(s), repr(s)))
        slot_of = {}
        for sig in ordered:
            group.slots.append(SlotProgram(next_slot, sig[0], [], counts_dir=counts_dir))
            slot_of[sig] = next_slot
            next_slot += 1
        by_id = {s.slot: s for s in group.slots}
        for sig in ordered:
            group.upstream[slot_of[sig]] = {slot_of[u] for u in sig[2]} if len(sig) > 1 else set()
        for slot_id, ups in group.upstream.items():  # erase requests follow the data edges
            for up in sorted(ups):
                by_id[up].downstream.append(slot_id)
        for index in group.members:
            plan = plans[index]
            route_slot = {seg: slot_of[s] for seg, s in sigs[index].items()}
            members: dict[int, Member] = {}
            for segment in plan.segments:
                slot_id = route_slot[segment.index]
                member = members.get(slot_id)
                if member is None:
                    member = members[slot_id] = Member(index, plan.scenario.name, route_slot=route_slot,
                                                       stamp_index=group.stamp_ooo_ms.index(ooo[index]))
                    by_id[slot_id].members.append(member)
                program = make_program(plan, segment.index)
                if segment.index == ENTRY:
                    member.entry = program
                else:
                    member.segments.append(program)
        entry_slot = group.slots[0]
        _decode_groups(plans, group, reads, entry_slot)
    return MultiPlan(plans, groups, reads)


def _decode_groups(plans: list[Plan], group: InputGroup, reads, entry_slot: SlotProgram) -> None:
    """Per input, the scenarios whose declarations decode a line identically share one decode."""
    position = {m.scenario_index: p for p, m in enumerate(entry_slot.members)}
    for input_id in group.inputs:
        decoders: dict[tuple, list[tuple[int, str]]] = {}
        for index in group.members:
            for name, read in reads[index].items():
                if read != input_id:
                    continue
                source = plans[index].scenario.sources[name]
                same = (name, source.kind, source.key, source.time, source.id, tuple(sorted(source.pii)),
                        tuple((f, str(t)) for f, t in source.schema.fields.items()))
                decoders.setdefault(same, []).append((position[index], name))
        entry_slot.inputs[input_id] = list(decoders.values())


class MultiInputs(Protocol):
    """raw_stream: "input<TAB>[stamps<TAB>]line" for one input group; optionally keyed_raw_stream (fused)."""

    def raw_stream(self, env: StreamExecutionEnvironment, group: InputGroup) -> DataStream: ...


class MultiOutputs(Protocol):
    """Optionally `joined = True`: one stream per kind for all scenarios, records of newline-joined JSON lines."""

    def attach_all(self, plans: list[Plan], sides: dict[int, dict[str, DataStream]]) -> None:
        """sides: scenario index -> {"actions" | "detected" | "dead_letter": stream of JSON text}."""


def build_multi_job(env: StreamExecutionEnvironment, multi: MultiPlan, inputs: MultiInputs,
                    outputs: MultiOutputs, options: JobOptions, job_name: str = "campaigns") -> None:
    from jobs.flink.job import _watermarks  # noqa: PLC2701

    joined = getattr(outputs, "joined", False)  # file runs: all scenarios' outputs in one record per kind
    sides: dict[int, dict[str, list[DataStream]]] = {i: {k.value: [] for k in KINDS}
                                                     for i in ([JOINED] if joined else range(len(multi.plans)))}
    for group in multi.groups:
        first = group.slots[0]
        envelopes: dict[int, DataStream] = {}
        if first.kind == "fused":
            raw = inputs.keyed_raw_stream(env, group)  # type: ignore[attr-defined]
            out = (_key_by_field0(raw, Types.STRING())
                   .process(MultiFusedFunction(first, escaped_keys=True, joined=joined), output_type=ENVELOPE))
        else:
            own = not getattr(inputs, "assigns_watermarks", False)
            function = MultiEntryFunction(first, timed=own, stamped=getattr(inputs, "stamped", False), joined=joined)
            out = inputs.raw_stream(env, group).process(function, output_type=TIMED_ENVELOPE if own else ENVELOPE)
        out = out.name(f"{job_name}/{first.kind}-{first.slot}").uid(f"{job_name}/{first.kind}-{first.slot}")
        if first.kind == SegmentKind.ENTRY and not getattr(inputs, "assigns_watermarks", False):
            strategy = _watermarks(SimpleNamespace(scenario=group.sources))
            envelopes[first.slot] = _java_timestamps(out, strategy).name(f"{job_name}/watermarks-{first.slot}")
        else:
            envelopes[first.slot] = out
        _sides(out, first, sides, joined)
        fan_out = {s.slot: sum(1 for ups in group.upstream.values() if s.slot in ups) for s in group.slots}
        for slot in group.slots[1:]:
            feeds = []
            for up in sorted(group.upstream[slot.slot]):
                stream = envelopes[up]
                if fan_out[up] > 1:
                    stream = stream.filter(lambda e, i=slot.slot: e[1][0] == i)
                feeds.append(stream)
            merged = feeds[0].union(*feeds[1:]) if len(feeds) > 1 else feeds[0]
            if slot.kind == SegmentKind.KEYED:
                out = _key_by_field0(merged).process(MultiSegmentFunction(slot, joined=joined), output_type=ENVELOPE)
            else:
                out = merged.process(MultiMergeFunction(slot, joined=joined), output_type=ENVELOPE)
            uid = f"{job_name}/{slot.kind}-{slot.slot}-{slot.members[0].segments[0].order[0]}"
            out = out.name(uid).uid(uid)
            envelopes[slot.slot] = out
            _sides(out, slot, sides, joined)

    def union(streams: list[DataStream]) -> DataStream | None:
        if not streams:
            return None
        return streams[0].union(*streams[1:]) if len(streams) > 1 else streams[0]

    outputs.attach_all(multi.plans, {i: {k: union(v) for k, v in per.items()} for i, per in sides.items()})


def _sides(out: DataStream, slot: SlotProgram, sides, joined: bool) -> None:
    for index in [JOINED] if joined else sorted({m.scenario_index for m in slot.members}):
        for kind in KINDS:
            sides[index][kind.value].append(out.get_side_output(side_tag(kind, index)))
