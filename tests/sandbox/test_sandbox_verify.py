"""kairos verify: positioned errors in tests.yaml, partial-record matching, diffs and exit codes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jobs.cli import main
from jobs.compiler.validate import load
from jobs.lang.errors import ScenarioError
from jobs.sandbox.cases import read_cases
from jobs.sandbox.verify import assign, matches

ROOT = Path(__file__).resolve().parents[2]
BANK = ROOT / "scenarios" / "low_balance_offer" / "low_balance_offer.yaml"
EVENT = ('{event_id: e1, customer_id: c-1, atm_id: a, requested: 300.0, reason: insufficient_funds, '
         'ts: "2026-11-02T09:30:00Z"}')
PROFILE = ('{customer_id: c-1, name: Ann, phone: "+48", balance: 1.0, sms_consent: true, segment: mass, '
           'updated_at: "2026-11-02T08:00:00Z"}')


def _copy(tmp_path: Path, tests: str) -> Path:
    scenario = tmp_path / "low_balance_offer.yaml"
    shutil.copy(BANK, scenario)
    (tmp_path / "low_balance_offer.tests.yaml").write_text(tests, encoding="utf-8")
    return scenario


def test_mistakes_in_a_tests_file_are_reported_with_positions(tmp_path: Path) -> None:
    scenario = _copy(tmp_path, f"""- name: one
  events: [{EVENT}]
  changelog: {{profile: []}}
  expect: {{actions: [], detectd: []}}
- name: one
  events: [{EVENT}]
  expct: {{}}
""")
    with pytest.raises(ScenarioError) as info:
        read_cases(tmp_path / "low_balance_offer.tests.yaml", load(str(scenario)).scenario)
    text = str(info.value)
    tests = tmp_path / "low_balance_offer.tests.yaml"
    assert f"{tests}:3:15: 'profile' is not a changelog of this scenario (did you mean 'profiles'?)" in text
    assert f"{tests}:4:25: unknown key 'detectd' in expect (did you mean 'detected'?)" in text
    assert f"{tests}:5:9: case name 'one' is used twice" in text
    assert f"{tests}:7:3: unknown key 'expct' in a case (did you mean 'expect'?)" in text


def test_verify_prints_a_diff_and_fails(tmp_path: Path, capsys) -> None:
    scenario = _copy(tmp_path, f"""- name: wrong product
  changelog: {{profiles: [{PROFILE}]}}
  events: [{EVENT}]
  expect:
    actions: [{{channel: sms, payload.product: cash_advance}}]
    detected: [{{kind: loan_offer}}]
""")
    assert main(["verify", str(scenario)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "wrong product" in out
    assert "low_balance_offer.tests.yaml:5:15" in out  # the expected record that was not produced
    assert '-  "payload.product": "cash_advance"' in out and '+  "payload.product": "personal_loan"' in out
    assert "0 passed, 1 failed" in out


def test_counts_must_match_unless_only_listed_is_false(tmp_path: Path, capsys) -> None:
    body = f"""- name: lenient
  changelog: {{profiles: [{PROFILE}]}}
  events: [{EVENT}]
  expect: {{actions: [{{channel: sms}}], only_listed: false}}
- name: strict
  changelog: {{profiles: [{PROFILE}]}}
  events: [{EVENT}]
  expect: {{actions: [{{channel: sms}}]}}
"""
    scenario = _copy(tmp_path, body)
    assert main(["verify", str(scenario)]) == 1
    out = capsys.readouterr().out
    assert "PASS" in out and "lenient" in out
    assert "expected 0 detected, got 1 (not listed:)" in out
    assert main(["verify", str(scenario), "-k", "lenient"]) == 0


def test_partial_matching() -> None:
    got = {"channel": "sms", "to": "+48", "payload": {"product": "x", "limit": 5.0}, "time": "2026-11-02T09:30:05.000Z"}
    assert matches({"channel": "sms", "payload": {"product": "x"}}, got)
    assert matches({"payload.limit": 5, "time": "2026-11-02T09:30:05Z"}, got)
    assert not matches({"payload": {"product": "y"}}, got)
    assert not matches({"missing": None}, got)
    # a general expectation must not steal the only record a specific one fits
    assert assign([{"a": 1}, {"a": 1, "b": 2}], [{"a": 1, "b": 2}, {"a": 1, "b": 3}]) == {0: 1, 1: 0}


def test_no_tests_file_is_not_a_failure(tmp_path: Path, capsys) -> None:
    scenario = tmp_path / "x.yaml"
    shutil.copy(BANK, scenario)
    assert main(["verify", str(scenario)]) == 0
    assert "no test cases" in capsys.readouterr().out
