"""sequence and absence on the embedded Flink engine: exact outputs from the brute-force oracle
(tests/patterns_oracle.py) on input shuffled within the out-of-orderness plus late events, counts per node.

One job holds all four variants (absence, absence with restart, sequence, sequence with restart) behind a
split, so the input runs once through Flink. The same file also runs on a harness whose watermark only moves
at the end of input (timers fire only then): the patterns decide by event time, so it must not matter.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.runtime.harness import Harness
from tests import patterns_oracle as oracle

ROOT = Path(__file__).resolve().parents[2]
CART = ROOT / "scenarios" / "abandoned_cart"
OOO, WITHIN = 2 * oracle.MIN, 30 * oracle.MIN

SCENARIO = """\
name: patterns_e2e
sources:
  shop:
    schema: {event_id: string, customer_id: string, type: string, product: string, price: float, ts: timestamp}
    key: customer_id
    time: ts
    id: event_id
    out_of_orderness: 2m
nodes:
  - {id: fork, type: split}
  - {id: gone, type: absence, from: fork, first: "type = 'cart_add'", absent: "type = 'checkout'", within: 30m}
  - {id: gone_alert, type: action, channel: absence, payload: {product: product}}
  - {id: gone_r, type: absence, from: fork, first: "type = 'cart_add'", absent: "type = 'checkout'",
     within: 30m, restart: true}
  - {id: gone_r_alert, type: action, channel: absence_restart, payload: {product: product}}
  - {id: seq, type: sequence, from: fork, first: "type = 'cart_add'", then: "type = 'checkout'",
     where: price >= cart.price, as: cart, within: 30m}
  - {id: seq_alert, type: action, channel: sequence, payload: {product: cart.product, paid: price}}
  - {id: seq_r, type: sequence, from: fork, first: "type = 'cart_add'", then: "type = 'checkout'",
     where: price >= cart.price, as: cart, within: 30m, restart: true}
  - {id: seq_r_alert, type: action, channel: sequence_restart, payload: {product: cart.product, paid: price}}
"""


def is_add(e):
    return e["type"] == "cart_add"


def is_checkout(e):
    return e["type"] == "checkout"


def covers(b, a):
    return b["price"] >= a["price"]


def arrival() -> list[dict]:
    rng = random.Random(2026)
    events = oracle.generate(rng, 240, 6, ("cart_add", "cart_add", "checkout", "view"))
    out = oracle.shuffled_within(events, OOO, rng)
    for _ in range(12):  # delivered long after their time: late
        out.append(out.pop(rng.randrange(len(out) // 2)))
    return out


def expected_by_channel(events: list[dict]) -> dict[str, list[tuple]]:
    def gone(restart):
        return sorted((a["event_id"], oracle.iso(d), a["product"])
                      for a, d in oracle.absence(events, OOO, WITHIN, is_add, is_checkout, restart=restart))

    pairs = oracle.sequence_restart(events, OOO, WITHIN, is_add, is_checkout, where=covers)
    return {"absence": gone(False), "absence_restart": gone(True),
            "sequence_restart": sorted((f"{a['event_id']}>{b['event_id']}", oracle.iso(b["_t"]), a["product"])
                                       for a, b in pairs)}


def by_channel(actions: list[dict]) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for r in actions:
        out.setdefault(r["channel"], []).append((r["event_id"], r["time"], r["payload"]["product"]))
    return {k: sorted(v) for k, v in out.items()}


def check(actions: list[dict], dead: list[dict], counts: dict, events: list[dict]) -> None:
    got = by_channel(actions)
    for channel, expected in expected_by_channel(events).items():
        assert got.get(channel, []) == expected, channel
        assert expected, f"{channel}: the input must exercise it"
    # sequence (no restart): exactly the A's with a matching B complete, each with one of its candidates
    candidates = oracle.sequence_candidates(events, OOO, WITHIN, is_add, is_checkout, where=covers)
    completed = {r["event_id"].split(">")[0]: r for r in actions if r["channel"] == "sequence"}
    assert sorted(completed) == sorted(candidates) and candidates
    for a_id, record in completed.items():
        b_id = record["event_id"].split(">")[1]
        [b] = [b for b in candidates[a_id] if b["event_id"] == b_id]
        assert record["payload"]["paid"] == b["price"] and record["time"] == oracle.iso(b["_t"])
    _, late = oracle.split_late(events, OOO)
    assert late, "the input must hold late events"
    late_ids = sorted(e["event_id"] for e in late)
    for node in ("gone", "gone_r", "seq", "seq_r"):
        assert sorted(_raw(d)["event_id"] for d in dead if d["node"] == node) == late_ids, node
        c = counts[node]
        assert c["in"] == c["out"] + c["filtered"] + c["dead_letter"] + c["held"], (node, c)
        assert c["late"] == len(late) and c["in"] == len(events)
    assert counts["gone"]["emitted"] == len(expected_by_channel(events)["absence"])


def _raw(dead: dict) -> dict:
    return json.loads(dead["raw"]) if isinstance(dead["raw"], str) else dead["raw"]


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> tuple[Path, Path, list[dict]]:
    base = tmp_path_factory.mktemp("patterns")
    events = arrival()
    (base / "patterns_e2e.yaml").write_text(SCENARIO)
    (base / "events.jsonl").write_text("".join(line + "\n" for line in oracle.lines(events)))
    return base / "patterns_e2e.yaml", base / "events.jsonl", events


class LazyHarness(Harness):
    """The watermark only moves at the end of input: every timer fires then (a valid Flink schedule too)."""

    def feed(self, source: str, line: str) -> None:
        self.enter(source, line)  # lateness from the line's file-run stamp, timers not advanced


def test_lazy_watermark_gives_the_oracles_outputs(case) -> None:
    path, events_file, events = case
    harness = LazyHarness(make_plan(load(str(path))))
    for line in events_file.read_text().splitlines():
        harness.feed("shop", line)
    result = harness.finish()
    check(result.actions, result.dead_letter, result.counts, events)


@pytest.mark.flink
def test_flink_gives_the_oracles_outputs(case, flink_run, harness_run) -> None:
    path, events_file, events = case
    flink = flink_run(path, {"shop": str(events_file)})
    check(flink.actions, flink.dead_letter, flink.counts, events)
    harness = harness_run(path, {"shop": str(events_file)})
    assert (flink.actions, flink.dead_letter, flink.counts) == (harness.actions, harness.dead_letter, harness.counts)


@pytest.mark.flink
def test_flink_abandoned_cart_equals_the_oracle(flink_run) -> None:
    from tests.unit.test_patterns import cart_expected_actions

    result = flink_run(CART / "abandoned_cart.yaml", {"shop": str(CART / "events.jsonl")})
    assert result.actions == cart_expected_actions()
    assert sorted(d["node"] for d in result.dead_letter) == ["abandoned", "shop"]
    assert result.counts["abandoned"] == {"in": 21, "out": 0, "filtered": 9, "dead_letter": 1, "held": 11,
                                          "emitted": 6, "late": 1}
    assert result.counts["remind"]["in"] == result.counts["remind"]["out"] == 6
