"""Brute-force oracles for the `sequence` and `absence` nodes, independent of the engine's code.

They read the whole input at once: first which events are late (in arrival order, the file-run watermark is
the highest time seen before, minus the out-of-orderness, minus 1 ms: an event at or below it is late), then
the pattern over the on-time events, by event time, pair by pair. No state, no timers, no shared code with
jobs/nodes/.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone

MIN = 60_000


def ms(text: str | int) -> int:
    if isinstance(text, int):
        return text
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp() * 1000)


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse(lines: list[str]) -> list[dict]:
    """The decodable events, in arrival order, with `_t` (epoch ms); other lines are not events."""
    out = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            out.append({**event, "_t": ms(event["ts"])})
    return out


def split_late(events: list[dict], ooo_ms: int) -> tuple[list[dict], list[dict]]:
    on_time, late, highest = [], [], None
    for event in events:
        watermark = None if highest is None else highest - ooo_ms - 1
        (late if watermark is not None and event["_t"] <= watermark else on_time).append(event)
        highest = event["_t"] if highest is None else max(highest, event["_t"])
    return on_time, late


def _order(e: dict) -> tuple[int, str]:
    return e["_t"], e["event_id"]


def absence(events: list[dict], ooo_ms: int, within_ms: int, is_a, is_b, where=lambda b, a: True,
            restart: bool = False) -> list[tuple[dict, int]]:
    """(A, deadline) for every on-time A with no on-time B of its key in [A, A + within]."""
    on_time, _ = split_late(events, ooo_ms)
    out = []
    for a in (e for e in on_time if is_a(e)):
        same = [e for e in on_time if e["customer_id"] == a["customer_id"] and e is not a]
        deadline = a["_t"] + within_ms
        if any(is_b(b) and a["_t"] <= b["_t"] <= deadline and where(b, a) for b in same):
            continue
        if restart and any(is_a(o) and _order(o) > _order(a) and o["_t"] <= deadline for o in same):
            continue
        out.append((a, deadline))
    return out


def sequence_candidates(events: list[dict], ooo_ms: int, within_ms: int, is_a, is_b,
                        where=lambda b, a: True) -> dict[str, list[dict]]:
    """Per on-time A (by id) that completes: every on-time B that may complete it, earliest first."""
    on_time, _ = split_late(events, ooo_ms)
    out = {}
    for a in (e for e in on_time if is_a(e)):
        bs = sorted((b for b in on_time if b is not a and b["customer_id"] == a["customer_id"] and is_b(b)
                     and a["_t"] <= b["_t"] <= a["_t"] + within_ms and where(b, a)), key=_order)
        if bs:
            out[a["event_id"]] = bs
    return out


def sequence_restart(events: list[dict], ooo_ms: int, within_ms: int, is_a, is_b,
                     where=lambda b, a: True) -> list[tuple[dict, dict]]:
    """restart: B (in time order) completes the latest A at or before it, once, if in its window."""
    on_time, _ = split_late(events, ooo_ms)
    consumed, out = set(), []
    for b in sorted((e for e in on_time if is_b(e)), key=_order):
        before = [a for a in on_time if is_a(a) and a is not b and a["customer_id"] == b["customer_id"]
                  and a["_t"] <= b["_t"]]
        if not before:
            continue
        a = max(before, key=_order)
        if a["event_id"] in consumed or b["_t"] > a["_t"] + within_ms or not where(b, a):
            continue
        consumed.add(a["event_id"])
        out.append((a, b))
    return out


def shuffled_within(events: list[dict], ooo_ms: int, rng: random.Random) -> list[dict]:
    """Arrival order where every event is at most `ooo_ms` behind the latest seen: all on time."""
    return [e for _, _, e in sorted((e["_t"] + rng.randrange(ooo_ms + 1), i, e) for i, e in enumerate(events))]


def generate(rng: random.Random, n: int, keys: int, kinds: tuple[str, ...], start: str = "2026-11-02T10:00:00Z",
             step_ms: int = MIN) -> list[dict]:
    """Events on a minute grid (ties included), sorted by time, unique ids."""
    t0, out = ms(start), []
    for i in range(n):
        t = t0 + rng.randrange(n // 2 + 1) * step_ms
        kind = rng.choice(kinds)
        out.append({"event_id": f"g{i:04d}", "customer_id": f"c{rng.randrange(keys)}", "type": kind,
                    "product": f"p{i}" if kind == "cart_add" else None,
                    "price": float(rng.randrange(1, 400)), "ts": iso(t), "_t": t})
    return sorted(out, key=_order)


def lines(events: list[dict]) -> list[str]:
    return [json.dumps({k: v for k, v in e.items() if not k.startswith("_")}) for e in events]
