"""kairos test: traced paths, counts equal to the untraced harness, rich and JSON output."""

from __future__ import annotations

import json
from pathlib import Path

from jobs.cli import main
from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.runtime.files import bind_references, merged_inputs, resolve_event_files
from jobs.runtime.harness import run_in_process
from jobs.sandbox.trace import trace_run

ROOT = Path(__file__).resolve().parents[2]
FRAUD = ROOT / "scenarios" / "card_fraud_velocity"
BANK = ROOT / "scenarios" / "low_balance_offer"
BANK_ARGS = [str(BANK / "low_balance_offer.yaml"), "--events", f"atm={BANK / 'events.jsonl'}",
             "--changelog", f"profiles={BANK / 'profiles.jsonl'}"]


def _inputs(path, events, changelogs=()):
    graph = load(str(path))
    plan = make_plan(graph)
    bind_references(plan, {})
    return plan, list(merged_inputs(graph.scenario, resolve_event_files(graph.scenario, events, list(changelogs))))


def test_tracing_changes_nothing_the_engine_does() -> None:
    for path, events, changelogs in ((FRAUD / "card_fraud_velocity.yaml", [str(FRAUD / "events.jsonl")], ()),
                                     (BANK / "low_balance_offer.yaml", [f"atm={BANK / 'events.jsonl'}"],
                                      [f"profiles={BANK / 'profiles.jsonl'}"])):
        plan, inputs = _inputs(path, events, changelogs)
        plain = run_in_process(plan, inputs)
        traced = trace_run(plan, inputs)
        assert traced.counts == plain.counts
        assert (traced.actions, traced.detected, traced.dead_letter) == (plain.actions, plain.detected,
                                                                          plain.dead_letter)
        # every output is attributed to exactly one traced event
        for kind in ("actions", "detected", "dead_letter"):
            assert sum(len(getattr(t, kind)) for t in traced.events) == len(getattr(plain, kind))


def test_paths_show_outcomes_variables_and_errors() -> None:
    plan, inputs = _inputs(FRAUD / "card_fraud_velocity.yaml", [str(FRAUD / "events.jsonl")])
    traced = trace_run(plan, inputs)
    by_id = {t.id: t for t in traced.events if t.id}
    alert = by_id["t6"]
    assert [s.node for s in alert.steps] == ["card_present", "velocity", "risk", "record", "high_only",
                                            "alert_fraud_team"]
    velocity = alert.steps[1]
    assert velocity.vars["txn_count"] == 4 and velocity.vars["card_id"] == "card-1"
    assert alert.steps[2].vars["risk"] == "high"
    assert alert.actions[0]["channel"] == "fraud_alert" and alert.detected[0]["fields"]["risk"] == "high"
    medium = by_id["t3"]
    assert (medium.steps[-1].node, medium.steps[-1].outcome, medium.steps[-1].ports) == ("high_only", "filtered",
                                                                                         ["false"])
    late = by_id["t8"]
    assert late.steps[-1].outcome == "late" and "watermark" in late.steps[-1].error
    assert late.dead_letter[0]["node"] == "velocity"
    broken = [t for t in traced.events if t.id is None]
    assert broken and all(t.dead_letter and not t.steps for t in broken)
    assert traced.edges[("risk", "out", "high_only")] == 3


def test_cli_json(capsys) -> None:
    assert main(["test", *BANK_ARGS, "--json", "--limit", "5"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["scenario"] == "low_balance_offer" and data["input_lines"] == 15 and len(data["events"]) == 5
    assert data["counts"]["reachable"] == {"in": 7, "out": 5, "filtered": 2, "dead_letter": 0, "held": 0,
                                           "emitted": 0, "late": 0}
    e1 = next(e for e in data["events"] if e["id"] == "e1")
    assert [s["node"] for s in e1["path"]] == ["insufficient_funds", "profile", "reachable", "offer", "send_sms",
                                               "log_offer"]
    assert e1["path"][3]["vars"]["product"] == "personal_loan"
    assert e1["actions"][0]["payload"]["product"] == "personal_loan"
    assert {"from": "offer", "port": "out", "to": "send_sms", "count": 5} in data["edges"]


def test_cli_rich_output(capsys) -> None:
    assert main(["test", *BANK_ARGS, "--all"]) == 0
    out = capsys.readouterr().out
    for text in ("insufficient_funds", "reachable", "filtered", "product", "personal_loan", "dead letter",
                 "expected float", "profiles update", "3 actions"):
        assert text in out, text
    assert "more input lines not shown" not in out
    assert main(["test", *BANK_ARGS, "--limit", "2"]) == 0
    assert "13 more input lines not shown" in capsys.readouterr().out


def test_cli_input_errors(capsys) -> None:
    assert main(["test", str(BANK / "low_balance_offer.yaml"), "--events", "nope.jsonl"]) == 2
    assert "kairos test:" in capsys.readouterr().err
