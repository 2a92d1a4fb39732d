"""Shapes of what kairos writes out: actions, detections and dead letters (one JSON object each).

`encode_output` is the one serializer every writer calls: it always returns valid JSON text (no NaN or
Infinity, pure ASCII so an unpaired surrogate is a `\\ud800` escape), and turns an action or detection that
cannot be written (a non-finite number, an integer too long to print) into a dead letter for its node.
A dead letter itself can always be written: what cannot be JSON is replaced by a lossless escaped form.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from jobs.nodes.base import Ctx, Output, output_kind

EPOCH = datetime(1970, 1, 1)
MIN_ISO_MS, MAX_ISO_MS = -62_135_596_800_000, 253_402_300_799_999  # years 0001..9999
MAX_RAW_CHARS = 65_536  # raw input kept in a dead letter: Kafka refuses messages over 1 MiB by default
MAX_DEPTH = 100
MAX_OUTPUT_CHARS = 1_000_000  # one output record: under Kafka's default 1 MiB message, with room for headers


def iso_ms(ts: Any) -> str:
    """Epoch milliseconds as ISO-8601 UTC with milliseconds: stable and readable in files and Kibana.
    Never raises: a value no calendar can show comes out as its number."""
    try:
        if MIN_ISO_MS <= ts <= MAX_ISO_MS:
            return (EPOCH + timedelta(milliseconds=ts)).isoformat(timespec="milliseconds") + "Z"
    except (TypeError, ValueError, OverflowError):
        pass
    return _text(ts)


PII_MASK = "***"


def raw_input(ctx: Ctx) -> dict[str, Any]:
    """The event as it came in: its declared fields, without variables or metadata; `pii: true` fields masked."""
    fields = ctx.get("_fields") or ()
    pii = ctx.get("_pii")
    if pii:
        return {name: PII_MASK if name in pii and ctx.get(name) is not None else ctx.get(name) for name in fields}
    return {name: ctx.get(name) for name in fields}


def mask_raw(raw: Any, pii: frozenset[str]) -> Any:
    """A raw line that did not decode, with its `pii: true` fields masked when it is a JSON object (a line
    that is not JSON cannot be searched for fields: kept as it is, never lost)."""
    try:
        data = json.loads(raw)
    except (ValueError, TypeError, RecursionError):
        return raw
    if not isinstance(data, dict) or not pii & data.keys():
        return raw
    return json.dumps({k: PII_MASK if k in pii and v is not None else v for k, v in data.items()},
                      ensure_ascii=False)


def jsonable(value: Any, depth: int = 0) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if depth > MAX_DEPTH:
        return _text(value)
    if isinstance(value, dict):
        return {_text(k) if not isinstance(k, str) else k: jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(v, depth + 1) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    return _text(value)


def _text(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - e.g. an int too long for str(): still lossless in hex
        if isinstance(value, int):
            return f"int:{value:#x}"
        return f"<{type(value).__name__}>"


def dead_letter(scenario: str, node: str, error: str, raw: Any, ts: int | None) -> dict[str, Any]:
    """A dead letter: `raw` is the input line (text or bytes) or the event's declared fields."""
    record: dict[str, Any] = {"scenario": scenario, "node": node, "error": _text(error)[:2000]}
    if isinstance(raw, (bytes, bytearray)):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:  # lossless: the exact bytes, and a readable version beside them
            record["raw_base64"] = base64.b64encode(bytes(raw)[:MAX_RAW_CHARS]).decode("ascii")
            raw = bytes(raw).decode("utf-8", "backslashreplace")
    if isinstance(raw, str) and len(raw) > MAX_RAW_CHARS:
        record["raw_truncated"] = {"chars": len(raw), "sha256": hashlib.sha256(
            raw.encode("utf-8", "surrogatepass")).hexdigest()}
        raw = raw[:MAX_RAW_CHARS]
    record["raw"] = jsonable(raw)
    record["time"] = iso_ms(ts) if ts is not None else None
    return record


def encode_output(kind: str, record: dict, counts: dict | None = None) -> tuple[Output, str]:
    """(kind, JSON text) for a writer; never raises. An action/detection that is not representable becomes
    (Output.DEAD_LETTER, a dead letter) and moves its node's count from out to dead_letter (counts: node ->
    counters)."""
    kind, text, _ = encode_checked(kind, record, counts)
    return kind, text


def encode_checked(kind: str, record: dict, counts: dict | None = None) -> tuple[Output, str, bool]:
    """encode_output, and whether the record was written as it is (False: the escaped or dead-letter form).

    `kind` may be an old name ("action", "dead"): the kind returned is always an Output."""
    kind = output_kind(kind)
    try:
        text = json.dumps(record, allow_nan=False)
    except (ValueError, TypeError, RecursionError, OverflowError) as exc:
        return (*_fallback(kind, record, counts, exc), False)
    if len(text) > MAX_OUTPUT_CHARS:  # Kafka would refuse it and fail the job (RecordTooLargeException)
        too_big = ValueError(f"{len(text)} characters, more than {MAX_OUTPUT_CHARS}")
        return (*_fallback(kind, record, counts, too_big), False)
    return kind, text, True


def _fallback(kind: Output, record: dict, counts: dict | None, exc: Exception) -> tuple[Output, str]:
    what = "action" if kind == Output.ACTIONS else str(kind)
    error = f"cannot write the {what} as JSON: {_text(exc) or type(exc).__name__}"
    if kind == Output.DEAD_LETTER:
        return kind, _last_resort(record)
    node = _text(record.get("node", "?"))
    if counts is not None and node in counts:
        counts[node]["out"] -= 1
        counts[node]["dead_letter"] += 1
    letter = dead_letter(_text(record.get("scenario", "")), node, error, _safe(record, 0), None)
    letter["time"] = record.get("time") if isinstance(record.get("time"), str) else None
    return Output.DEAD_LETTER, _last_resort(letter)


def _last_resort(record: dict) -> str:
    try:
        text = json.dumps(_safe(record, 0), allow_nan=False)
        if len(text) <= MAX_OUTPUT_CHARS:
            return text
        record = {**record, "raw": _text(record.get("raw"))[:MAX_RAW_CHARS], "raw_truncated": True}
        return json.dumps(_safe(record, 0), allow_nan=False)
    except Exception:  # noqa: BLE001 - the dead-letter writer must not fail, whatever it is given
        return json.dumps({"scenario": _text(record.get("scenario")), "node": _text(record.get("node")),
                           "error": _text(record.get("error")), "raw": _text(record)[:MAX_RAW_CHARS],
                           "time": None})


def _safe(value: Any, depth: int) -> Any:
    """A JSON-safe copy: non-finite floats as "NaN"/"Infinity"/"-Infinity", unprintable ints in hex."""
    if isinstance(value, float):
        return value if math.isfinite(value) else "NaN" if value != value else "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if value.bit_length() < 4000 else f"int:{value:#x}"  # str() refuses over 4,300 digits
    if depth > MAX_DEPTH:
        return _text(value)[:MAX_RAW_CHARS]
    if isinstance(value, dict):
        return {k if isinstance(k, str) else _text(k): _safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_safe(v, depth + 1) for v in value]
    return _text(value)[:MAX_RAW_CHARS]


class ContactKind(StrEnum):
    """The detections an action under an experiment or bandit leaves (jobs/nodes/variants.py), which the outcome
    report (jobs/report) counts: a sent contact, or a held-out customer's would-be contact."""

    CONTACT = "contact"
    HOLDOUT = "holdout"


CONTROL_VARIANT = "control"  # the hold-out group's variant name, reserved in experiment nodes
