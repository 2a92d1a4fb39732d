"""Live parameters on the embedded Flink engine: `kairos run --control FILE` applies each change in order of
its time with the events, and the in-process harness (kairos test's engine) agrees with the job.

The expected outputs come from an oracle in this test: it replays the events in time order, applying each
control message whose `ts` is at or before the event (a valid one changes the value, an invalid one is a dead
letter and changes nothing), and computes the alerts and the sliding counts by hand-written rules.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.runtime.files import canonical, timed_inputs
from jobs.runtime.harness import run_in_process
from jobs.runtime.live_params import with_control

pytestmark = pytest.mark.flink
SCENARIO = Path(__file__).resolve().parents[1] / "integration" / "scenarios" / "live_params" / "live_threshold.yaml"
DEFAULTS = {"min_amount": 500.0, "min_count": 3, "alerts_on": True}
CHECKS = {"min_amount": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 100000,
          "min_count": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
          "alerts_on": lambda v: isinstance(v, bool)}


def at(minute: int, second: int = 0) -> str:
    return f"2026-11-02T10:{minute:02d}:{second:02d}Z"


EVENTS = [  # time order per customer, within 10 minutes: a sliding count is the customer's events so far
    ("a1", "ann", 100.0, at(0)), ("b1", "bob", 520.0, at(0, 30)), ("a2", "ann", 300.0, at(1)),
    ("b2", "bob", 300.0, at(2)), ("a3", "ann", 450.0, at(3)), ("c1", "cat", 260.0, at(3, 30)),
    ("b3", "bob", 700.0, at(4)), ("a4", "ann", 800.0, at(5)), ("c2", "cat", 900.0, at(6)),
]
CONTROL = [  # (ts, name, value): at 10:02 the threshold drops to 250; a bad one at 10:03; alerts off at 10:05
    (at(2), "min_amount", 250), (at(3), "min_amount", "cheap"), (at(3), "min_count", 2),
    (at(5), "alerts_on", False), (at(5, 30), "nope", 1),
]


def oracle() -> tuple[dict, dict, list, int]:
    values, changes, letters = dict(DEFAULTS), [], 0
    alerts, frequent, seen = {}, {}, {}
    pending = sorted(CONTROL, key=lambda c: c[0])  # stable: file order on a tie
    for eid, who, amount, ts in sorted(EVENTS, key=lambda e: e[3]):
        while pending and pending[0][0] <= ts:  # a change at time T applies to the events at T and after
            _, name, value = pending.pop(0)
            if name in CHECKS and CHECKS[name](value):
                changes.append((name, json.dumps(values[name]), json.dumps(float(value) if name == "min_amount"
                                                                             else value)))
                values[name] = float(value) if name == "min_amount" else value
            else:
                letters += 1
        seen[who] = seen.get(who, 0) + 1
        if values["alerts_on"] and amount >= values["min_amount"]:
            alerts[eid] = {"amount": amount, "threshold": values["min_amount"]}
        if seen[who] >= values["min_count"]:
            frequent[eid] = {"n": seen[who], "min_count": values["min_count"]}
    return alerts, frequent, changes, letters + len(pending)


def test_changes_in_a_file_run_apply_in_time_order(tmp_path):
    from jobs.flink.embedded import run_files

    events, control = tmp_path / "events.jsonl", tmp_path / "control.jsonl"
    events.write_text("".join(json.dumps({"txn_id": e, "customer_id": w, "amount": a, "ts": t}) + "\n"
                              for e, w, a, t in EVENTS))
    control.write_text("".join(json.dumps({"type": "param", "scenario": "live_threshold", "name": n, "value": v,
                                           "id": f"r{i}", "ts": t}) + "\n" for i, (t, n, v) in enumerate(CONTROL)))
    plan = make_plan(load(str(SCENARIO)))
    summary = run_files(plan, {"tx": str(events)}, str(tmp_path / "out"), control=str(control))
    merged = with_control(timed_inputs(plan.scenario, {"tx": str(events)}), str(control))
    harness = run_in_process(make_plan(load(str(SCENARIO))), ((s, line) for s, line, _, _ in merged))
    alerts, frequent, changes, letters = oracle()
    for actions, detected, dead in ((summary.outputs["actions"], summary.outputs["detected"],
                                     summary.outputs["dead_letter"]),
                                    (harness.actions, harness.detected, harness.dead_letter)):
        assert {a["id"].rsplit(":", 1)[1]: a["payload"] for a in actions} == alerts
        assert {d["event_id"]: d["fields"] for d in detected if d["kind"] == "frequent"} == frequent
        assert [(d["fields"]["parameter"], d["fields"]["old"], d["fields"]["new"])
                for d in canonical([d for d in detected if d["kind"] == "parameter_changed"])] == changes
        assert len(dead) == letters and all(d["node"] == "parameters" for d in dead), dead
    # by hand: b2 (300 at 10:02) is the first event the new threshold applies to; a3 (10:03) the first count of 2
    assert "b2" in alerts and "a2" not in alerts and frequent["a3"]["min_count"] == 2 and "a4" not in alerts
