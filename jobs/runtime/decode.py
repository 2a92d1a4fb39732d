"""Turning raw input (JSON text, CSV rows) into typed values, or a clear reason why not."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from jobs.compiler.types import (
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


class DecodeError(ValueError):
    pass


def parse_timestamp(value: Any) -> int:
    """Epoch milliseconds from a number (ms) or ISO-8601 text (no zone means UTC)."""
    if isinstance(value, bool):
        raise DecodeError("a timestamp cannot be true/false")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise DecodeError(f"'{value}' is not a timestamp (epoch ms or ISO-8601)") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return int(parsed.timestamp() * 1000)
    raise DecodeError(f"{type(value).__name__} is not a timestamp")


def coerce(t: Type, value: Any, path: str) -> Any:  # noqa: C901 - one flat rule per type
    """Check (and where lossless, convert) a JSON value against a declared type."""
    if value is None or t == ANY:
        return value
    if t == STRING:
        if isinstance(value, str):
            return value
    elif t == INT:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif t == FLOAT:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif t == BOOL:
        if isinstance(value, bool):
            return value
    elif t == TIMESTAMP:
        try:
            return parse_timestamp(value)
        except DecodeError as exc:
            raise DecodeError(f"field '{path}': {exc}") from None
    elif isinstance(t, ListType):
        if isinstance(value, list):
            return [coerce(t.item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    elif isinstance(t, MapType):
        if isinstance(value, dict):
            return {str(k): coerce(t.value, v, f"{path}.{k}") for k, v in value.items()}
    elif isinstance(t, RecordType):
        if isinstance(value, dict):
            return {name: coerce(ft, value.get(name), f"{path}.{name}") for name, ft in t.fields.items()}
    raise DecodeError(f"field '{path}': expected {t}, got {_json_kind(value)} {json.dumps(value)[:60]}")


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return {int: "int", float: "float", str: "string", list: "list", dict: "object"}.get(type(value), "value")


def decode_record(schema: RecordType, data: Any) -> dict[str, Any]:
    """A JSON object checked against a schema: declared fields only (unknown ones are ignored)."""
    return record_decoder(schema)(data)


def _converter(t: Type, name: str) -> Callable[[Any], Any]:
    """A per-field check chosen once per schema: the common types skip the generic `coerce` walk."""
    if t == STRING:
        return lambda v: v if v is None or v.__class__ is str else coerce(t, v, name)
    if t == FLOAT:
        return lambda v: v if v is None or v.__class__ is float else coerce(t, v, name)
    if t == INT:
        return lambda v: v if v is None or v.__class__ is int else coerce(t, v, name)
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


def parse_json(line: str | bytes) -> Any:
    try:
        return json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"malformed JSON: {exc}") from None


def cell(t: Type, text: str, column: str) -> Any:
    """A CSV cell as a typed value: empty means null, lists/maps/records are JSON inside the cell."""
    if text == "":
        return None
    if t in (STRING, ANY):
        return text
    if t == BOOL:
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise DecodeError(f"column '{column}': '{text}' is not true/false")
    if t == TIMESTAMP:
        return parse_timestamp(text)
    try:
        value = json.loads(text)
    except ValueError:
        raise DecodeError(f"column '{column}': '{text}' is not {t}") from None
    return coerce(t, value, column)
