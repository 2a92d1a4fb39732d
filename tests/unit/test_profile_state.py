"""profile state stays bounded (rolling buckets are evicted lazily), `key:` groups profiles, threshold nulls.

Run in the in-process harness, whose state is the same per-key ValueState / MapState the Flink job uses
(the e2e tests in tests/e2e/test_profile.py compare the values with an oracle on both engines)."""

from __future__ import annotations

import json
import random

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.runtime.files import bind_references, canonical
from jobs.runtime.harness import Harness, run_in_process

HEADER = """\
name: t
sources:
  tx:
    schema: {id: string, customer_id: string, amount: float, country: string, ts: timestamp}
    key: customer_id
    time: ts
    id: id
    out_of_orderness: 2m
nodes:
"""
MIN_MS = 60_000


def plan_of(body: str):
    plan = make_plan(load("t.yaml", HEADER + body))
    bind_references(plan, {})
    return plan


def test_rolling_buckets_are_evicted_and_bounded():
    plan = plan_of("""\
  - id: prof
    type: profile
    ttl: 1d
    resolution: 1m
    fields: {n10: {kind: rolling_count, window: 10m}, s10: {kind: rolling_sum, of: amount, window: 10m}}
  - {id: out, type: detected, fields: {n10: profile.n10}}
""")
    harness = Harness(plan)
    rng, t, biggest, max_ts, fed = random.Random(5), 1_767_261_600_000, 0, None, {}
    for i in range(3000):  # ~25 hours of events for 3 customers, shuffled within the out of orderness
        t += rng.randint(0, 60_000)
        ts = t - rng.randint(0, 100_000)
        key = f"c{i % 3}"
        harness.feed("tx", json.dumps({"id": f"e{i}", "customer_id": key, "amount": 1.0, "country": "PL", "ts": ts}))
        # the watermark as the event saw it (file runs: the max time before it - out of orderness - 1)
        watermark = max_ts - 2 * MIN_MS - 1 if max_ts is not None else None
        max_ts = max(max_ts, ts) if max_ts is not None else ts
        buckets = [b for (_, k, node, name), m in harness.rt.maps.items()
                   if (k, node, name) == (key, "prof", "buckets") for b in m]
        if watermark is None:
            fed.setdefault(key, set()).add(ts - ts % MIN_MS)
            continue
        # a bucket is kept exactly while an on-time event (time > watermark) may still have it in its window
        first = watermark + 1
        reachable_from = first - first % MIN_MS - 10 * MIN_MS
        fed.setdefault(key, set()).add(ts - ts % MIN_MS)
        assert sorted(buckets) == sorted(b for b in fed[key] if b > reachable_from)
        biggest = max(biggest, len(buckets))
    result = harness.finish()
    assert result.dead_letter == [] and len(result.detected) == 3000
    # kept: (bucket(watermark + 1) - 10m, newest time], newest <= watermark + 2m + 1 min step: 14 buckets at most,
    # where 3000 events over 25 hours would leave ~500 minute buckets a customer without eviction
    assert 10 <= biggest <= 14


def test_key_option_keeps_one_profile_per_value():
    plan = plan_of("""\
  - id: by_country
    type: profile
    key: country
    ttl: 1d
    fields: {n: {kind: count}, last_customer: {kind: last, of: customer_id}}
  - {id: out, type: action, channel: log, payload: {n: profile.n, last: profile.last_customer}}
""")
    rows = [("c1", "PL", 0), ("c2", "PL", 1000), ("c3", "DE", 2000), ("c1", "DE", 3000), ("c4", "PL", 4000)]
    lines = [("tx", json.dumps({"id": str(i), "customer_id": c, "amount": 1.0, "country": k, "ts": ts}))
             for i, (c, k, ts) in enumerate(rows)]
    payloads = [a["payload"] for a in canonical(run_in_process(plan, lines).actions)]
    assert payloads == [{"n": 1, "last": "c1"}, {"n": 2, "last": "c2"}, {"n": 1, "last": "c3"},
                        {"n": 2, "last": "c1"}, {"n": 3, "last": "c4"}]


def test_threshold_null_neither_fires_nor_rearms():
    plan = plan_of("""\
  - {id: big, type: threshold, condition: amount > 100}
  - {id: alert, type: action, channel: log, payload: {amount: amount}}
""")
    amounts = [150.0, None, 120.0, 50.0, None, 130.0, 140.0]  # fires at 150; null, 120: nothing; 50 re-arms
    lines = [("tx", json.dumps({"id": str(i), "customer_id": "c1", "amount": a, "country": "PL", "ts": i * 1000}))
             for i, a in enumerate(amounts)]
    result = run_in_process(plan, lines)
    assert [a["payload"]["amount"] for a in canonical(result.actions)] == [150.0, 130.0]
    assert result.counts["big"] == {**result.counts["big"], "in": 7, "out": 2, "filtered": 5}
