"""The PyFlink functions of a job that runs many scenarios (docs/decisions/0021-many-campaigns-one-job.md).

One operator per *slot*: a slot holds the segments of several scenarios that sit at the same place of their
graphs (the entry; a keyed segment with the same key expression and the same upstream slots; ...), so a
source is decoded once and an event is keyed once for every scenario that needs the same key. Inside, each
scenario keeps its own executors, its own runtime (Flink state named `<scenario>/<node>.<state>`), its own
counters and its own side outputs: one scenario's failing expression is a dead letter of that scenario only.

Envelopes between slots: `Row(key, (slot, [(scenario index, executor envelope), ...]))`, one row per event,
target slot and key for all the scenarios routing it there (pickled once: the scenarios share the event's
ctx objects, and pickle writes a shared object once).
"""

from __future__ import annotations

import json
import os
import time
import uuid

from pyflink.common import Row
from pyflink.datastream import TimeDomain
from pyflink.datastream.functions import KeyedProcessFunction, ProcessFunction

from jobs.config import codeversion
from jobs.flink.metrics import REPORT_EVERY, REPORT_S, now_ms
from jobs.flink.multi_program import (  # noqa: F401 - re-exported for multi.py
    CONTROL,
    ERASE,
    JOINED,
    KINDS,
    MIN_TS,
    Member,
    SlotProgram,
    side_tag,
)
from jobs.flink.operators import REPORT_TIMER_MS, FlinkRuntime, _descriptor  # noqa: PLC2701
from jobs.nodes.outputs import dead_letter, encode_output
from jobs.runtime.executor import COUNTERS, Executor, merge_counts, unescape_key


def _renamed(spec, scenario: str):
    from dataclasses import replace

    return _descriptor(replace(spec, node_id=f"{scenario}/{spec.node_id}"))


class _Slot:
    """Shared by the four slot functions: per member executors and runtimes, bundling, counters.

    `joined` (file runs): each input's output records of every scenario leave as ONE side-output record per
    kind, the JSON lines joined by newlines (the FileSink writes them as lines). Each side-output record is a
    Python->Java call: 17 % of the GIL time with 10 bank copies (py-spy), per scenario and record; joined, it
    is at most three per input whatever the number of scenarios. Kafka runs need a record per message."""

    def __init__(self, program: SlotProgram, timed: bool = False, escaped_keys: bool = False,
                 joined: bool = False):
        self.program, self.timed, self.escaped_keys, self.joined = program, timed, escaped_keys, joined
        self.code_version = codeversion.LOADED  # the code this job is built with (jobs/config/codeversion.py)

    def open(self, runtime_context) -> None:
        codeversion.check(getattr(self, "code_version", None), f"many campaigns/{type(self).__name__}")
        self.parts = []  # per member: (member, runtime, {segment index: executor}, entry executor or None)
        self.metrics = {}
        for member in self.program.members:
            executors = {p.index: Executor(p) for p in member.segments}
            entry = Executor(member.entry) if member.entry is not None else None
            every = [e for e in (entry, *executors.values()) if e is not None]
            specs = [spec for e in every for node in e.p.nodes.values() for spec in node.state_specs()]
            rt = FlinkRuntime(member.scenario, runtime_context, [])
            for spec in specs:  # one operator, many scenarios: state names carry the scenario
                getter = runtime_context.get_state if spec.kind == "value" else runtime_context.get_map_state
                rt.states[(spec.node_id, spec.name)] = getter(_renamed(spec, member.scenario))
            rt.escaped_keys = self.escaped_keys
            group = (runtime_context.get_metrics_group().add_group("kairos")
                     .add_group("scenario", member.scenario))
            counts = {node: c for e in reversed(every) for node, c in e.counts.items()}
            for e in every:
                for node_id in e.counts:
                    for counter in COUNTERS:
                        self.metrics[(member.scenario_index, node_id, counter)] = (
                            group.add_group("node", node_id).counter(counter), e, 0)
            self.parts.append((member, rt, executors, entry, every, counts))
        self.instance = uuid.uuid4().hex[:12]
        self.inputs, self.last_report, self.report_timer = 0, time.monotonic(), False
        self.control_rows: list = []  # erase requests going on to the slots downstream
        self.erased = runtime_context.get_metrics_group().add_group("kairos").counter("erased_keys")

    def _report(self) -> None:
        self.last_report = time.monotonic()
        for where, (metric, executor, reported) in self.metrics.items():
            value = executor.counts.get(where[1], {}).get(where[2], 0)
            if value != reported:
                metric.inc(value - reported)
                self.metrics[where] = (metric, executor, value)

    def _flush(self, key_hint: str | None = None):
        self.inputs += 1
        # as jobs/flink/metrics.py: every REPORT_EVERY inputs or REPORT_S seconds (a slow stream, e.g. a small
        # campaign on a cluster, published nothing before its 256th input); keyed slots also by a timer
        if self.inputs % REPORT_EVERY == 0 or time.monotonic() - self.last_report >= REPORT_S:
            self._report()
        bundles: dict[tuple, list] = {}
        if self.joined:
            texts: dict[str, list[str]] = {}
            for tag, text in self._outputs(bundles, key_hint):
                texts.setdefault(tag.tag_id.split("-", 1)[0], []).append(text)
            for kind, lines in texts.items():
                yield side_tag(kind, JOINED), "\n".join(lines)
        else:
            yield from self._outputs(bundles, key_hint)
        for (slot, key, ts), items in bundles.items():
            row = Row(key, (slot, items))
            yield (row, ts) if self.timed else row
        if self.control_rows:
            rows, self.control_rows = self.control_rows, []
            yield from rows

    def _outputs(self, bundles: dict, key_hint: str | None):
        """Drain every member: routes into `bundles`, outputs yielded as (tag, JSON text)."""
        for member, rt, executors, entry, every, counts in self.parts:
            index = member.scenario_index
            for executor in every:
                for kind, payload in executor.drain():
                    if kind == "route":  # payload: (segment, route, key, ts, ctx)
                        target = executors.get(payload[0])
                        if target is not None and entry is executor:  # fused: the entry feeds its segment
                            if payload[2] == key_hint:
                                target.accept(payload, rt)
                            else:  # only if the file's key and the decoded key disagree: never silently
                                target._dead(payload[1], f"internal: keyed by {key_hint!r}, routed to "
                                                         f"{payload[2]!r}", payload[4])
                            continue
                        slot = member.route_slot[payload[0]]
                        bundles.setdefault((slot, payload[2], payload[3]), []).append((index, payload))
                    else:
                        kind, text = encode_output(kind, payload, counts)
                        yield side_tag(kind, index), text
                # a fused entry's routes went into the segment, whose outputs are drained next
            for kind, record in rt.sink:
                kind, text = encode_output(kind, record, counts)
                yield side_tag(kind, index), text
            rt.sink.clear()

    def _accept(self, value, ctx, key: str | None) -> None:
        """An envelope bundle from another slot: each item to its scenario's segment executor."""
        parts = self._by_index()
        for index, payload in value[1]:
            if index == ERASE:
                self._erase(ctx, payload)
                continue
            _, rt, executors, _, _, _ = parts[index]
            rt.ctx, rt.key = ctx, key if key is not None else payload[2]
            executors[payload[0]].accept(payload, rt)

    def _by_index(self) -> dict:
        found = getattr(self, "_index", None)
        if found is None:
            found = self._index = {part[0].scenario_index: part for part in self.parts}
        return found

    def _erase(self, ctx, request: dict) -> None:
        """Forget the current key in every scenario of this slot: each node's keyed state (windows, profiles,
        pending delayed actions, pattern buffers). Timers stay registered and find nothing when they fire."""
        for _, rt, _, _, _, _ in self.parts:
            rt.ctx = ctx
            for state in rt.states.values():
                state.clear()
        self.erased.inc()
        self._forward_erase(request)

    def _forward_erase(self, request: dict) -> None:
        for slot in self.program.downstream:
            row = Row(request["key"], (slot, [(ERASE, request)]))
            self.control_rows.append((row, MIN_TS) if self.timed else row)

    def _control(self, line: str) -> None:
        """A control-topic line: {"type": "erase", "key": KEY}. Anything else is a dead letter of the first
        scenario here (node `control`), the job goes on."""
        from jobs.flink.control import parse_control

        request, error = parse_control(line)
        if request is not None:
            self._forward_erase(request)
            return
        if not error:  # a live parameter change: not wired in many-campaigns jobs (decision 0023)
            return
        member, _, _, entry, _, _ = self.parts[0]
        entry.outbox.append(("dead", dead_letter(member.scenario, "control", error, line, None)))

    def _decode(self, input_id: str, stamps: list[int] | None, line: str, ctx, key: str | None) -> None:
        """One raw line of a shared input, decoded once per decode group, dispatched to every scenario."""
        for group in self.program.inputs.get(input_id, ()):
            first, source = group[0]
            lead = self.parts[first]
            lead[1].ctx, lead[1].key = ctx, key
            stamp = stamps[lead[0].stamp_index] if stamps is not None else None
            decoded = lead[3].decode(source, line, stamp)
            if decoded is None:  # a dead letter: of every scenario reading this input, as if run alone
                letter = lead[3].outbox[-1][1]
                for position, name in group[1:]:
                    member, _, _, entry, _, _ = self.parts[position]
                    entry.counts[name]["in"] += 1
                    entry.counts[name]["dead_letter"] += 1
                    entry.outbox.append(("dead", {**letter, "scenario": member.scenario}))
                continue
            lead[3].dispatch(source, decoded, lead[1])
            for position, name in group[1:]:
                member, rt, _, entry, _, _ = self.parts[position]
                rt.ctx, rt.key = ctx, key
                counts = entry.counts[name]
                counts["in"] += 1
                counts["out"] += 1
                mine = decoded
                if stamps is not None and member.stamp_index != lead[0].stamp_index:
                    mine = {**decoded, "_wm": stamps[member.stamp_index]}
                entry.dispatch(name, mine, rt)

    def _timers(self, timestamp: int, ctx) -> None:
        for _, rt, executors, _, _, _ in self.parts:
            rt.ctx, rt.key = ctx, None
            for executor in executors.values():
                executor.fire_timers(timestamp, rt)

    def close(self) -> None:
        self._report()
        if self.program.counts_dir:
            for member, _, _, _, every, _ in self.parts:
                folder = os.path.join(self.program.counts_dir, str(member.scenario_index))
                os.makedirs(folder, exist_ok=True)
                path = os.path.join(folder, f"slot{self.program.slot}-{self.instance}.json")
                with open(path, "w", encoding="utf-8") as handle:
                    json.dump(merge_counts(e.counts for e in every), handle)


def _stamps(text: str) -> list[int]:
    return [int(s) for s in text.split(",")]


class MultiEntryFunction(_Slot, ProcessFunction):
    """The shared entry: "input<TAB>raw line", in file runs "input<TAB>stamp,stamp..<TAB>raw line"."""

    def __init__(self, program: SlotProgram, timed: bool = False, stamped: bool = False, joined: bool = False):
        super().__init__(program, timed, joined=joined)
        self.stamped = stamped

    def process_element(self, value, ctx):
        if self.stamped:
            input_id, stamps, line = value.split("\t", 2)
            self._decode(input_id, _stamps(stamps), line, ctx, None)
        else:
            input_id, _, line = value.partition("\t")
            if input_id == CONTROL:
                self._control(line)
            else:
                self._decode(input_id, None, line, ctx, None)
        yield from self._flush()


class MultiSegmentFunction(_Slot, KeyedProcessFunction):
    """A keyed slot: the bundle of every scenario's envelope for this key; state and timers per key."""

    def process_element(self, value, ctx):
        self._accept(value, ctx, None)
        self._report_later(ctx)
        yield from self._flush()

    def _report_later(self, ctx) -> None:
        if not self.report_timer:  # publish the tail of a burst even if no more input comes
            self.report_timer = True
            ctx.timer_service().register_processing_time_timer(now_ms() + REPORT_TIMER_MS)

    def on_timer(self, timestamp: int, ctx):
        if ctx.time_domain() == TimeDomain.PROCESSING_TIME:  # only the counters' own timer
            self.report_timer = False
            self._report()
            return
        self._timers(timestamp, ctx)
        yield from self._flush()


class MultiMergeFunction(_Slot, ProcessFunction):
    def process_element(self, value, ctx):
        self._accept(value[1], ctx, None)
        yield from self._flush()


class MultiFusedFunction(MultiSegmentFunction):
    """File runs where every scenario's entry feeds one segment keyed by the event key: the shared input
    arrives keyed in Java as "key<TAB>time<TAB>input<TAB>stamps<TAB>raw line"; one Python call per event."""

    def process_element(self, value, ctx):
        key, _, input_id, stamps, line = value.split("\t", 4)
        key = unescape_key(key)
        self._decode(input_id, _stamps(stamps), line, ctx, key)
        self._report_later(ctx)
        yield from self._flush(key)

