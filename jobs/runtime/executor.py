"""The one engine loop: runs a segment's fused nodes for one input, in Flink or in the test harness.

A segment program (jobs/compiler/program.py: node runtimes, local wiring, routes to other segments) says
what runs and where its output goes; the executor only executes it. It pushes each event through the nodes
of its segment, counts what happens at every node, and leaves what must go elsewhere in its outbox:
envelopes for other segments, actions, detections, dead letters.
Counters obey, per node: in = out + filtered + dead_letter + held (held: waiting in state for a timer).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from jobs.compiler.program import SegmentProgram, make_program  # noqa: F401 - make_program: older callers
from jobs.lang.model import Source, SourceKind
from jobs.lang.parameters import PARAM
from jobs.nodes.base import DEFAULT_PORT, Ctx, NodeRuntime, Output, Runtime
from jobs.nodes.outputs import dead_letter, mask_raw, raw_input
from jobs.runtime.decode import MIN_TS, DecodeError, check_event_time, parse_json, record_decoder
from jobs.runtime.rawline import MARK, unwrap_line

COUNTERS = ("in", "out", "filtered", "dead_letter", "held", "emitted", "late")
Envelope = tuple  # (segment index, route, key, ts, ctx): route is a node id or "changelog:<source>"
CHANGELOG = "changelog:"
DEAD = Output.DEAD_LETTER  # an outbox entry (DEAD, dead letter)


def event_id(source: Source, data: dict, line: str | bytes) -> str:
    if source.id and data.get(source.id) is not None:
        return str(data[source.id])
    raw = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
    return hashlib.sha1(raw).hexdigest()[:16]  # stable across runs and machines


class Stamps:
    """File runs: the watermark as of each input line, a pure function of the merged input order.

    `max time of the lines before it - out_of_orderness - 1` (Flink's bounded-out-of-orderness rule), over
    every line whose time parses, as a streaming source's watermarks are. Computed while the merged input is
    written and carried in the line, so the entry needs no key and no state (a constant key, a Python key
    selector and a state write per event cost ~30% of the fraud run: docs/performance.md)."""

    def __init__(self, out_of_orderness_ms: int):
        self.ooo_ms = out_of_orderness_ms
        self.max_ts: int | None = None

    @property
    def watermark(self) -> int:
        """The watermark after the lines so far: `max time - out_of_orderness - 1`, MIN_TS before any."""
        return MIN_TS if self.max_ts is None else self.max_ts - self.ooo_ms - 1

    def next(self, line_ts: int) -> int:
        stamp = self.watermark
        if line_ts != MIN_TS and (self.max_ts is None or line_ts > self.max_ts):
            self.max_ts = line_ts
        return stamp


def escape_key(key: str) -> str:
    """A key as one field of a tab-separated line: the identity for keys without tab, newline, quote or
    backslash (JSON string escapes otherwise), so Flink keys by an injective image of the true key."""
    if "\t" in key or "\n" in key or "\r" in key or '"' in key or "\\" in key:
        return json.dumps(key, ensure_ascii=False)[1:-1]
    return key


def unescape_key(key: str) -> str:
    return json.loads(f'"{key}"') if "\\" in key else key


class Executor:
    def __init__(self, program: SegmentProgram):
        self.p = program
        self.outbox: list[tuple[str, Any]] = []
        self.counts: dict[str, dict[str, int]] = {n: dict.fromkeys(COUNTERS, 0) for n in program.order}
        # only nodes that implement timers are asked on each timer (in topological order)
        self.timer_nodes = [n for n in program.order
                            if type(program.nodes[n]).on_timer is not NodeRuntime.on_timer]
        self.timed_changelogs = {n: program.nodes[n].timed_changelogs() for n in program.order}
        self.decoders = {name: record_decoder(source.schema) for name, source in program.sources.items()}
        self.fields = {name: tuple(source.schema.fields) for name, source in program.sources.items()}  # shared
        for name in program.sources:
            self.counts[name] = dict.fromkeys(COUNTERS, 0)
        # live parameters: the entry stamps these values on each event it decodes (jobs/flink/param_entry.py
        # replaces the dict, never mutates it, when a change is accepted); the other segments keep the latest
        # stamp they received, for what their timers release. None: the scenario has none and pays nothing.
        self.params: dict[str, Any] | None = program.parameters

    # -- inputs ---------------------------------------------------------------------------------
    def accept_raw(self, source_name: str, line: str | bytes, rt: Runtime, stamp: int | None = None) -> None:
        """Entry segment: decode one raw input line of a source and send it on.

        `stamp` (file runs): the watermark as of this line (see `Stamps`), so lateness is deterministic."""
        ctx = self.decode(source_name, line, stamp)
        if ctx is not None:
            self.dispatch(source_name, ctx, rt)

    # [multi] decode / dispatch are split so that a job running many scenarios decodes a shared source once
    # and dispatches the same ctx to every scenario reading it (jobs/flink/multi_ops.py)
    def decode(self, source_name: str, line: str | bytes, stamp: int | None = None) -> Ctx | None:
        """The line's ctx (counted at the source), or None after its dead letter went to the outbox."""
        source = self.p.sources[source_name]
        counts = self.counts[source_name]
        counts["in"] += 1
        raw = unwrap_line(line) if line[:1] == MARK else line
        try:
            data = parse_json(raw)
            deleted = source.kind == SourceKind.CHANGELOG and isinstance(data, dict) and data.get("_deleted") is True
            ctx = self.decoders[source_name](data)
            key, ts = ctx.get(source.key), ctx.get(source.time)
            if key is None:
                raise DecodeError(f"key field '{source.key}' is missing or null")
            if ts is None and not deleted:
                raise DecodeError(f"time field '{source.time}' is missing or null")
            if ts is not None:
                check_event_time(ts, source.time)
            event = event_id(source, data, raw)
        except Exception as exc:  # noqa: BLE001 - whatever a line holds, it is its own dead letter
            counts["dead_letter"] += 1
            shown = mask_raw(raw, source.pii) if source.pii else raw  # [multi] pii fields masked
            self.outbox.append((DEAD, dead_letter(self.p.scenario, source_name, _describe(exc), shown, None)))
            return None
        untimed, ts = ts is None, ts if ts is not None else 0
        ctx.update(_src=source_name, _key=str(key), _id=event, _ts=ts,
                   _fields=self.fields[source_name])
        if deleted:
            ctx["_deleted"] = True
            if untimed:
                ctx["_untimed"] = True
        if stamp is not None:
            ctx["_wm"] = stamp
        if source.pii:
            ctx["_pii"] = source.pii  # outputs.raw_input masks these fields
        if self.params is not None:
            ctx[PARAM] = self.params
        counts["out"] += 1
        return ctx

    def dispatch(self, source_name: str, ctx: Ctx, rt: Runtime) -> None:
        """Send a decoded source event on: to the entry's own nodes and to other segments."""
        if self.params is not None and ctx.get(PARAM) is not self.params:  # [multi] another scenario decoded it
            ctx = {**ctx, PARAM: self.params}
        if self.p.sources[source_name].kind == SourceKind.CHANGELOG:
            key, ts = ctx["_key"], ctx["_ts"]
            for seg in self.p.changelog_routes.get(source_name, []):
                self.outbox.append(("route", (seg, CHANGELOG + source_name, key, ts, ctx)))
            return
        for target in self.p.source_local.get(source_name, []):
            self.push(target, ctx, rt)
        for seg, target in self.p.source_routes.get(source_name, []):
            self._route(seg, target, ctx, source_name)

    def accept(self, envelope: Envelope, rt: Runtime) -> None:
        """Keyed / merge segments: an envelope from another segment."""
        _, route, _, ts, ctx = envelope
        if self.params is not None:
            self.params = ctx.get(PARAM, self.params)
        if route.startswith(CHANGELOG):
            source = route[len(CHANGELOG):]
            for node_id in self.p.order:
                # an event-time join must not take a version older than the watermark: whether the events it
                # concerns were already released would depend on timing, so it is late like any event
                if (node_id in self.p.uses_time and source in self.timed_changelogs[node_id]
                        and not ctx.get("_untimed")):
                    watermark = rt.watermark(ctx)
                    if ts <= watermark:
                        counts = self.counts[node_id]
                        counts["in"] += 1
                        counts["late"] += 1
                        counts["dead_letter"] += 1
                        self._dead(node_id, f"late changelog update: time {ts} is at or before the watermark "
                                            f"{watermark}", ctx)
                        continue
                try:
                    self.p.nodes[node_id].on_changelog(source, ctx, ts, rt)
                except Exception as exc:  # noqa: BLE001 - a bad update is its own dead letter, the job goes on
                    counts = self.counts[node_id]
                    counts["in"] += 1
                    counts["dead_letter"] += 1
                    self._dead(node_id, f"changelog update: {_describe(exc)}", ctx)
            return
        self.push(route, ctx, rt)

    def fire_timers(self, ts: int, rt: Runtime) -> None:
        for node_id in self.timer_nodes:  # topological: upstream timers feed downstream nodes first
            node = self.p.nodes[node_id]
            try:
                emissions = list(node.on_timer(ts, rt) or ())
            except Exception as exc:  # noqa: BLE001 - a failing node must not kill the job
                self.counts[node_id]["dead_letter"] += 1
                self.outbox.append((DEAD, dead_letter(self.p.scenario, node_id, _describe(exc), None, ts)))
                continue
            self.counts[node_id]["emitted"] += len(emissions)
            if self.params is not None:  # a window's result is a new event: the latest values this segment saw
                for _, out in emissions:
                    out.setdefault(PARAM, self.params)
            self._forward(node_id, emissions, rt, from_timer=True)

    # -- the push loop --------------------------------------------------------------------------
    def push(self, node_id: str, ctx: Ctx, rt: Runtime, from_timer: bool = False) -> None:
        counts = self.counts[node_id]
        counts["in"] += 1
        ts = ctx["_ts"]
        # events released by a timer were on time when they arrived; the watermark has moved since
        if not from_timer and node_id in self.p.uses_time:
            watermark = rt.watermark(ctx)
            if ts <= watermark:
                counts["late"] += 1
                counts["dead_letter"] += 1
                self._dead(node_id, f"late event: time {ts} is at or before the watermark {watermark}", ctx)
                return
        try:
            emissions = list(self.p.nodes[node_id].process(ctx, ts, rt))
        except Exception as exc:  # noqa: BLE001 - one bad event goes to the dead-letter output, the job goes on
            counts["dead_letter"] += 1
            self._dead(node_id, _describe(exc), ctx)
            return
        if not emissions:
            counts["out" if node_id in self.p.terminal else "held" if node_id in self.p.holds else "filtered"] += 1
            return
        port = emissions[0][0]
        has_targets = (node_id, port) in self.p.local or (node_id, port) in self.p.remote
        counts["filtered" if port != DEFAULT_PORT and not has_targets else "out"] += 1
        self._forward(node_id, emissions, rt, from_timer)

    def _forward(self, node_id: str, emissions: Iterable[tuple[str, Ctx]], rt: Runtime, from_timer: bool) -> None:
        for port, out in emissions:
            for target in self.p.local.get((node_id, port), ()):
                self.push(target, out, rt, from_timer)
            for seg, target in self.p.remote.get((node_id, port), ()):
                self._route(seg, target, out, node_id)

    def _route(self, seg: int, target: str, ctx: Ctx, from_node: str) -> None:
        key_expr = self.p.segment_keys.get(seg)
        try:
            key = ctx.get("_key") if key_expr is None else key_expr.fn(ctx)
            key = None if key is None else str(key)
        except Exception as exc:  # noqa: BLE001
            key, error = None, f"cannot compute the key: {_describe(exc)}"
        else:
            error = "the key is null"
        if key is None:  # counted at the node the event was meant for, which never sees it
            counts = self.counts.setdefault(target, dict.fromkeys(COUNTERS, 0))
            counts["in"] += 1
            counts["dead_letter"] += 1
            self._dead(target, error, ctx)
            return
        self.outbox.append(("route", (seg, target, key, ctx["_ts"], ctx)))

    def _dead(self, node_id: str, error: str, ctx: Ctx) -> None:
        self.outbox.append((DEAD, dead_letter(self.p.scenario, node_id, error, raw_input(ctx), ctx.get("_ts"))))

    def drain(self) -> list[tuple[str, Any]]:
        out, self.outbox = self.outbox, []
        return out


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, (ValueError, DecodeError)) else text


def merge_counts(parts: Iterable[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    total: dict[str, dict[str, int]] = {}
    for part in parts:
        for name, counts in part.items():
            into = total.setdefault(name, dict.fromkeys(COUNTERS, 0))
            for counter, value in counts.items():
                into[counter] = into.get(counter, 0) + value
    return total
