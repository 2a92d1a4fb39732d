"""kairos test on the telco example: the trace shows each event's profile and the threshold's decision."""

from __future__ import annotations

from pathlib import Path

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.runtime.files import bind_references, merged_inputs, resolve_event_files
from jobs.runtime.harness import run_in_process
from jobs.sandbox.trace import trace_run

TELCO = Path(__file__).resolve().parents[2] / "scenarios" / "telco_topup_offer"


def _traced():
    graph = load(str(TELCO / "telco_topup_offer.yaml"))
    plan = make_plan(graph)
    bind_references(plan, {})
    events = resolve_event_files(graph.scenario, [f"usage={TELCO / 'usage.jsonl'}"], [])
    inputs = list(merged_inputs(graph.scenario, events))
    return trace_run(plan, inputs), run_in_process(plan, inputs)


def test_trace_shows_profiles_and_threshold_ports() -> None:
    traced, plain = _traced()
    assert traced.counts == plain.counts and traced.actions == plain.actions
    by_id = {t.id: t for t in traced.events if t.id}
    u10 = by_id["u10"]  # +48500100004's call at 10:30:30, arriving after u09 (10:31) and the top-up t01 (10:30:10)
    step = {s.node: s for s in u10.steps}
    assert step["subscriber"].vars["profile"] == {"calls_week": 1, "last_topup": 1793615410000, "usage_events": 3,
                                                  "spent_30m": 8.5}  # u08 8.0 + u10 0.5: u09 is later in time
    assert (step["usage_drop"].outcome, step["usage_drop"].ports) == ("out", ["out"])
    assert [a["channel"] for a in u10.actions] == ["crm"]
    u18 = {s.node: s for s in by_id["u18"].steps}  # still under 9 PLN, but +48500100002 was alerted at u05
    assert u18["subscriber"].vars["profile"]["spent_30m"] == 1.2
    assert (u18["usage_drop"].outcome, u18["usage_drop"].ports) == ("filtered", ["rest"])
    t01 = {s.node: s for s in by_id["t01"].steps}  # a top-up: in the profile, not billable
    assert t01["subscriber"].vars["profile"]["last_topup"] == 1793615410000 and t01["billable"].outcome == "filtered"
    late = by_id["u17"]
    assert (late.steps[-1].node, late.steps[-1].outcome) == ("subscriber", "late")
