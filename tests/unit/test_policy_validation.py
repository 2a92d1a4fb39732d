"""The contact policy and cancel_if: every mistake is file:line:col at validate time; the policy rules at unit level."""

from __future__ import annotations

import json

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.lang.errors import ScenarioError
from jobs.runtime.harness import run_in_process

HEADER = """\
name: t
sources:
  atm:
    schema: {id: string, customer_id: string, requested: float, tz: string, ok: bool, ts: timestamp}
    key: customer_id
    time: ts
    id: id
  deposits:
    schema: {customer_id: string, amount: float, ts: timestamp}
    key: customer_id
    time: ts
"""
ACTION = """\
nodes:
  - id: send
    type: action
    from: atm
    channel: sms
    delay: 5s
    payload: {r: requested}
"""


def errors_of(text: str, path: str = "s.yaml") -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load(path, text)
    return [str(d) for d in info.value.diagnostics]


def test_policy_mistakes_are_positioned():
    policy = """\
policy:
  ttl: 1h
  cooldown: 2h
  cap: 3
  caps:
    - {max: 0, per: 1h}
    - {max: 1, per: 0s}
  quiet_hours: {start: "22:00", end: 6, time_zone: tz, default_time_zone: Mars/Base}
"""
    got = errors_of(HEADER + policy + ACTION)
    assert "s.yaml:15:3: unknown field 'cap' in the policy (did you mean 'caps'?)" in got
    assert "s.yaml:17:13: 'max' in a cap must be at least 1" in got
    assert "s.yaml:18:21: 'per' in a cap must be longer than 0" in got
    assert ("s.yaml:19:75: 'Mars/Base' is not a known time zone (an IANA name such as Europe/Warsaw)") in got
    assert any(e.startswith("s.yaml:14:13: the cooldown") and "longer than the policy's state ttl" in e for e in got)


def test_policy_expressions_are_typed_at_each_action():
    policy = """\
policy:
  consent: {sms: profile.sms_consent}
  quiet_hours: {start: "22:00", end: "06:00", time_zone: zone}
"""
    got = errors_of(HEADER + policy + ACTION)
    assert any(e.startswith("s.yaml:13:18: policy consent for 'sms'") for e in got), got
    assert any(e.startswith("s.yaml:14:58: policy time_zone") for e in got), got


def test_a_shared_policy_file_reports_its_own_positions(tmp_path):
    (tmp_path / "contact.yaml").write_text("cooldown: 0s\nquiet_hours: {start: '9pm', end: '06:00'}\n")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(HEADER + "policy: contact.yaml\n" + ACTION)
    got = errors_of(scenario.read_text(), str(scenario))
    shared = tmp_path / "contact.yaml"
    assert f"{shared}:1:11: 'cooldown' in the policy must be longer than 0" in got
    assert any(e.startswith(f"{shared}:2:23: 'start' of quiet_hours must be a local time 'HH:MM'") for e in got)
    (tmp_path / "contact.yaml").write_text("cooldown: 1h\n")
    assert load(str(scenario)).scenario.policy.cooldown_ms == 3_600_000


def test_cancel_if_mistakes_are_positioned():
    action = ACTION + """\
    cancel_if: {source: deposit, condition: amount >= trigger.requestd}
  - id: now
    type: action
    from: atm
    channel: push
    payload: {r: requested}
    cancel_if: {source: atm, condition: "true"}
"""
    got = errors_of(HEADER + action)
    assert "s.yaml:19:25: unknown source 'deposit' (did you mean 'deposits'?)" in got
    assert "s.yaml:25:16: 'cancel_if' needs a 'delay': only a delayed action can be cancelled" in got
    good = HEADER + ACTION + "    cancel_if: {source: deposits, condition: amount >= trigger.requestd}\n"
    assert any(e.startswith("s.yaml:19:") and "requestd" in e for e in errors_of(good))
    same = HEADER + ACTION + "    cancel_if: {source: atm, condition: 'true'}\n"
    assert errors_of(same) == ["s.yaml:19:16: source 'atm' already reaches 'send' through 'from': the events it "
                               "reads besides its input (cancel_if, feedback) must come from a source of their own"]


def _run(text: str, lines: list[tuple[str, dict]]):
    plan = make_plan(load("s.yaml", text))
    return run_in_process(plan, [(s, json.dumps(e)) for s, e in lines])


def test_quiet_hours_hold_until_they_end_in_the_customers_zone():
    # 21:30 UTC is 22:30 in Warsaw (UTC+1 in November): held until 06:00 Warsaw = 05:00 UTC; in UTC it goes
    policy = 'policy: {quiet_hours: {start: "22:00", end: "06:00", time_zone: tz}}\n'
    def atm(i, zone, ts):
        return "atm", {"id": i, "customer_id": f"c-{i}", "requested": 1.0, "tz": zone, "ts": f"2026-11-02T{ts}Z"}
    result = _run(HEADER + policy + ACTION, [atm("a", "Europe/Warsaw", "21:30:00"), atm("b", None, "21:30:00"),
                                             atm("c", "Nowhere/City", "21:31:00")])
    assert sorted((a["event_id"], a["time"]) for a in result.actions) == [
        ("a", "2026-11-03T05:00:00.000Z"), ("b", "2026-11-02T21:30:05.000Z")]
    assert [(d["node"], d["error"]) for d in result.dead_letter] == [
        ("send", "invalid time zone 'Nowhere/City': not an IANA zone name such as Europe/Warsaw")]
    assert result.counts["send"] == {"in": 3, "out": 2, "filtered": 0, "dead_letter": 1, "held": 0, "emitted": 0,
                                     "late": 0}


def test_drop_consent_cooldown_and_cap_reasons():
    policy = """\
policy:
  cooldown: 1m
  caps: [{max: 2, per: 1h, channel: sms}]
  consent: {sms: ok}
  quiet_hours: {start: "23:00", end: "01:00", then: drop}
"""
    def atm(i, minute, ok=True):
        return ("atm", {"id": f"e{i}", "customer_id": "c1", "requested": 1.0, "ok": ok,
                        "ts": f"2026-11-02T22:{minute:02d}:00Z"})
    # e1 sent 22:00:05; e2 (22:00:30) same offer within 1m: cooldown; e3 no consent; e4 22:10 sent (2nd);
    # e5 22:20: third in the hour: cap; e6 at 23:00 is quiet: dropped
    lines = [atm(1, 0), ("atm", {**atm(2, 0)[1], "ts": "2026-11-02T22:00:30Z"}), atm(3, 5, ok=False), atm(4, 10),
             atm(5, 20), ("atm", {**atm(6, 0)[1], "ts": "2026-11-02T23:00:00Z"})]
    result = _run(HEADER + policy + ACTION, lines)
    assert [a["event_id"] for a in result.actions] == ["e1", "e4"]
    assert [(d["event_id"], d["kind"], d["fields"]["reason"]) for d in result.detected] == [
        ("e2", "contact_suppressed", "cooldown"), ("e3", "contact_suppressed", "no_consent"),
        ("e5", "contact_suppressed", "cap"), ("e6", "contact_suppressed", "quiet_hours")]
