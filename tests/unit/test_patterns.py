"""sequence and absence on the in-process harness: exact outputs from the brute-force oracle
(tests/patterns_oracle.py) on shuffled input within the out-of-orderness and on late input; counts; errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.lang.errors import ScenarioError
from jobs.runtime.harness import run_in_process
from tests import patterns_oracle as oracle

ROOT = Path(__file__).resolve().parents[2]
CART = ROOT / "scenarios" / "abandoned_cart"
HEADER = """\
name: p
sources:
  shop:
    schema: {event_id: string, customer_id: string, type: string, product: string, price: float, ts: timestamp}
    key: customer_id
    time: ts
    id: event_id
    out_of_orderness: 2m
nodes:
"""
OOO, WITHIN = 2 * oracle.MIN, 30 * oracle.MIN


def run(nodes: str, lines: list[str]):
    plan = make_plan(load("p.yaml", HEADER + nodes))
    return run_in_process(plan, [("shop", line) for line in lines])


def absence_nodes(restart: bool = False, where: str | None = None) -> str:
    extra = (f"    restart: {str(restart).lower()}\n" if restart else "") + (f"    where: {where}\n" if where else "")
    return ("  - id: gone\n    type: absence\n    first: type = 'cart_add'\n    absent: type = 'checkout'\n"
            f"    within: 30m\n{extra}"
            "  - {id: remind, type: action, channel: push, payload: {product: product}}\n")


def sequence_nodes(restart: bool = False) -> str:
    extra = f"    restart: {str(restart).lower()}\n" if restart else ""
    return ("  - id: bought\n    type: sequence\n    first: type = 'cart_add'\n    then: type = 'checkout'\n"
            f"    where: price >= cart.price\n    as: cart\n    within: 30m\n{extra}"
            "  - {id: thanks, type: action, channel: email, payload: {product: cart.product, paid: price}}\n")


def is_add(e):
    return e["type"] == "cart_add"


def is_checkout(e):
    return e["type"] == "checkout"


def covers(b, a):
    return b["price"] >= a["price"]


def reminders(expected):
    return sorted((a["event_id"], oracle.iso(deadline), a["product"]) for a, deadline in expected)


def got_reminders(result):
    return sorted((r["event_id"], r["time"], r["payload"]["product"]) for r in result.actions)


def assert_counts_identity(counts):
    for node, c in counts.items():
        assert c["in"] == c["out"] + c["filtered"] + c["dead_letter"] + c["held"], (node, c)


def late_ids(result):
    return sorted(json.loads(d["raw"])["event_id"] if isinstance(d["raw"], str) else d["raw"]["event_id"]
                  for d in result.dead_letter if "late event" in d["error"])


# -- the example scenario -----------------------------------------------------------------------------------
def cart_expected_actions() -> list[dict]:
    """What abandoned_cart must send, from the oracle: one push per cart_add with no checkout in 30 minutes."""
    events = oracle.parse((CART / "events.jsonl").read_text().splitlines())
    found = oracle.absence(events, OOO, WITHIN, is_add, is_checkout)
    out = [{"id": f"abandoned_cart:remind:{a['event_id']}", "scenario": "abandoned_cart", "node": "remind",
            "channel": "push", "to": a["customer_id"], "event_id": a["event_id"], "time": oracle.iso(deadline),
            "payload": {"product": a["product"], "price": a["price"],
                        "text": f"Still thinking about {a['product']}? It is waiting in your cart."}}
           for a, deadline in found]
    return sorted(out, key=lambda r: (r["time"], json.dumps(r, sort_keys=True)))


def test_abandoned_cart_expected_file_is_the_oracles() -> None:
    saved = [json.loads(x) for x in (CART / "expected" / "actions.jsonl").read_text().splitlines() if x.strip()]
    assert saved == cart_expected_actions()
    assert [a["event_id"] for a in saved] == ["e01", "e07", "e12", "e13", "e17", "e22"]


def test_abandoned_cart_on_the_harness_gives_the_oracles_actions() -> None:
    from tests.conftest import harness_run
    result = harness_run(CART / "abandoned_cart.yaml", {"shop": str(CART / "events.jsonl")})
    assert result.actions == cart_expected_actions()
    assert late_ids(result) == ["e18"]  # 11:10 after the watermark passed 11:17: cancels nothing
    assert len(result.dead_letter) == 2  # and the line that is not JSON
    assert_counts_identity(result.counts)
    node = result.counts["abandoned"]
    assert (node["held"], node["emitted"], node["late"]) == (11, 6, 1)


# -- random inputs against the oracle ----------------------------------------------------------------------
SEEDS = range(25)


def _random_case(seed: int):
    rng = random.Random(seed)
    events = oracle.generate(rng, 60, 3, ("cart_add", "cart_add", "checkout", "view"))
    in_order, shuffled = events, oracle.shuffled_within(events, OOO, rng)
    # a few events delivered much later than their time: late, and the oracle says which
    late = oracle.shuffled_within(events, OOO, rng)
    for _ in range(4):
        late.append(late.pop(rng.randrange(len(late) // 2)))
    return in_order, shuffled, late


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("restart", [False, True])
def test_absence_equals_the_oracle_in_any_order(seed: int, restart: bool) -> None:
    for arrival in _random_case(seed):
        expected = oracle.absence(arrival, OOO, WITHIN, is_add, is_checkout, restart=restart)
        result = run(absence_nodes(restart), oracle.lines(arrival))
        assert got_reminders(result) == reminders(expected)
        _, late = oracle.split_late(arrival, OOO)
        assert late_ids(result) == sorted(e["event_id"] for e in late)
        assert_counts_identity(result.counts)
        assert result.counts["gone"]["emitted"] == len(expected)


@pytest.mark.parametrize("seed", SEEDS)
def test_absence_where_relates_b_to_a(seed: int) -> None:
    for arrival in _random_case(seed)[:2]:
        expected = oracle.absence(arrival, OOO, WITHIN, is_add, is_checkout, where=covers)
        result = run(absence_nodes(where="price >= first.price"), oracle.lines(arrival))
        assert got_reminders(result) == reminders(expected)


@pytest.mark.parametrize("seed", SEEDS)
def test_sequence_completes_the_oracles_as(seed: int) -> None:
    in_order, shuffled, late = _random_case(seed)
    for arrival in (in_order, shuffled, late):
        candidates = oracle.sequence_candidates(arrival, OOO, WITHIN, is_add, is_checkout, where=covers)
        result = run(sequence_nodes(), oracle.lines(arrival))
        got = {r["id"].split(":")[-1].split(">")[0]: r for r in result.actions}
        assert sorted(got) == sorted(candidates)  # exactly the A's that have a matching B complete
        for a_id, record in got.items():
            b_id = record["event_id"].split(">")[1]
            assert b_id in [b["event_id"] for b in candidates[a_id]]
            [b] = [b for b in candidates[a_id] if b["event_id"] == b_id]
            assert record["payload"]["paid"] == b["price"] and record["time"] == oracle.iso(b["_t"])
            if arrival is in_order:  # in order, the first B to arrive is the earliest
                assert b_id == candidates[a_id][0]["event_id"]
        assert_counts_identity(result.counts)


@pytest.mark.parametrize("seed", SEEDS)
def test_sequence_restart_equals_the_oracle_in_any_order(seed: int) -> None:
    for arrival in _random_case(seed):
        pairs = oracle.sequence_restart(arrival, OOO, WITHIN, is_add, is_checkout, where=covers)
        result = run(sequence_nodes(restart=True), oracle.lines(arrival))
        assert sorted(r["event_id"] for r in result.actions) == sorted(f"{a['event_id']}>{b['event_id']}"
                                                                       for a, b in pairs)
        assert result.counts["bought"]["emitted"] == len(pairs)
        assert_counts_identity(result.counts)


# -- hand-worked cases ---------------------------------------------------------------------------------------
def ev(i: str, kind: str, minute: float, price: float = 10.0, key: str = "c1") -> str:
    t = oracle.ms("2026-11-02T10:00:00Z") + int(minute * oracle.MIN)
    return json.dumps({"event_id": i, "customer_id": key, "type": kind, "product": f"p-{i}", "price": price,
                       "ts": oracle.iso(t)})


def test_each_cart_add_has_its_own_deadline_unless_restart() -> None:
    lines = [ev("a1", "cart_add", 0), ev("a2", "cart_add", 10), ev("x", "view", 45)]
    assert got_reminders(run(absence_nodes(), lines)) == [("a1", "2026-11-02T10:30:00.000Z", "p-a1"),
                                                          ("a2", "2026-11-02T10:40:00.000Z", "p-a2")]
    assert got_reminders(run(absence_nodes(restart=True), lines)) == [("a2", "2026-11-02T10:40:00.000Z", "p-a2")]


def test_a_checkout_at_the_deadline_cancels_one_just_after_does_not() -> None:
    at = run(absence_nodes(), [ev("a1", "cart_add", 0), ev("b", "checkout", 30)])
    after = run(absence_nodes(), [ev("a1", "cart_add", 0), ev("b", "checkout", 30.001)])
    assert at.actions == [] and got_reminders(after) == [("a1", "2026-11-02T10:30:00.000Z", "p-a1")]


def test_a_checkout_arriving_before_its_cart_add_still_cancels_it() -> None:
    result = run(absence_nodes(), [ev("b", "checkout", 5), ev("a1", "cart_add", 4)])
    assert result.actions == [] and result.counts["gone"]["filtered"] == 2  # both: port cancelled


def test_sequence_one_b_completes_every_pending_a_it_matches() -> None:
    result = run(sequence_nodes(), [ev("a1", "cart_add", 0, 50), ev("a2", "cart_add", 1, 80),
                                    ev("b", "checkout", 2, 60)])
    assert [(r["event_id"], r["payload"]) for r in result.actions] == [("a1>b", {"product": "p-a1", "paid": 60.0})]
    result = run(sequence_nodes(), [ev("a1", "cart_add", 0, 50), ev("a2", "cart_add", 1, 80),
                                    ev("b", "checkout", 2, 90)])
    assert sorted(r["event_id"] for r in result.actions) == ["a1>b", "a2>b"]
    assert result.counts["bought"] == {"in": 3, "out": 1, "filtered": 0, "dead_letter": 0, "held": 2,
                                       "emitted": 0, "late": 0}


# -- bad scenarios: file:line:col ---------------------------------------------------------------------------
def errors_of(nodes: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load("p.yaml", HEADER + nodes)
    return [str(d) for d in info.value.diagnostics]


def test_zero_and_negative_durations_and_unknown_fields_are_located() -> None:
    assert errors_of("  - {id: g, type: absence, first: type = 'a', absent: type = 'b', within: 0s}\n"
                     "  - {id: r, type: action, channel: push, payload: {x: 1}}\n") == [
        "p.yaml:10:75: 'within' must be longer than 0"]
    [negative] = errors_of("  - {id: g, type: sequence, first: type = 'a', then: type = 'b', within: -5m}\n")
    assert negative.startswith("p.yaml:10:74: 'within' in sequence node 'g' must be a duration")
    assert errors_of("  - id: g\n    type: absence\n    first: type = 'a'\n    absent: type = 'b'\n"
                     "    within: 5m\n    witin: 5m\n") == [
        "p.yaml:15:5: unknown field 'witin' in absence node 'g' (did you mean 'within'?)"]


def test_unknown_names_in_conditions_are_located() -> None:
    errors = errors_of("  - id: g\n    type: sequence\n    first: typ = 'a'\n    then: price > cart.price\n"
                       "    where: price >= cart.prize\n    as: cart\n    within: 5m\n")
    assert errors == ["p.yaml:12:12: 'first': unknown name 'typ' (did you mean 'type'?)",
                      "p.yaml:13:11: 'then' is on B's own values; compare with A's (cart.…) in 'where'",
                      "p.yaml:14:26: 'where': record has no field 'prize' (did you mean 'price'?)"]
    [where] = errors_of("  - id: g\n    type: sequence\n    first: type = 'a'\n    then: type = 'b'\n"
                        "    where: price >= cart.prize\n    as: cart\n    within: 5m\n")
    assert where == "p.yaml:14:26: 'where': record has no field 'prize' (did you mean 'price'?)"
    [clash] = errors_of("  - {id: g, type: sequence, first: type = 'a', then: type = 'b', within: 5m, as: price}\n")
    assert clash.startswith("p.yaml:10:82: pattern name 'price' is already defined upstream")


def test_few_timers_one_per_key_in_the_usual_case(monkeypatch) -> None:
    """Registrations against one timer per A deadline and per B time (deduplicated per key and ms)."""
    from jobs.runtime.harness import MemoryRuntime

    rng = random.Random(7)
    events = oracle.shuffled_within(oracle.generate(rng, 4000, 100, ("cart_add", "cart_add", "checkout", "view"),
                                                    step_ms=1000), OOO, rng)
    naive = {(e["customer_id"], e["_t"] + WITHIN) for e in events if is_add(e)} | {
        (e["customer_id"], e["_t"]) for e in events if is_checkout(e)}
    calls = []
    original = MemoryRuntime.register_timer
    monkeypatch.setattr(MemoryRuntime, "register_timer", lambda rt, ts: (calls.append(ts), original(rt, ts)))
    for nodes in (absence_nodes(), sequence_nodes()):
        calls.clear()
        run(nodes, oracle.lines(events))
        assert len(calls) < 0.5 * len(naive), (len(calls), len(naive))


def test_cart_conversion_example_gives_the_hand_worked_pairs():
    """scenarios/cart_conversion (cart_add then checkout within 30 min, both ends included), worked by
    hand from its events.jsonl (its README has the table): c1's checkout e18 is late (it arrives after
    11:20 with 2 min out-of-orderness); c3's checkout arrives before its cart_add; c4's first cart
    (10:22) is 33 min before the checkout; c5's checkout is exactly 30 min later (included); c6's is
    31 min later; c8's first cart is 42 min before."""
    from tests.conftest import harness_run
    conv = ROOT / "scenarios" / "cart_conversion"
    result = harness_run(conv / "cart_conversion.yaml", {"shop": str(conv / "events.jsonl")})
    pairs = {(d["event_id"], d["fields"]["product"]) for d in result.detected if d["kind"] == "cart_converted"}
    assert pairs == {("e02>e05", "jacket"), ("e04>e06", "lamp"), ("e08>e09", "pen"), ("e10>e11", "mug"),
                     ("e15>e16", "kettle"), ("e19>e21", "table")}
    assert result.counts["converted"]["out"] == result.counts["log_conversion"]["out"] == 6
    assert result.counts["converted"]["late"] == 1
    assert_counts_identity(result.counts)
