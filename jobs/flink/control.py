"""The control topic: erase requests (GDPR) for running jobs (docs/production.md, "Erasure").

    {"type": "erase", "key": "cust-17", "id": "<request id>", "ts": "<when, ISO-8601>"}

on `<prefix>kairos.control`. Every job started with several scenarios (or `--job-name`) reads it as one more
input: the entry turns a request into an envelope for the key, which travels the job's keyed operators like an
event of that key and clears, in each, every scenario's keyed state of the key (jobs/flink/multi_ops.py).
Ordering is by arrival: an event of the key read before the request is processed before it (at parallelism 1
the entry is one channel); data arriving after it builds new state.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from jobs.lang.model import Source, SourceKind
from jobs.lang.types import RecordType
from jobs.runtime.rawline import MARK, unwrap_line

CONTROL_TOPIC = "kairos.control"
IDLE_MS = 1_000  # the control topic is idle nearly always: it must not hold the job's watermark back


def control_source() -> Source:
    """The control topic as a source for KafkaInputs. It must never move the job's watermark: a request's
    wall-clock time would jump it past the events' time (measured: every later delayed action was then never
    released, its timer being behind a watermark that does not move again). So it is timed by a field no
    request has (minimum time: the watermark stays at the minimum) and idle after 1 s, when the union's
    watermark ignores it again."""
    return Source(name="control", kind=SourceKind.EVENTS, schema=RecordType({}), key="key", time="_no_time", id="id",
                  out_of_orderness_ms=0, idleness_ms=IDLE_MS, topic=CONTROL_TOPIC, ttl_ms=None, loc=None)


def parse_control(line: str | bytes) -> tuple[dict | None, str]:
    """(request, "") or (None, why not); (None, "") for a parameter change, which is not an erase request."""
    raw = unwrap_line(line) if line[:1] == MARK else line
    try:
        data = json.loads(raw)
    except (ValueError, TypeError, RecursionError) as exc:  # TypeError: a record without a value
        return None, f"control message is not JSON: {exc}"
    if not isinstance(data, dict):
        return None, "control message must be a JSON object"
    if data.get("type") == "param":  # a live parameter change: the single-scenario entry's (param_entry.py)
        return None, ""
    if data.get("type") != "erase":
        return None, f"unknown control message type {data.get('type')!r} (known: 'erase', 'param')"
    key = data.get("key")
    if not isinstance(key, str) or not key:
        return None, "erase request without a 'key' (text)"
    return {"key": key, "id": str(data.get("id") or "")}, ""


def erase_request(key: str) -> dict:
    now = datetime.now(timezone.utc)
    return {"type": "erase", "key": key, "id": uuid.uuid4().hex,
            "ts": now.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
