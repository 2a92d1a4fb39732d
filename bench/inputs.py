"""Deterministic generated inputs for the benchmarks (the same file feeds kairos and every baseline).

Fraud: the generator of bench/fraud_throughput.py (20k cards, a transaction every 50 ms on average, ~2% out of
order by up to 20 s, ~0.5% refunds, every other amount > 0, 0.1% malformed lines) plus ~0.05% late
transactions: dated 1-3 hours before the input starts, and only after line 2,000. Being older than everything,
they are late under any watermark once one has been emitted (so kairos's per-event watermark and Flink's
periodic one agree on them), and they fall in no other transaction's 10-minute window.

Bank: 20k customers with a profile each (5% without one, 5% without a phone, 15% without SMS consent, 10%
premium), a profile update every ~20 ATM events, ATM refusals every 50 ms on average (80% insufficient funds),
~2% out of order by up to 4 s (within the source's 5 s), 0.1% malformed, ~0.05% late as above.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

START_MS = 1_793_613_600_000  # 2026-11-02T10:00:00Z, the examples' day
COUNTRIES = ("PL", "PL", "PL", "DE", "FR", "CZ")
LATE_AFTER_LINE = 2000
HOUR_MS = 3_600_000


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


def _late(rng: random.Random, i: int) -> bool:
    return i >= LATE_AFTER_LINE and rng.random() < 0.0005


def fraud(path: Path, n: int, seed: int = 7, cards: int = 20_000) -> None:
    rng = random.Random(seed)
    ts = START_MS
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            ts += rng.randint(0, 100)
            if rng.random() < 0.001:
                out.write(json.dumps({"txn_id": f"broken-{i}", "amount": "n/a"}) + "\n")
                continue
            card = rng.randrange(cards)
            late = _late(rng, i)
            if late:
                when = START_MS - rng.randint(HOUR_MS, 3 * HOUR_MS)
            else:
                when = ts - rng.randint(1, 20_000) if rng.random() < 0.02 else ts
            refund = not late and rng.random() < 0.005  # a late refund would be filtered before the lateness check
            amount = -round(rng.uniform(1, 50), 2) if refund else round(rng.expovariate(1 / 80), 2) + 0.01
            record = {"txn_id": f"t{i}", "card_id": f"card-{card}", "customer_id": f"c{card}", "amount": amount,
                      "merchant": f"m{rng.randrange(500)}", "country": rng.choice(COUNTRIES), "ts": iso(when)}
            out.write(json.dumps(record) + "\n")


def _profile(rng: random.Random, customer: int, ts: int) -> dict:
    return {"customer_id": f"cust-{customer}", "name": f"Name{customer}",
            "phone": None if rng.random() < 0.05 else f"+48600{customer:06d}",
            "balance": round(rng.uniform(-500, 2000), 2), "sms_consent": rng.random() >= 0.15,
            "segment": "premium" if rng.random() < 0.10 else "mass", "updated_at": iso(ts)}


def bank(events: Path, profiles: Path, n: int, seed: int = 7, customers: int = 20_000) -> None:
    rng = random.Random(seed)
    with open(profiles, "w", encoding="utf-8") as prof:
        for c in range(customers):
            if c % 20 != 0:  # every 20th customer has no profile
                prof.write(json.dumps(_profile(rng, c, START_MS - HOUR_MS + c)) + "\n")
        ts = START_MS
        with open(events, "w", encoding="utf-8") as out:
            for i in range(n):
                ts += rng.randint(0, 100)
                if i % 20 == 10:
                    prof.write(json.dumps(_profile(rng, rng.randrange(customers), ts)) + "\n")
                if rng.random() < 0.001:
                    out.write(json.dumps({"event_id": f"broken-{i}", "customer_id": "cust-1",
                                          "requested": "forty", "ts": iso(ts)}) + "\n")
                    continue
                late = _late(rng, i)
                if late:
                    when = START_MS - rng.randint(HOUR_MS, 3 * HOUR_MS)
                else:
                    when = ts - rng.randint(1, 4_000) if rng.random() < 0.02 else ts
                record = {"event_id": f"e{i}", "customer_id": f"cust-{rng.randrange(customers)}",
                          "atm_id": f"atm-{rng.randrange(300)}", "requested": float(rng.choice((50, 100, 200, 300,
                                                                                               500, 800))),
                          "reason": "insufficient_funds" if late or rng.random() < 0.8 else "card_blocked",
                          "ts": iso(when)}
                out.write(json.dumps(record) + "\n")


def _time(line: str, field: str) -> int:
    try:
        value = json.loads(line)[field]
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    except (ValueError, KeyError, TypeError, AttributeError):
        return -(2**63)


def merged(files: list[tuple[str, Path, str, int]]) -> Iterator[tuple[str, str]]:
    """(source, line) in the order docs/time.md defines for file runs: at each step the file whose next line has
    the smallest time goes first (changelog before events on a tie, rank 0 < 1), each file keeping its order.
    `files`: (source name, path, time field, rank)."""
    def lines(name: str, path: Path, field: str, rank: int):
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle):
                line = line.rstrip("\n")
                if line.strip():
                    yield _time(line, field), rank, name, number, line

    streams = [lines(*f) for f in sorted(files, key=lambda f: f[0])]
    for _, _, name, _, line in heapq.merge(*streams, key=lambda item: item[:4]):
        yield name, line


def bank_merged(events: Path, profiles: Path, out: Path) -> int:
    count = 0
    with open(out, "w", encoding="utf-8") as handle:
        for name, line in merged([("atm", events, "ts", 1), ("profiles", profiles, "updated_at", 0)]):
            handle.write(f"{name}\t{line}\n")
            count += 1
    return count
