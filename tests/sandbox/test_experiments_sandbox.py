"""kairos test and kairos graph on the experiment example: the trace shows each event's variant and bandit arm
(checked against the hash oracle and the arm list), hold-outs show their holdout detection, and the graph
draws both node types with their summaries."""

from __future__ import annotations

from pathlib import Path

from jobs.cli import main
from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.runtime.files import merged_inputs, resolve_event_files
from jobs.runtime.harness import run_in_process
from jobs.sandbox.graph import render_svg
from jobs.sandbox.trace import trace_run
from tests.experiment_oracle import assign

EXAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "topup_offer_test"
YAML = EXAMPLE / "topup_offer_test.yaml"
FILES = [f"usage={EXAMPLE / 'usage.jsonl'}", f"conversions={EXAMPLE / 'conversions.jsonl'}"]
WEIGHTS = {"fixed": 45, "learned": 45, "control": 10}


def _traced():
    graph = load(str(YAML))
    plan = make_plan(graph)
    inputs = list(merged_inputs(graph.scenario, resolve_event_files(graph.scenario, FILES, [])))
    return trace_run(plan, inputs), run_in_process(plan, inputs)


def test_trace_shows_variant_and_arm() -> None:
    traced, plain = _traced()
    assert traced.counts == plain.counts and traced.actions == plain.actions
    seen = {"fixed": 0, "learned": 0, "control": 0}
    for event in traced.events:
        steps = {s.node: s for s in event.steps}
        if "strategy" not in steps:
            continue
        msisdn = event.event["msisdn"]
        variant = assign("topup_strategy_2026q4", msisdn, WEIGHTS)
        seen[variant] += 1
        assert steps["strategy"].vars["variant"] == variant
        assert steps["strategy"].ports == ["out", variant]
        if variant == "learned":
            arm = steps["pick_bundle"].vars["bundle"]
            assert arm in ("data_5gb", "voice_300", "topup_10") and steps["pick_bundle"].ports == ["out", arm]
            assert [a["experiments"] for a in event.actions] == [{"topup_strategy_2026q4": "learned",
                                                                   "pick_bundle": arm}]
        elif variant == "control":
            assert event.actions == [] and [d["kind"] for d in event.detected] == ["holdout"]
            assert event.detected[0]["fields"]["would_have_sent"] is True
        else:
            assert steps["fixed_bundle"].vars["bundle"] == "data_5gb" and "pick_bundle" not in steps
    assert min(seen.values()) >= 3  # the sample exercises all three groups


def test_conversions_show_as_feedback() -> None:
    traced, _ = _traced()
    feedback = [e for e in traced.events if e.source == "conversions"]
    assert feedback and all([(s.node, s.outcome, s.ports) for s in e.steps] == [("pick_bundle", "filtered",
                                                                                 ["feedback"])] for e in feedback)


def test_graph_draws_both_nodes(tmp_path, capsys) -> None:
    svg = render_svg(load(str(YAML)))
    assert "strategy" in svg and "fixed 45 / learned 45 / control 10" in svg
    assert "pick_bundle" in svg and "Thompson: data_5gb, voice_300, topup_10 ← conversions" in svg
    out = tmp_path / "g.html"
    assert main(["graph", str(YAML), "-o", str(out)]) == 0 and "pick_bundle" in out.read_text()
