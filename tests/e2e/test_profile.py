"""profile and threshold on the embedded Flink engine, against a brute-force oracle over the whole input.

The input is generated (seeded): four customers, ties and gaps in time, null amounts, and an arrival order
shuffled by up to 100 s inside a 2 min out-of-orderness, plus a few events far beyond it (late). The
oracle knows nothing of buckets, state or eviction: for every on-time event it recomputes each field from
the list of that customer's events that arrived before it (and itself), by definition:
  * plain kinds over everything arrived so far (`last` / `last_time` by event time, ties: later arrival),
  * rolling kinds over the arrived events whose time is in (t - window, t] (with `resolution`: whose
    bucket is in (bucket(t) - window, bucket(t)]),
  * the threshold: per customer, in arrival order, fire when the condition is true and was not true at
    the last non-null evaluation since it fired.
Amounts are multiples of 0.5, so float sums are exact whatever order they are added in.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from jobs.runtime.harness import RunResult

ENGINES = ["harness", pytest.param("flink", marks=pytest.mark.flink)]
OOO_MS, W10_MS, H1_MS, RES_MS = 120_000, 600_000, 3_600_000, 60_000
BASE_MS = 1_767_261_600_000  # 2026-01-01T10:00:00Z
LEVEL = 60.0

SCENARIO = """\
name: profile_e2e
sources:
  tx:
    schema: {id: string, customer_id: string, amount: float, kind: string, ts: timestamp}
    key: customer_id
    time: ts
    id: id
    out_of_orderness: 2m
nodes:
  - id: prof
    type: profile
    ttl: 30d
    fields:
      n: {kind: count}
      buys: {kind: count, when: "kind = 'buy'"}
      total: {kind: sum, of: amount}
      avg_amount: {kind: avg, of: amount}
      biggest: {kind: max, of: amount}
      smallest: {kind: min, of: amount}
      last_amount: {kind: last, of: amount}
      last_buy: {kind: last_time, when: "kind = 'buy'"}
      buys_10m: {kind: rolling_count, window: 10m, when: "kind = 'buy'"}
      spent_10m: {kind: rolling_sum, of: amount, window: 10m}
  - id: coarse
    type: profile
    as: coarse
    ttl: 1d
    resolution: 1m
    fields:
      buys_10m: {kind: rolling_count, window: 10m, when: "kind = 'buy'"}
      spent_1h: {kind: rolling_sum, of: amount, window: 1h}
  - id: every
    type: action
    from: coarse
    channel: log
    payload: {p: profile, c: coarse}
  - id: once
    type: threshold
    from: coarse
    condition: "if(kind = 'view', null, profile.spent_10m >= 60)"
  - id: alert
    type: action
    channel: crm
    payload: {spent: profile.spent_10m}
"""


def make_events(seed: int = 11, n: int = 260) -> list[dict]:
    rng = random.Random(seed)
    t, times = BASE_MS, []
    for _ in range(n):
        t += rng.choice([0, 0, 1000, 15_000, 30_000, 60_000, 90_000, 170_000, 600_000])
        times.append(t)
    order = sorted(range(n), key=lambda i: times[i] + rng.randint(0, 100_000))  # < out of orderness: on time
    events = []
    for j, i in enumerate(order):
        events.append({"id": f"e{j:03d}", "customer_id": rng.choice(["c1", "c2", "c3", "c4"]),
                       "amount": rng.choice([None, 5.0, 12.5, 20.0, 31.5, 40.0]),
                       "kind": rng.choice(["buy", "buy", "view"]), "ts": times[i]})
        if j in (40, 130, 200):  # far beyond the out of orderness: late at the profile
            events.append({**events[-1], "id": f"late{j}", "ts": times[i] - 5 * OOO_MS, "kind": "buy"})
    return events


def _bucket(ts: int) -> int:
    return ts - ts % RES_MS


def oracle(events: list[dict]) -> dict:
    """Every output, computed from the definitions over the whole input (no state, no buckets)."""
    max_ts, late, seen = None, [], {}
    every, alerts, fired = {}, {}, {}
    for pos, e in enumerate(events):
        watermark = None if max_ts is None else max_ts - OOO_MS - 1
        max_ts = e["ts"] if max_ts is None else max(max_ts, e["ts"])
        if watermark is not None and e["ts"] <= watermark:
            late.append(e["id"])
            continue
        mine = seen.setdefault(e["customer_id"], [])
        mine.append((pos, e))
        t = e["ts"]
        amounts = [x["amount"] for _, x in mine if x["amount"] is not None]
        buys = [x for _, x in mine if x["kind"] == "buy"]
        with_amount = [(x["ts"], p, x["amount"]) for p, x in mine if x["amount"] is not None]
        profile = {
            "n": len(mine), "buys": len(buys), "total": sum(amounts, 0.0),
            "avg_amount": sum(amounts) / len(amounts) if amounts else None,
            "biggest": max(amounts, default=None), "smallest": min(amounts, default=None),
            "last_amount": max(with_amount)[2] if with_amount else None,
            "last_buy": max((x["ts"] for x in buys), default=None),
            "buys_10m": sum(1 for x in buys if t - W10_MS < x["ts"] <= t),
            "spent_10m": sum((x["amount"] for _, x in mine
                              if x["amount"] is not None and t - W10_MS < x["ts"] <= t), 0.0),
        }
        coarse = {
            "buys_10m": sum(1 for x in buys if _bucket(t) - W10_MS < _bucket(x["ts"]) <= _bucket(t)),
            "spent_1h": sum((x["amount"] for _, x in mine if x["amount"] is not None
                             and _bucket(t) - H1_MS < _bucket(x["ts"]) <= _bucket(t)), 0.0),
        }
        every[e["id"]] = {"p": profile, "c": coarse}
        condition = None if e["kind"] == "view" else profile["spent_10m"] >= LEVEL
        if condition is True and not fired.get(e["customer_id"]):
            alerts[e["id"]] = {"spent": profile["spent_10m"]}
        if condition is not None:
            fired[e["customer_id"]] = condition
    return {"every": every, "alerts": alerts, "late": late}


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> tuple[str, dict, list[dict]]:
    base: Path = tmp_path_factory.mktemp("profile")
    events = make_events()
    (base / "profile_e2e.yaml").write_text(SCENARIO, encoding="utf-8")
    (base / "tx.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return str(base / "profile_e2e.yaml"), {"tx": str(base / "tx.jsonl")}, events


@pytest.fixture(params=ENGINES)
def result(request, case, harness_run, flink_run) -> RunResult:
    engine = harness_run if request.param == "harness" else flink_run
    return engine(case[0], case[1])


def test_the_input_exercises_what_matters(case) -> None:
    events = case[2]
    expected = oracle(events)
    arrival_inversions = sum(1 for a, b in zip(events, events[1:], strict=False) if b["ts"] < a["ts"])
    assert arrival_inversions > 30 and len(expected["late"]) == 3
    by_key: dict[str, list[int]] = {}
    for e in events:
        by_key.setdefault(e["customer_id"], []).append(e["ts"])
    edges = sum(1 for ts in by_key.values() for t in ts if t - W10_MS in ts)  # an event exactly W before another
    assert edges > 0 and len(expected["alerts"]) >= 3
    # arrival order matters for the rolling sum: some event sees less than all its key's events would give
    assert any(v["p"]["spent_10m"] != sum(x["amount"] or 0 for x in events if x["customer_id"] == e["customer_id"]
                                          and e["ts"] - W10_MS < x["ts"] <= e["ts"] and not x["id"].startswith("late"))
               for e in events if (v := expected["every"].get(e["id"])))


def test_every_profile_value_matches_the_oracle(case, result) -> None:
    expected = oracle(case[2])
    got = {a["event_id"]: a["payload"] for a in result.actions if a["node"] == "every"}
    assert got.keys() == expected["every"].keys()
    wrong = {k: (got[k], v) for k, v in expected["every"].items() if got[k] != v}
    assert not wrong, f"{len(wrong)} events differ, e.g. {next(iter(wrong.items()))}"


def test_threshold_fires_once_and_rearms_as_the_oracle_says(case, result) -> None:
    expected = oracle(case[2])
    got = {a["event_id"]: a["payload"] for a in result.actions if a["node"] == "alert"}
    assert got == expected["alerts"]
    n = len(case[2]) - len(expected["late"])
    assert result.counts["once"] == {**result.counts["once"], "in": n, "out": len(got), "filtered": n - len(got)}


def test_late_events_are_dead_letters_at_the_profile(case, result) -> None:
    expected = oracle(case[2])
    assert sorted(d["raw"]["id"] for d in result.dead_letter) == sorted(expected["late"])
    assert {d["node"] for d in result.dead_letter} == {"prof"}
    assert all(d["error"].startswith("late event: ") for d in result.dead_letter)
    total = len(case[2])
    assert result.counts["prof"] == {**result.counts["prof"], "in": total, "out": total - 3, "dead_letter": 3,
                                     "late": 3}
