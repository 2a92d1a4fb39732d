"""Shapes of what kairos writes out: actions, detections and dead letters (one JSON object each)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from jobs.nodes.base import Ctx


def iso_ms(ts: int) -> str:
    """Epoch milliseconds as ISO-8601 UTC with milliseconds: stable and readable in files and Kibana."""
    return datetime.fromtimestamp(ts / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def raw_input(ctx: Ctx) -> dict[str, Any]:
    """The event as it came in: its declared fields, without variables or metadata."""
    fields = ctx.get("_fields") or ()
    return {name: ctx.get(name) for name in fields}


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def dead_letter(scenario: str, node: str, error: str, raw: Any, ts: int | None) -> dict[str, Any]:
    return {"scenario": scenario, "node": node, "error": error, "raw": jsonable(raw),
            "time": iso_ms(ts) if ts is not None else None}
