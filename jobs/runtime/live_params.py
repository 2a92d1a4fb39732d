"""Live parameter changes: one control message in, the new values plus a detection or a dead letter out.

    {"type": "param", "scenario": "card_fraud", "name": "min_amount", "value": 750, "id": "...", "ts": "..."}

The same code serves the Flink entry (jobs/flink/param_entry.py, values in broadcast state) and file runs
and the harness (`--control FILE`, messages merged by time). A change is validated against the declaration
(jobs/lang/parameters.py): an accepted one gives a new values dict (never a mutation: events already stamped
keep the values they were read with) and a `parameter_changed` detection with the old and the new value; a
refused one a dead letter with the reason, and the old value stays. Messages for another scenario are not
this job's (the control topic is shared by every job of a prefix) and are passed over; so are erase requests
(jobs/flink/control.py).
"""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

from jobs.lang.parameters import Parameter, check_value
from jobs.nodes.base import Output
from jobs.nodes.outputs import dead_letter, iso_ms
from jobs.runtime.decode import MIN_TS, parse_timestamp
from jobs.runtime.rawline import MARK, unwrap_line

PARAM_MESSAGE = "param"
CONTROL_INPUT = "_control"  # control messages as an input of a run (never a source name: those start with a letter)
NODE = "parameters"  # the `node` of a change's detection and of a refused change's dead letter


class ParamEvent(StrEnum):
    CHANGED = "parameter_changed"  # the detection kind of an accepted change


def param_message(scenario: str, name: str, value: Any, request_id: str, ts: str) -> dict:
    return {"type": PARAM_MESSAGE, "scenario": scenario, "name": name, "value": value, "id": request_id, "ts": ts}


def _as_text(line: str | bytes) -> str | bytes:
    return unwrap_line(line) if line[:1] == MARK else line


class LiveParameters:
    """The declared parameters of one scenario and what a change message does to its current values."""

    def __init__(self, scenario: str, declared: dict[str, Parameter]):
        self.scenario, self.declared = scenario, declared

    def apply(self, values: dict[str, Any], line: str | bytes,
              now_ms: int | None = None) -> tuple[dict[str, Any] | None, str | None, list[tuple[Output, dict]]]:
        """(new values or None, the name changed, outputs). None: nothing changes (refused or not ours)."""
        raw = _as_text(line)
        try:
            data = json.loads(raw)
        except (ValueError, TypeError, RecursionError) as exc:
            return None, None, [self._refused(f"control message is not JSON: {exc}", raw)]
        if not isinstance(data, dict):
            return None, None, [self._refused("control message must be a JSON object", raw)]
        if data.get("type") != PARAM_MESSAGE or data.get("scenario") != self.scenario:
            return None, None, []  # an erase request, or another job's parameter
        name = data.get("name")
        if not isinstance(name, str) or name not in self.declared:
            known = ", ".join(sorted(self.declared))
            return None, None, [self._refused(f"unknown parameter {name!r} (declared: {known})", raw)]
        if "value" not in data:
            return None, None, [self._refused(f"parameter change of '{name}' without a 'value'", raw)]
        value, error = check_value(self.declared[name], data["value"])
        if error:
            return None, None, [self._refused(f"{error}; '{name}' keeps {values.get(name)!r}", raw)]
        old = values.get(name)
        new_values = {**values, name: value}
        at = message_time(raw) if data.get("ts") is not None else MIN_TS
        if at == MIN_TS:  # the time of the change: as requested, else when it was applied
            at = int(time.time() * 1000) if now_ms is None else now_ms
        request = str(data.get("id") or "")
        detection = {
            "id": f"{self.scenario}:{NODE}:{request or at}", "scenario": self.scenario, "node": NODE,
            "kind": str(ParamEvent.CHANGED), "key": name, "event_id": request, "time": iso_ms(at),
            "event": {"parameter": name},
            # as JSON text: one index holds the changes of parameters of different types (no mapping conflict)
            "fields": {"parameter": name, "old": json.dumps(old), "new": json.dumps(value),
                       "requested_at": str(data.get("ts") or "")},
        }
        return new_values, name, [(Output.DETECTED, detection)]

    def _refused(self, error: str, raw: Any) -> tuple[Output, dict]:
        return Output.DEAD_LETTER, dead_letter(self.scenario, NODE, error, raw, None)


def message_time(line: str) -> int:
    """When a control message of a file takes effect: its `ts` (epoch ms or ISO-8601); the minimum (before
    every event) when it has none or it does not parse, so a broken message is dead-lettered first."""
    try:
        data = json.loads(line)
        return parse_timestamp(data["ts"]) if isinstance(data, dict) and data.get("ts") is not None else MIN_TS
    except Exception:  # noqa: BLE001 - the entry says what is wrong with it
        return MIN_TS


def with_control(timed: Iterator[tuple[str, str, int, str]], path: str | None) -> Iterator[tuple[str, str, int, str]]:
    """File runs (`kairos run --control FILE`): the control messages merged by time into the ordered input
    (runtime.files.timed_inputs), each file keeping its own order; a change goes before the events of its
    time, so it applies to events at or after its `ts`."""
    if path is None:
        yield from timed
        return

    def messages() -> Iterator[tuple[str, str, int, str, int]]:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            for line in handle:
                line = line.rstrip("\r\n")
                if line.strip():
                    yield CONTROL_INPUT, line, message_time(line), "", 0

    events = ((*item, 1) for item in timed)
    for source, line, ts, key, _ in heapq.merge(messages(), events, key=lambda item: (item[2], item[4])):
        yield source, line, ts, key
