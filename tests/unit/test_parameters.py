"""Live parameters: declarations (errors at line:col), typed references, validation of changes, and the exact
event from which a change applies (in-process harness, hand-worked cases)."""

from __future__ import annotations

import json

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.lang.errors import ScenarioError
from jobs.lang.parameters import Parameter, ParamType, check_value, parse_text
from jobs.runtime.harness import Harness, run_in_process
from jobs.runtime.live_params import CONTROL_INPUT, LiveParameters, param_message

HEAD = """name: p
{parameters}sources:
  tx:
    schema: {{id: string, who: string, amount: float, label: string, ts: timestamp}}
    key: who
    time: ts
    id: id
nodes:
  - id: f
    type: filter
    condition: {condition}
  - id: d
    type: detected
    fields: {{amount: amount}}
"""
GOOD = """parameters:
  min_amount: {type: float, default: 500, min: 0}
  enabled: {type: bool, default: true}
"""


def errors(parameters: str, condition: str = "amount > 0") -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        load("s.yaml", HEAD.format(parameters=parameters, condition=condition))
    return [str(d) for d in caught.value.diagnostics]


@pytest.mark.parametrize("declaration, at, expected", [
    # (line 3 of the file, `at`: the text the error must point to, the start of the message)
    ("  x: {type: decimal, default: 1}", "decimal", "'type' in parameter 'x' must be one of float, int, string, "
                                                    "bool, not 'decimal'"),
    ("  x: {type: int, default: 1.5}", "1.5", "the default of parameter 'x' (int) must be a whole number"),
    ("  x: {type: float, default: '5'}", "5'", "the default of parameter 'x' (float) must be a number"),
    ("  x: {type: string, default: a, min: 1}", "1}", "parameter 'x': 'min' is only for float and int"),
    ("  x: {type: int, default: 5, min: 9, max: 1}", "1}", "parameter 'x': max 1 is below min 9"),
    ("  x: {type: int, default: 50, max: 10}", "50", "the default of parameter 'x' must be at most 10"),
    ("  x: {type: string, default: c, allowed: [a, 2]}", "2]", "parameter 'x': allowed value must be text"),
    ("  x: {type: string, default: c, allowed: [a, b]}", "c,", "the default of parameter 'x' must be one of"),
    ("  x: {type: int}", "{", "parameter 'x' needs 'default'"),
    ("  x: {type: int, default: 1, unit: ms}", "unit", "unknown field 'unit' in parameter 'x'"),
    ("  9x: {type: int, default: 1}", "9x", "'9x' is not a valid parameter name"),
    ("  x: 5", "5", "parameter 'x' must be a mapping"),
])
def test_bad_declarations_are_errors_at_line_and_column(declaration, at, expected):
    found = errors(f"parameters:\n{declaration}\n")
    assert any(e.startswith(f"s.yaml:3:{declaration.index(at) + 1}: {expected}") for e in found), found


def test_an_unknown_parameter_is_an_error_where_it_is_named():
    found = errors(GOOD, "amount > param.min_amont")
    # line 14, the condition's text starts at column 16: 'min_amont' is 15 characters in
    assert found == ["s.yaml:14:31: condition: record has no field 'min_amont' (did you mean 'min_amount'?)"], found


def test_references_are_type_checked():
    found = errors(GOOD, "param.enabled > 5")
    assert found == ["s.yaml:14:30: condition: cannot compare bool with int"], found  # at the '>'

    assert errors("", "amount > param.min_amount")[0].startswith("s.yaml:11:25: condition: "
                                                                 "unknown name 'param'")


def test_a_source_field_named_param_collides():
    text = HEAD.format(parameters=GOOD, condition="true").replace("label: string", "param: string")
    with pytest.raises(ScenarioError, match="source 'tx' has a field 'param'"):
        load("s.yaml", text)


def test_check_value_types_ranges_and_allowed_values():
    amount = Parameter("min_amount", ParamType.FLOAT, 500.0, min=0.0, max=1000.0)
    assert check_value(amount, 750) == (750.0, "")
    assert check_value(amount, "lots")[1] == "parameter 'min_amount' (float) must be a number (float), not 'lots'"
    assert check_value(amount, True)[1].startswith("parameter 'min_amount' (float) must be a number")
    assert check_value(amount, -1)[1] == "parameter 'min_amount' must be at least 0.0, not -1"
    assert check_value(amount, 1e9)[1] == "parameter 'min_amount' must be at most 1000.0, not 1000000000.0"
    assert check_value(amount, float("nan"))[1].endswith("must be a finite number, not nan")
    count = Parameter("n", ParamType.INT, 3)
    assert check_value(count, 2.5)[1] == "parameter 'n' (int) must be a whole number (int), not 2.5"
    assert check_value(count, 2**63)[1].endswith("is outside the signed 64-bit range")
    switch = Parameter("enabled", ParamType.BOOL, True)
    assert check_value(switch, 1)[1] == "parameter 'enabled' (bool) must be true or false, not 1"
    channel = Parameter("c", ParamType.STRING, "sms", allowed=("sms", "email"))
    assert check_value(channel, "email") == ("email", "")
    assert check_value(channel, "fax")[1] == "parameter 'c' must be one of 'sms', 'email', not 'fax'"
    assert parse_text(count, "7") == 7 and parse_text(amount, "7") == 7 and parse_text(switch, "False") is False
    assert parse_text(count, "x") == "x"


def test_a_change_is_a_detection_and_a_bad_one_a_dead_letter():
    live = LiveParameters("p", {"n": Parameter("n", ParamType.INT, 3, min=1)})
    values, name, out = live.apply({"n": 3}, json.dumps(param_message("p", "n", 5, "r1", "t")), now_ms=0)
    assert values == {"n": 5} and name == "n"
    [(kind, detection)] = out
    assert kind == "detected" and detection["kind"] == "parameter_changed" and detection["id"] == "p:parameters:r1"
    assert detection["fields"] == {"parameter": "n", "old": "3", "new": "5", "requested_at": "t"}
    for message, reason in [(param_message("p", "n", 0, "r", "t"), "must be at least 1"),
                            (param_message("p", "n", "5", "r", "t"), "(int) must be a number"),
                            (param_message("p", "m", 5, "r", "t"), "unknown parameter 'm' (declared: n)"),
                            ({"type": "param", "scenario": "p", "name": "n"}, "without a 'value'")]:
        values, _, [(kind, letter)] = live.apply({"n": 3}, json.dumps(message))
        assert values is None and kind == "dead_letter" and reason in letter["error"], letter
        assert letter["node"] == "parameters" and letter["raw"] == json.dumps(message)
    assert live.apply({"n": 3}, "{not json")[2][0][1]["error"].startswith("control message is not JSON")
    # not this job's: another scenario's change, an erase request
    assert live.apply({"n": 3}, json.dumps(param_message("q", "n", 5, "r", "t"))) == (None, None, [])
    assert live.apply({"n": 3}, json.dumps({"type": "erase", "key": "k"})) == (None, None, [])


SCENARIO = HEAD.format(parameters=GOOD, condition="param.enabled and amount >= param.min_amount")


def tx(i: int, amount: float) -> tuple[str, str]:
    return "tx", json.dumps({"id": f"e{i}", "who": "w", "amount": amount, "label": "x", "ts": 1000 * i})


def change(name: str, value) -> tuple[str, str]:
    return CONTROL_INPUT, json.dumps(param_message("p", name, value, f"{name}={value}", "t"))


def test_a_change_applies_from_the_next_event():
    plan = make_plan(load("s.yaml", SCENARIO))
    events = [tx(1, 300), tx(2, 600), change("min_amount", 250), tx(3, 300), change("min_amount", "x"),
              tx(4, 260), change("enabled", False), tx(5, 900)]
    result = run_in_process(plan, events)
    flagged = [d["event_id"] for d in result.detected if d["kind"] == "d"]
    assert flagged == ["e2", "e3", "e4"]  # by hand: 600 >= 500; then 300, 260 >= 250; then switched off
    changes = [(d["fields"]["old"], d["fields"]["new"]) for d in result.detected if d["kind"] == "parameter_changed"]
    assert changes == [("500.0", "250.0"), ("true", "false")]
    [letter] = result.dead_letter
    assert "keeps 250.0" in letter["error"]


def test_defaults_without_changes_and_nothing_for_a_scenario_without_parameters():
    plan = make_plan(load("s.yaml", SCENARIO))
    assert [d["event_id"] for d in run_in_process(plan, [tx(1, 499.5), tx(2, 500)]).detected] == ["e2"]
    plain = make_plan(load("s.yaml", HEAD.format(parameters="", condition="amount > 0")))
    harness = Harness(plain)
    assert all(e.params is None for e in harness.executors)
    harness.feed(*tx(1, 5))
    assert "param" not in harness.finish().detected[0]["event"]


EXPERIMENT = """name: p
parameters:
  w_new: {type: float, default: 0, min: 0}
  w_old: {type: float, default: 100, min: 0}
  label: {type: string, default: x}
sources:
  tx:
    schema: {id: string, who: string, ts: timestamp}
    key: who
    time: ts
    id: id
nodes:
  - id: split
    type: experiment
    variants: {old_offer: param.w_old, new_offer: WEIGHT}
  - id: d
    type: detected
    fields: {variant: variant}
"""


def test_variant_weights_can_be_live_parameters():
    plan = make_plan(load("s.yaml", EXPERIMENT.replace("WEIGHT", "param.w_new")))
    customers = [f"c{i}" for i in range(40)]
    events = [("tx", json.dumps({"id": f"a{i}", "who": c, "ts": i})) for i, c in enumerate(customers)]
    events.append((CONTROL_INPUT, json.dumps(param_message("p", "w_new", 100, "r1", "t"))))
    events.append((CONTROL_INPUT, json.dumps(param_message("p", "w_old", 0, "r2", "t"))))
    events += [("tx", json.dumps({"id": f"b{i}", "who": c, "ts": 100 + i})) for i, c in enumerate(customers)]
    result = run_in_process(plan, events)
    variants = {d["event_id"]: d["fields"]["variant"] for d in result.detected if d["kind"] == "d"}
    # by hand: weights 100 / 0 send everyone to old_offer; after the changes (0 / 100) everyone to new_offer
    assert {variants[f"a{i}"] for i in range(40)} == {"old_offer"}
    assert {variants[f"b{i}"] for i in range(40)} == {"new_offer"}


def test_a_weight_parameter_must_be_a_number_that_is_never_negative():
    for weight, message in [("param.nope", "unknown parameter 'nope'"),
                            ("param.label", "parameter 'label' must be a float or int with min >= 0")]:
        with pytest.raises(ScenarioError) as caught:
            load("s.yaml", EXPERIMENT.replace("WEIGHT", weight))
        [diagnostic] = caught.value.diagnostics
        assert str(diagnostic).startswith("s.yaml:15:51: the weight of variant 'new_offer': " + message), diagnostic
