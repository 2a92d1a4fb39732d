"""kairos test / graph on the pattern nodes: each event's decision is visible (held, cancelled, unmatched,
ignored, late, emitted on its deadline), and the graph box says what the node looks for."""

from __future__ import annotations

import json
from pathlib import Path

from jobs.cli import main
from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.runtime.harness import run_in_process
from jobs.sandbox.trace import trace_run

ROOT = Path(__file__).resolve().parents[2]
CART = ROOT / "scenarios" / "abandoned_cart"


def _traced():
    plan = make_plan(load(str(CART / "abandoned_cart.yaml")))
    inputs = [("shop", line) for line in (CART / "events.jsonl").read_text().splitlines()]
    return plan, inputs, trace_run(plan, inputs)


def test_trace_shows_each_events_decision_at_the_pattern() -> None:
    plan, inputs, traced = _traced()
    plain = run_in_process(plan, inputs)
    assert traced.counts == plain.counts and traced.actions == plain.actions
    by_id = {t.id: t for t in traced.events if t.id}
    first = [(s.node, s.outcome, s.ports, s.timer) for s in by_id["e01"].steps]
    # the cart_add waits, then its deadline timer releases it to the reminder, attributed to the same event
    assert first == [("abandoned", "held", [], False), ("abandoned", "emitted", ["out"], True),
                     ("remind", "out", [], True)]
    assert by_id["e01"].actions[0]["time"] == "2026-11-02T10:30:00.000Z"
    assert by_id["e01"].steps[1].vars["product"] == "shoes"

    def last(event_id):
        step = by_id[event_id].steps[-1]
        return step.outcome, step.ports

    assert last("e02") == ("held", []) and by_id["e02"].actions == []  # cancelled later by e05
    assert last("e05") == ("filtered", ["cancelled"])  # the checkout that cancelled it
    assert last("e06") == ("filtered", ["unmatched"])  # a checkout before any cart_add: kept a while
    assert last("e04") == ("filtered", ["cancelled"])  # its checkout arrived first (out of order)
    assert last("e03") == ("filtered", ["ignored"])  # a page view
    assert last("e18")[0] == "late" and "watermark" in by_id["e18"].steps[-1].error


def test_kairos_test_json_and_graph_summary(capsys, tmp_path) -> None:
    assert main(["test", str(CART / "abandoned_cart.yaml"), "--events", str(CART / "events.jsonl"),
                 "--json", "--all"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["abandoned"]["emitted"] == 6 and report["totals"]["actions"] == 6
    out = tmp_path / "cart.html"
    assert main(["graph", str(CART / "abandoned_cart.yaml"), "-o", str(out)]) == 0
    assert "type = &#x27;cart_add&#x27; and no type = &#x27;checkout&#x27; within 30m" in out.read_text()


def test_trace_of_a_sequence_shows_a_values_on_the_completing_b() -> None:
    from tests.unit.test_patterns import HEADER, ev, sequence_nodes

    plan = make_plan(load("p.yaml", HEADER + sequence_nodes()))
    traced = trace_run(plan, [("shop", ev("a1", "cart_add", 0, 50)), ("shop", ev("v", "view", 1)),
                              ("shop", ev("b", "checkout", 2, 60)), ("shop", ev("b2", "checkout", 3, 70))])
    a1, view, b, b2 = traced.events
    assert [(s.outcome, s.ports) for s in a1.steps] == [("held", [])]
    assert [(s.outcome, s.ports) for s in view.steps] == [("filtered", ["ignored"])]
    assert [(s.node, s.outcome) for s in b.steps] == [("bought", "out"), ("thanks", "out")]
    assert b.steps[0].vars["cart"]["product"] == "p-a1" and b.steps[0].vars["price"] == 60.0
    assert b.actions[0]["payload"] == {"product": "p-a1", "paid": 60.0}
    assert [(s.outcome, s.ports) for s in b2.steps] == [("filtered", ["unmatched"])]  # a1 is completed already
