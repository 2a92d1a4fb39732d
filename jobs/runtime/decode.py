"""Turning raw input (JSON text, CSV rows) into typed values, or a clear reason why not.

Everything here raises `DecodeError` (and only that) for bad input: the executor turns it into a dead letter.
How raw lines travel to the decoder (bytes that are not UTF-8, Kafka records without a value): rawline.py.
The limits below are documented in docs/scenarios.md ("Dead letters and limits") and docs/time.md.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from jobs.lang.types import (
    ANY,
    BOOL,
    FLOAT,
    INT,
    STRING,
    TIMESTAMP,
    ListType,
    MapType,
    RecordType,
    Type,
)

INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # int fields are 64-bit, as in Flink (Types.LONG)
# event times are Java longs: MIN_TS is Flink's watermark before any event and the time of a line that has
# none (it goes out at once, to the dead letters); MAX_TS is the final watermark of a bounded input
MIN_TS, MAX_TS = INT_MIN, INT_MAX
# one event's raw text: an action or detection that carries the event must still fit in a Kafka message
# (1 MiB by default, max.message.bytes / max.request.size); outputs.MAX_OUTPUT_CHARS checks the rest
MAX_EVENT_CHARS = 262_144
MAX_DEPTH = 64  # nesting of a declared value (lists in maps in records ...)
# event times: 1970-01-01T00:00:00.000Z .. 2262-04-11T23:47:16.854Z (the int64-nanosecond range, so every
# downstream system can hold them); a value outside is a dead letter and never moves the watermark
MIN_EVENT_MS, MAX_EVENT_MS = 0, 9_223_372_036_854
# an event time further ahead of the wall clock than this is a dead letter (Kafka's broker default for
# message.timestamp.after.max.ms is the same hour): one bad clock must not make every later event late
MAX_FUTURE_SKEW_MS = 3_600_000
# any other timestamp field: what ISO-8601 can write, years 0001..9999
MIN_TIME_MS, MAX_TIME_MS = -62_135_596_800_000, 253_402_300_799_999
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)
_DIGITS = re.compile(r"-?[0-9]+")  # ASCII digits only: "²".isdigit() is True but int("²") fails
_SURROGATE = re.compile("[\ud800-\udfff]")
class DecodeError(ValueError):
    pass


def parse_json(line: str | bytes | None) -> Any:
    if line is None:
        raise DecodeError("the record has no value (a Kafka tombstone on an events topic)")
    if len(line) > MAX_EVENT_CHARS:
        raise DecodeError(f"the event is {len(line)} characters long, more than the limit of {MAX_EVENT_CHARS}")
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"not valid UTF-8: byte {exc.start} is {line[exc.start:exc.start + 1]!r}") from None
    try:
        return json.loads(line)
    except RecursionError:
        raise DecodeError("malformed JSON: nested too deep") from None
    except ValueError as exc:
        if not line.strip():
            raise DecodeError("blank line") from None
        raise DecodeError(f"malformed JSON: {exc}") from None


# -- timestamps -------------------------------------------------------------------------------------
def parse_time_value(value: Any) -> int:
    """Epoch milliseconds from a number (ms) or ISO-8601 text (no zone means UTC), years 0001..9999."""
    if isinstance(value, bool):
        raise DecodeError("a timestamp cannot be true/false")
    if isinstance(value, int):
        ts = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise DecodeError(f"{_show(value)} is not a timestamp")
        ts = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if _DIGITS.fullmatch(text):  # epoch ms, never ISO's basic format ("20261102" is not a date here)
            if len(text) > 30:
                raise DecodeError(f"{_show(value)} is outside the years 0001..9999")
            ts = int(text)
        else:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=timezone.utc)
                ts = (parsed - EPOCH) // _MS  # exact: timestamp() * 1000 is off by one ms for many values
            except (ValueError, OverflowError):
                raise DecodeError(f"{_show(value)} is not a timestamp (epoch ms or ISO-8601)") from None
    else:
        raise DecodeError(f"{_json_kind(value)} is not a timestamp")
    if not MIN_TIME_MS <= ts <= MAX_TIME_MS:
        raise DecodeError(f"{_show(value)} is outside the years 0001..9999")
    return ts


def check_event_time(ts: int, field: str) -> int:
    """An event time within [MIN_EVENT_MS, MAX_EVENT_MS] and not too far after the wall clock."""
    if not MIN_EVENT_MS <= ts <= MAX_EVENT_MS:
        raise DecodeError(f"time field '{field}': {ts} ms is outside the event-time range "
                          f"1970-01-01T00:00:00.000Z .. 2262-04-11T23:47:16.854Z")
    if ts > _future_bound(ts):
        raise DecodeError(f"time field '{field}': {_iso(ts)} is more than {MAX_FUTURE_SKEW_MS // 60_000} minutes "
                          f"after the current time; a clock this far ahead would make every later event late")
    return ts


_bound = [0]  # a cache of now + skew, refreshed only when an event is later than it (one clock call per ms)


def _future_bound(ts: int) -> int:
    if ts > _bound[0]:
        _bound[0] = int(time.time() * 1000) + MAX_FUTURE_SKEW_MS
    return _bound[0]


def parse_timestamp(value: Any, field: str = "time") -> int:
    """An event time (the watermark assigners and the file-run merge read this): every rule above."""
    return check_event_time(parse_time_value(value), field)


def _iso(ts: int) -> str:
    return (EPOCH + timedelta(milliseconds=ts)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- typed values -----------------------------------------------------------------------------------
def _show(value: Any) -> str:
    """A short, never-failing description of a value for an error message."""
    if isinstance(value, str):
        return json.dumps(value[:40] + ("..." if len(value) > 40 else ""))
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value) if value.bit_length() < 128 else f"an integer of about {len(hex(value)) * 6 // 5} digits"
    if isinstance(value, float):
        return "NaN" if value != value else "Infinity (or a number like 1e400)" if value > 0 else \
            "-Infinity (or a number like -1e400)" if math.isinf(value) else repr(value)
    if isinstance(value, (list, dict)):
        return f"{_json_kind(value)} of {len(value)} item(s)"
    return type(value).__name__


def _bad_text(value: str) -> bool:
    return not value.isascii() and _SURROGATE.search(value) is not None


def coerce(t: Type, value: Any, path: str, depth: int = 0) -> Any:  # noqa: C901 - one flat rule per type
    """Check (and where lossless, convert) a JSON value against a declared type."""
    if value is None:
        return value
    if depth > MAX_DEPTH:
        raise DecodeError(f"field '{path}': nested deeper than {MAX_DEPTH} levels")
    if t == STRING:
        if isinstance(value, str):
            if _bad_text(value):
                raise DecodeError(f"field '{path}': text with an unpaired UTF-16 surrogate (\\ud800-\\udfff)")
            return value
    elif t == INT:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            if INT_MIN <= value <= INT_MAX:
                return value
            raise DecodeError(f"field '{path}': {_show(value)} does not fit in a 64-bit integer")
    elif t == FLOAT:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                raise DecodeError(f"field '{path}': {_show(value)} is not a finite number")
            try:
                return float(value)
            except OverflowError:
                raise DecodeError(f"field '{path}': {_show(value)} is out of range for a float") from None
    elif t == BOOL:
        if isinstance(value, bool):
            return value
    elif t == TIMESTAMP:
        try:
            return parse_time_value(value)
        except DecodeError as exc:
            raise DecodeError(f"field '{path}': {exc}") from None
    elif t == ANY:
        return _check_any(value, path, depth)
    elif isinstance(t, ListType):
        if isinstance(value, list):
            return [coerce(t.item, v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    elif isinstance(t, MapType):
        if isinstance(value, dict):
            return {_key(k, path): coerce(t.value, v, f"{path}.{k}", depth + 1) for k, v in value.items()}
    elif isinstance(t, RecordType):
        if isinstance(value, dict):
            return {name: coerce(ft, value.get(name), f"{path}.{name}", depth + 1) for name, ft in t.fields.items()}
    raise DecodeError(f"field '{path}': expected {t}, got {_json_kind(value)} {_show(value)}")


def _key(k: str, path: str) -> str:
    if _bad_text(k):
        raise DecodeError(f"field '{path}': a key with an unpaired UTF-16 surrogate")
    return k


def _check_any(value: Any, path: str, depth: int) -> Any:
    """An `any` value is kept as it is, under the same rules as typed ones: finite, 64-bit, valid text."""
    if isinstance(value, str):
        return coerce(STRING, value, path, depth)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return coerce(INT, value, path, depth)
    if isinstance(value, float):
        return coerce(FLOAT, value, path, depth)
    if depth >= MAX_DEPTH:
        raise DecodeError(f"field '{path}': nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, list):
        return [_check_any(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    return {_key(k, path): _check_any(v, f"{path}.{k}", depth + 1) for k, v in value.items()}


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return {int: "int", float: "float", str: "string", list: "list", dict: "object"}.get(type(value), "value")


def decode_record(schema: RecordType, data: Any) -> dict[str, Any]:
    """A JSON object checked against a schema: declared fields only (unknown ones are ignored)."""
    return record_decoder(schema)(data)


def _converter(t: Type, name: str) -> Callable[[Any], Any]:
    """A per-field check chosen once per schema: the common good values skip the generic `coerce` walk."""
    if t == STRING:
        return lambda v: v if v is None or (v.__class__ is str and v.isascii()) else coerce(t, v, name)
    if t == FLOAT:  # v - v is 0.0 for every finite float, NaN for NaN and the infinities
        return lambda v: v if v is None or (v.__class__ is float and v - v == 0.0) else coerce(t, v, name)
    if t == INT:
        return lambda v: v if v is None or (v.__class__ is int and INT_MIN <= v <= INT_MAX) else coerce(t, v, name)
    if t == BOOL:
        return lambda v: v if v is None or v.__class__ is bool else coerce(t, v, name)
    return lambda v: coerce(t, v, name)


def record_decoder(schema: RecordType) -> Callable[[Any], dict[str, Any]]:
    fields = [(name, _converter(t, name)) for name, t in schema.fields.items()]

    def decode(data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise DecodeError(f"expected a JSON object, got {_json_kind(data)}")
        get = data.get
        return {name: convert(get(name)) for name, convert in fields}

    return decode


def cell(t: Type, text: str, column: str) -> Any:
    """A CSV cell as a typed value: empty means null, lists/maps/records are JSON inside the cell."""
    if text == "":
        return None
    if t == STRING:
        return coerce(STRING, text, column)
    if t == ANY:
        return text
    if t == BOOL:
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise DecodeError(f"column '{column}': '{text[:40]}' is not true/false")
    if t == TIMESTAMP:
        try:
            return parse_time_value(text)
        except DecodeError as exc:
            raise DecodeError(f"column '{column}': {exc}") from None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise DecodeError(f"column '{column}': {_show(text)} is not {t}") from None
    return coerce(t, value, column)
