"""experiment: stable weighted assignment, a hold-out recorded instead of sent, the variant on every output,
and every bad parameter as a file:line:col error. Expected values come from the definition (hash
arithmetic done here, shares from the weights), never from a saved run."""

from __future__ import annotations

import json
import textwrap
from collections import Counter

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.lang.errors import ScenarioError
from jobs.nodes.variants import assign, unit_hash
from jobs.runtime.harness import run_in_process
from tests.experiment_oracle import assign as oracle

HEADER = """\
name: ab
sources:
  tx:
    schema: {id: string, customer_id: string, amount: float, ts: timestamp}
    key: customer_id
    time: ts
    id: id
"""


def errors_of(body: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load("s.yaml", HEADER + textwrap.dedent(body))
    return [str(d) for d in info.value.diagnostics]


def run(body: str, events: list[dict]):
    plan = make_plan(load("s.yaml", HEADER + textwrap.dedent(body)))
    return run_in_process(plan, [("tx", json.dumps(e)) for e in events])


def events(n: int, offset: int = 0) -> list[dict]:
    return [{"id": f"e{i}", "customer_id": f"c{i}", "amount": 1.0, "ts": 1000 * i} for i in range(offset, offset + n)]


def test_errors_at_their_place():
    found = errors_of("""\
        nodes:
          - id: ab
            type: experiment
            variants: {a: -1, b: x, out: 3}
            control: -5
          - {id: send, type: action, from: ab.c, channel: sms, payload: {v: variant}}
        """)
    text = "\n".join(found)
    assert "s.yaml:11:19: the weight of variant 'a' must not be negative, got -1" in text
    assert "s.yaml:11:26: the weight of variant 'b' must be a number, not 'x'" in text
    assert "s.yaml:11:29: variant name 'out' is reserved" in text
    assert "s.yaml:12:14: 'control' must not be negative, got -5" in text


def test_unknown_variant_downstream_and_zero_sum():
    found = errors_of("""\
        nodes:
          - {id: ab, type: experiment, variants: {cashback: 1, bonus: 1}}
          - {id: send, type: action, from: ab.cashbak, channel: sms, payload: {v: variant}}
        """)
    assert found == ["s.yaml:10:36: node 'ab' has no port 'cashbak' (ports: out, cashback, bonus) "
                     "(did you mean 'cashback'?)"]
    found = errors_of("""\
        nodes:
          - {id: ab, type: experiment, variants: {a: 0, b: 0.0}, control: 5}
          - {id: send, type: action, channel: sms, payload: {v: variant}}
        """)
    assert found == ["s.yaml:9:42: the variants' weights must sum to a positive number"]


def test_assignment_is_the_documented_hash_and_matches_the_weights():
    weights = {"a": 50, "b": 30, "control": 20}
    result = run("""\
        nodes:
          - {id: ab, type: experiment, name: q4_test, variants: {a: 50, b: 30}, control: 20}
          - {id: send, type: action, channel: sms, payload: {v: variant}}
        """, events(4000))
    sent = {a["to"]: a["payload"]["v"] for a in result.actions}
    held = {d["key"]: d for d in result.detected if d["kind"] == "holdout"}
    for i in range(4000):
        want = oracle("q4_test", f"c{i}", weights)
        assert (held[f"c{i}"]["experiments"] == {"q4_test": "control"}) if want == "control" else \
            sent[f"c{i}"] == want
    shares = Counter(oracle("q4_test", f"c{i}", weights) for i in range(4000))
    for variant, weight in weights.items():  # binomial: 4 standard deviations at n = 4000 is under 3.2 points
        assert abs(shares[variant] / 4000 - weight / 100) < 0.032
    assert len(sent) + len(held) == 4000 and result.dead_letter == []


def test_holdout_is_recorded_not_sent_and_variant_is_on_every_output():
    result = run("""\
        nodes:
          - {id: ab, type: experiment, variants: {a: 1}, control: 1}
          - {id: send, type: action, channel: sms, delay: 5s, payload: {v: variant}}
          - {id: seen, type: detected, from: ab}
        """, events(200))
    holdouts = [d for d in result.detected if d["kind"] == "holdout"]
    contacts = [d for d in result.detected if d["kind"] == "contact"]
    assert {a["to"] for a in result.actions} == {d["key"] for d in contacts}
    assert not {a["to"] for a in result.actions} & {d["key"] for d in holdouts}
    assert len(result.actions) + len(holdouts) == 200 and 60 < len(holdouts) < 140
    for d in holdouts:  # recorded at the time it would have been sent: after the delay
        assert d["fields"]["would_have_sent"] is True and d["fields"]["payload"] == {"v": "control"}
        assert d["id"] == f"ab:send:{d['event_id']}"
        assert d["time"] == json.loads(json.dumps(d))["time"]
    for a in result.actions:
        assert a["experiments"] == {"ab": "a"}
    for d in result.detected:
        assert d["experiments"] == {"ab": "control" if d["kind"] == "holdout" else d["experiments"]["ab"]}
    seen = [d for d in result.detected if d["kind"] == "seen"]
    assert len(seen) == 200 and {d["experiments"]["ab"] for d in seen} == {"a", "control"}


def test_holdout_goes_through_the_delay():
    result = run("""\
        nodes:
          - {id: ab, type: experiment, variants: {a: 1}, control: 1000000}
          - {id: send, type: action, channel: sms, delay: 5s, payload: {v: variant}}
        """, events(3))
    assert result.actions == []
    assert [d["time"] for d in result.detected] == [f"1970-01-01T00:00:0{5 + i}.000Z" for i in range(3)]


def moved_fraction(old: dict, new: dict, keys: list[str]) -> float:
    return sum(assign("exp", k, old) != assign("exp", k, new) for k in keys) / len(keys)


def minimum_moves(old: dict, new: dict) -> float:
    """The fewest customers any scheme must move: the total variation distance between the two shares."""
    so, sn = sum(old.values()), sum(new.values())
    return sum(abs(old.get(v, 0) / so - new.get(v, 0) / sn) for v in {*old, *new}) / 2


def ranges_scheme(key: str, weights: dict) -> str:
    """The naive scheme, for comparison: one point in [0, 1), cumulative ranges in variant-name order."""
    u, total, acc = unit_hash("exp", key), sum(weights.values()), 0.0
    for variant in sorted(weights):
        acc += weights[variant] / total
        if u < acc:
            return variant
    return sorted(weights)[-1]


@pytest.mark.parametrize("old, new, minimal", [
    ({"a": 50, "b": 50}, {"a": 60, "b": 40}, True),
    ({"a": 45, "b": 45, "control": 10}, {"a": 45, "b": 45, "c": 10, "control": 10}, True),  # a new variant
    ({"a": 10, "b": 45, "c": 45}, {"a": 20, "b": 40, "c": 40}, True),  # one grows, the others shrink alike
    ({"a": 30, "b": 30, "c": 30, "control": 10}, {"a": 40, "b": 30, "c": 20, "control": 10}, False),
    ({"a": 25, "b": 25, "c": 25, "d": 25}, {"a": 10, "b": 25, "c": 25, "d": 40}, False),
])
def test_changing_weights_moves_only_the_customers_it_must(old, new, minimal):
    keys = [f"cust-{i}" for i in range(20_000)]
    moved, needed = moved_fraction(old, new, keys), minimum_moves(old, new)
    naive = sum(ranges_scheme(k, old) != ranges_scheme(k, new) for k in keys) / len(keys)
    # one sd of a fraction at n = 20,000 is under 0.4 points
    if minimal:  # one variant grows (or is added) and the rest shrink in proportion: exactly the minimum
        assert abs(moved - needed) < 0.012, (moved, needed)
    else:  # two change in opposite directions: some of the others' customers swap too, never 2x the minimum
        assert needed - 0.012 < moved < 1.5 * needed, (moved, needed)
    assert moved <= naive + 0.012, (moved, naive)
    # nobody moves between two variants whose weights stayed
    untouched = {v for v in old if old[v] == new.get(v)}
    for k in keys[:5000]:
        before, after = assign("exp", k, old), assign("exp", k, new)
        assert not (before in untouched and after in untouched and before != after)


def test_a_null_key_is_a_dead_letter_and_counts_add_up():
    result = run("""\
        nodes:
          - {id: ab, type: experiment, key: "if(amount > 5, null, customer_id)", variants: {a: 1, b: 1}}
          - {id: send, type: action, channel: sms, payload: {v: variant}}
        """, [{"id": "e1", "customer_id": "c1", "amount": 9.0, "ts": 0},
              {"id": "e2", "customer_id": "c2", "amount": 1.0, "ts": 1}])
    assert [d["error"] for d in result.dead_letter] == [
        "the experiment key is null: the event cannot be assigned a variant"]
    assert result.dead_letter[0]["raw"]["id"] == "e1" and [a["event_id"] for a in result.actions] == ["e2"]
    counts = result.counts["ab"]
    assert (counts["in"], counts["out"], counts["dead_letter"]) == (2, 1, 1)
