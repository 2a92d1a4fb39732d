"""Brute-force expected counts of the fraud example over a whole input file, in plain Python (no Flink).

Two readings of the 10-minute sliding window, so the SQL baseline's legitimate difference is accounted for
exactly rather than waved through:
* `arrival`: a transaction's window holds the card's transactions that arrived before it (and itself) with a
  time in (t - 10 min, t]: what the scenario means (docs/scenarios.md) and what kairos and the DataStream
  baseline compute;
* `event_time`: every transaction of the card in (t - 10 min, t], whenever it arrived (peers with the same
  time included): what a Flink SQL OVER window computes.
Late = at or before the largest time seen before it - 30 s - 1 ms (docs/time.md); refunds are filtered first.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from pathlib import Path

from bench.baselines.fraud_datastream import OUT_OF_ORDERNESS_MS, WINDOW_MS, decode


def _risk(count: int, spent: float, countries: int) -> str | None:
    if count > 3 and countries > 1:
        return "high"
    if count > 3 or spent > 2000:
        return "medium"
    return None


def fraud_counts(path: Path) -> dict[str, dict[str, int]]:
    bad = late = 0
    accepted: list[tuple] = []  # (card, ts, amount, country, arrival index)
    max_ts = None
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            try:
                row = decode(line)
            except (ValueError, AttributeError):
                bad += 1
                continue
            ts, watermark = row[6], None if max_ts is None else max_ts - OUT_OF_ORDERNESS_MS - 1
            max_ts = ts if max_ts is None else max(max_ts, ts)
            if row[3] is None or not row[3] > 0:
                continue
            if watermark is not None and ts <= watermark:
                late += 1
                continue
            accepted.append((row[1], ts, row[3], row[5], len(accepted)))
    by_card: dict[str, list[tuple]] = defaultdict(list)
    for item in accepted:
        by_card[item[0]].append(item)
    result = {}
    for reading in ("arrival", "event_time"):
        detections = actions = 0
        for items in by_card.values():
            ordered = sorted(items, key=lambda x: x[1])
            times = [x[1] for x in ordered]
            for _card, ts, _amount, _country, index in items:
                lo = bisect.bisect_right(times, ts - WINDOW_MS)
                hi = bisect.bisect_right(times, ts)
                window = [x for x in ordered[lo:hi] if reading == "event_time" or x[4] <= index]
                risk = _risk(len(window), sum(x[2] for x in window), len({x[3] for x in window if x[3] is not None}))
                detections += risk is not None
                actions += risk == "high"
        result[reading] = {"actions": actions, "detected": detections, "dead_letter": bad + late, "late": late,
                           "bad": bad}
    return result
