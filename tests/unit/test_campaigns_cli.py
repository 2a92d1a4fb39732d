"""`kairos run` with several scenarios: which files, and the problems refused before any job starts."""

from __future__ import annotations

from pathlib import Path

from jobs.cli import main
from jobs.cli.campaigns import one_or_many, scenario_files

REPO = Path(__file__).resolve().parents[2]
MULTI = REPO / "tests" / "e2e" / "scenarios" / "multi"
EVENTS = REPO / "scenarios" / "card_fraud_velocity" / "events.jsonl"


def test_a_directory_means_its_scenarios_without_test_cases(tmp_path):
    (tmp_path / "a.yaml").write_text((MULTI / "poison.yaml").read_text())
    (tmp_path / "a.tests.yaml").write_text("cases: []\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.yaml").write_text((MULTI / "velocity.yaml").read_text())
    assert scenario_files([str(tmp_path)]) == [str(tmp_path / "a.yaml"), str(tmp_path / "sub" / "b.yaml")]
    assert one_or_many([str(tmp_path / "a.yaml")]) is None  # one file: the single-scenario run
    assert one_or_many([str(tmp_path)]) == scenario_files([str(tmp_path)])


def test_same_scenario_twice_is_refused(tmp_path, capsys):
    code = main(["run", str(MULTI / "poison.yaml"), str(MULTI / "poison.yaml"), "--events", str(EVENTS),
                 "--out", str(tmp_path), "--quiet"])
    assert code == 2
    assert "scenario names must differ within one job: multi_poison" in capsys.readouterr().err


def test_disagreeing_sources_are_refused(tmp_path, capsys):
    other = tmp_path / "other.yaml"
    other.write_text((MULTI / "poison.yaml").read_text().replace("name: multi_poison", "name: other")
                     .replace("key: card_id", "key: customer_id"))
    code = main(["run", str(MULTI / "poison.yaml"), str(other), "--events", str(EVENTS), "--out",
                 str(tmp_path / "out"), "--quiet"])
    assert code == 2
    assert "source 'transactions' is declared differently by two scenarios" in capsys.readouterr().err


def test_a_source_without_file_is_refused(tmp_path, capsys):
    code = main(["run", str(MULTI), "--out", str(tmp_path), "--quiet"])
    assert code == 2
    assert "no events file for source 'transactions'" in capsys.readouterr().err


def test_a_bad_scenario_among_many_is_file_line_col(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text((MULTI / "poison.yaml").read_text().replace("amount / (amount - 150) > 1.5", "amount >"))
    code = main(["run", str(MULTI / "velocity.yaml"), str(bad), "--events", str(EVENTS), "--out", str(tmp_path)])
    assert code == 1
    assert f"{bad}:" in capsys.readouterr().err
