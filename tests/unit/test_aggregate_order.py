"""aggregate `order: event_time` on the in-process harness: exact results from a brute-force oracle.

The oracle reads the whole input: which events are late (tests/patterns_oracle.split_late: the file-run
watermark), then for each on-time event the aggregates over every on-time event of its key with time in
(t - size, t] (Flink SQL's OVER ... RANGE BETWEEN INTERVAL size PRECEDING AND CURRENT ROW, ties included).
Input: seeded random events on a minute grid (many ties), shuffled within the out-of-orderness, plus events
delivered long after their time (late: dead letters). The same scenario holds an `order: arrival` twin, which
must differ from the oracle on this input (else the input would not test anything).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.lang.errors import ScenarioError
from jobs.runtime.harness import Harness
from tests import patterns_oracle as oracle

OOO, SIZE = 2 * oracle.MIN, 10 * oracle.MIN
AGGS = "{n: count(), total: sum(price), hi: max(price), lo: min(price), named: count(product)}"
SCENARIO = f"""\
name: agg_order
sources:
  pay:
    schema: {{event_id: string, customer_id: string, type: string, product: string, price: float, ts: timestamp}}
    key: customer_id
    time: ts
    id: event_id
    out_of_orderness: 2m
nodes:
  - {{id: fork, type: split}}
  - {{id: exact, type: aggregate, from: fork, window: sliding, size: 10m, order: event_time, aggregations: {AGGS}}}
  - {{id: exact_out, type: action, channel: exact, payload: {{n: n, total: total, hi: hi, lo: lo, named: named}}}}
  - {{id: seen, type: aggregate, from: fork, window: sliding, size: 10m, aggregations: {AGGS}}}
  - {{id: seen_out, type: action, channel: arrival, payload: {{n: n, total: total, hi: hi, lo: lo, named: named}}}}
"""


def arrival(seed: int, n: int = 200, keys: int = 4) -> list[dict]:
    rng = random.Random(seed)
    # prices are whole numbers: float sums are exact whatever order the engine merges them in
    events = oracle.generate(rng, n, keys, ("cart_add", "view", "view"), step_ms=oracle.MIN // 2)
    out = oracle.shuffled_within(events, OOO, rng)
    for _ in range(n // 20):  # delivered long after their time: late
        out.append(out.pop(rng.randrange(len(out) // 2)))
    return out


def expected(events: list[dict]) -> dict[str, dict]:
    """{event_id: payload} for every on-time event."""
    on_time, _ = oracle.split_late(events, OOO)
    out = {}
    for e in on_time:
        window = [w for w in on_time if w["customer_id"] == e["customer_id"] and e["_t"] - SIZE < w["_t"] <= e["_t"]]
        prices = [w["price"] for w in window]
        out[e["event_id"]] = {"n": len(window), "total": sum(prices), "hi": max(prices), "lo": min(prices),
                              "named": sum(1 for w in window if w["product"] is not None)}
    return out


def release_order(events: list[dict]) -> dict[str, list[str]]:
    """Per key, the on-time events by time, ties in arrival order."""
    on_time, _ = oracle.split_late(events, OOO)
    ranked = sorted(enumerate(on_time), key=lambda p: (p[1]["_t"], p[0]))
    out: dict[str, list[str]] = {}
    for _, e in ranked:
        out.setdefault(e["customer_id"], []).append(e["event_id"])
    return out


def check(actions: list[dict], dead: list[dict], counts: dict, events: list[dict]) -> None:
    want = expected(events)
    got = {r["event_id"]: r["payload"] for r in actions if r["channel"] == "exact"}
    assert len([r for r in actions if r["channel"] == "exact"]) == len(got)  # each event once
    assert got == want
    seen = {r["event_id"]: r["payload"] for r in actions if r["channel"] == "arrival"}
    assert seen.keys() == want.keys() and seen != want, "the input must make arrival order differ"
    _, late = oracle.split_late(events, OOO)
    assert late, "the input must hold late events"
    for node in ("exact", "seen"):
        dead_ids = sorted(json.loads(d["raw"])["event_id"] if isinstance(d["raw"], str) else d["raw"]["event_id"]
                          for d in dead if d["node"] == node)
        assert dead_ids == sorted(e["event_id"] for e in late), node
    c = counts["exact"]
    assert c["in"] == c["out"] + c["filtered"] + c["dead_letter"] + c["held"], c
    assert (c["in"], c["held"], c["emitted"], c["late"], c["out"]) == (len(events), len(want), len(want), len(late), 0)
    assert counts["exact_out"]["in"] == len(want)


def write_case(base: Path, events: list[dict]) -> tuple[Path, Path]:
    (base / "agg_order.yaml").write_text(SCENARIO)
    (base / "events.jsonl").write_text("".join(line + "\n" for line in oracle.lines(events)))
    return base / "agg_order.yaml", base / "events.jsonl"


@pytest.mark.parametrize("seed", [1, 7, 2026])
def test_event_time_order_equals_the_oracle(seed, tmp_path, harness_run) -> None:
    events = arrival(seed)
    path, events_file = write_case(tmp_path, events)
    result = harness_run(path, {"pay": str(events_file)})
    check(result.actions, result.dead_letter, result.counts, events)


def test_released_in_event_time_order_ties_in_arrival_order(tmp_path) -> None:
    events = arrival(5)
    path, events_file = write_case(tmp_path, events)
    harness = Harness(make_plan(load(str(path))))
    for line in events_file.read_text().splitlines():
        harness.feed("pay", line)
    result = harness.finish()
    by_key: dict[str, list[str]] = {}
    for r in result.actions:
        if r["channel"] == "exact":
            by_key.setdefault(r["to"], []).append(r["event_id"])
    want = release_order(events)
    assert by_key == want
    assert any(len({e["_t"] for e in events if e["customer_id"] == k}) < len(ids) for k, ids in want.items())


def test_same_timestamp_events_see_each_other(tmp_path, harness_run) -> None:
    # hand-worked: a, b at 10:00 (b arrives first), c and d after a later event but within the 2m of
    # out-of-orderness; e at 10:10 excludes 10:00 (its window is (10:00, 10:10])
    rows = [("b", "10:00", 2.0), ("c", "10:02", 4.0), ("a", "10:00", 1.0), ("d", "10:01", 8.0), ("e", "10:10", 16.0)]
    events = [{"event_id": i, "customer_id": "k", "type": "view", "product": None, "price": p,
               "ts": f"2026-11-02T{t}:00Z"} for i, t, p in rows]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (tmp_path / "agg_order.yaml").write_text(SCENARIO)
    result = harness_run(tmp_path / "agg_order.yaml", {"pay": str(tmp_path / "events.jsonl")})
    got = {r["event_id"]: (r["payload"]["n"], r["payload"]["total"]) for r in result.actions if r["channel"] == "exact"}
    assert got == {"a": (2, 3.0), "b": (2, 3.0), "d": (3, 11.0), "c": (4, 15.0), "e": (3, 28.0)}
    seen = {r["event_id"]: (r["payload"]["n"], r["payload"]["total"]) for r in result.actions
            if r["channel"] == "arrival"}
    assert seen == {"b": (1, 2.0), "c": (2, 6.0), "a": (2, 3.0), "d": (3, 11.0), "e": (3, 28.0)}


BAD = """\
name: bad
sources:
  pay: {{schema: {{customer_id: string, price: float, ts: timestamp}}, key: customer_id, time: ts}}
nodes:
  - {{id: agg, type: aggregate, window: {window}, {length}: 10m, emit: {emit}, order: {order},
     aggregations: {{n: count()}}}}
"""


@pytest.mark.parametrize("window,emit", [("tumbling", "on_event"), ("tumbling", "on_close"), ("session", "on_close")])
def test_event_time_order_outside_sliding_is_a_located_error(window, emit, tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD.format(window=window, length="gap" if window == "session" else "size", emit=emit,
                               order="event_time"))
    with pytest.raises(ScenarioError) as info:
        load(str(path))
    text = str(info.value)
    assert f"{path}:5:" in text and "order: event_time applies to sliding windows" in text


def test_order_is_a_choice(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD.format(window="sliding", length="size", emit="on_event", order="time"))
    with pytest.raises(ScenarioError) as info:
        load(str(path))
    assert f"{path}:5:" in str(info.value) and "event_time" in str(info.value)


class LazyHarness(Harness):
    """The watermark only moves at the end of input: every timer fires then. In a Flink file run, lateness
    follows the line's stamp, which may be ahead of Flink's watermark (docs/time.md): the timers lag."""

    def feed(self, source: str, line: str) -> None:
        self.enter(source, line)  # lateness from the line's file-run stamp, timers not advanced


@pytest.mark.parametrize("seed", [3, 11])
def test_timers_lagging_the_stamps_give_the_oracles_outputs(seed, tmp_path) -> None:
    events = arrival(seed)
    path, events_file = write_case(tmp_path, events)
    harness = LazyHarness(make_plan(load(str(path))))
    for line in events_file.read_text().splitlines():
        harness.feed("pay", line)
    result = harness.finish()
    check(result.actions, result.dead_letter, result.counts, events)
