"""`pii: true` schema fields are masked in detections and dead letters (the in-process harness runs the same
executor and outputs code as the Flink job)."""

from __future__ import annotations

import json

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.lang.errors import ScenarioError
from jobs.runtime.harness import run_in_process

SCENARIO = """\
name: pii_demo
sources:
  atm:
    schema:
      event_id: string
      customer_id: string
      phone: {type: string, pii: true}
      name: {type: string, pii: false}
      amount: float
      ts: timestamp
    key: customer_id
    time: ts
    id: event_id
nodes:
  - {id: ratio, type: filter, condition: amount / (amount - 5) > 0}
  - {id: seen, type: detected, kind: seen, fields: {amount: amount}}
  - {id: sms, type: action, from: ratio, channel: sms, to: phone, payload: {amount: amount}}
"""


def _plan(tmp_path, text=SCENARIO):
    path = tmp_path / "pii.yaml"
    path.write_text(text)
    return make_plan(load(str(path)))


def line(eid, amount, phone="+48600111222", **extra):
    return json.dumps({"event_id": eid, "customer_id": "c1", "phone": phone, "name": "Ann", "amount": amount,
                       "ts": "2026-11-02T10:00:00Z", **extra})


def test_pii_fields_are_masked_in_detections_and_dead_letters(tmp_path):
    plan = _plan(tmp_path)
    assert plan.scenario.sources["atm"].pii == frozenset({"phone"})
    result = run_in_process(plan, [("atm", line("e1", 10.0)), ("atm", line("e2", 5.0)),
                                   ("atm", line("e3", "ten")), ("atm", line("e4", 7.0, phone=None))])
    [detection, unphoned] = result.detected
    assert detection["event"]["phone"] == "***" and detection["event"]["name"] == "Ann"
    assert unphoned["event"]["phone"] is None  # nothing to hide: null stays null
    assert result.actions[0]["to"] == "+48600111222"  # the action still reaches the customer
    by_event = {d["node"]: d for d in result.dead_letter}
    assert by_event["ratio"]["raw"]["phone"] == "***"  # the division by zero on e2
    assert json.loads(by_event["atm"]["raw"])["phone"] == "***"  # e3 did not decode: its raw line, masked
    assert "+48600111222" not in json.dumps(result.dead_letter + result.detected)


def test_pii_must_be_a_boolean(tmp_path):
    with pytest.raises(ScenarioError, match="pii must be true or false"):
        _plan(tmp_path, SCENARIO.replace("pii: true", "pii: yes please"))
