"""`kairos submit` with several scenarios: what the one cluster job gets, and the problems refused before
`flink run` starts (the job itself: tests/integration/test_submit_many.py on the session cluster)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from jobs.cli import build_parser, main
from jobs.cli.connect import job_arguments
from jobs.scenario_job import parse_args

REPO = Path(__file__).resolve().parents[2]
MULTI = REPO / "tests" / "e2e" / "scenarios" / "multi"
CLUSTER = ["--cluster", "127.0.0.1:1", "--kafka", "127.0.0.1:9"]


def test_a_directory_is_one_job_with_every_scenario(capsys):
    code = main(["submit", str(MULTI), *CLUSTER, "--prefix", "p.", "--print-config"])
    assert code == 0
    config = json.loads(capsys.readouterr().out)
    assert config["job"] == "campaigns-multi" and config["group_id"] == "p.kairos-campaigns-multi"
    assert [s["scenario"] for s in config["scenarios"]] == ["multi_poison", "multi_spender", "multi_velocity",
                                                           "multi_windows"]
    assert config["scenarios"][0]["dead_letter"] == "p.multi_poison.dead_letter"


def test_job_name_names_the_job_and_its_group(capsys):
    files = [str(MULTI / "poison.yaml"), str(MULTI / "velocity.yaml")]
    assert main(["submit", *files, *CLUSTER, "--job-name", "fraud", "--print-config"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert (config["job"], config["group_id"], len(config["scenarios"])) == ("fraud", "kairos-fraud", 2)


def test_the_job_program_gets_every_file_and_the_job_name():
    args = build_parser().parse_args(["submit", str(MULTI), *CLUSTER, "--prefix", "p."])
    files = ["/abs/a.yaml", "/abs/b.yaml"]
    job_args = [*job_arguments(args, files), "--job-name", "campaigns-multi"]
    parsed = parse_args(job_args)
    assert parsed.scenario == files and parsed.job_name == "campaigns-multi" and parsed.prefix == "p."
    assert parsed.kafka == "127.0.0.1:9"


def test_several_scenarios_in_file_mode_are_refused(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--scenario", "a.yaml", "--scenario", "b.yaml", "--out", "/tmp/x"])
    assert "need --kafka" in capsys.readouterr().err


def test_same_scenario_twice_is_refused(capsys):
    code = main(["submit", str(MULTI / "poison.yaml"), str(MULTI / "poison.yaml"), *CLUSTER])
    assert code == 2
    assert "scenario names must differ within one job: multi_poison" in capsys.readouterr().err


def test_against_is_refused_with_several(capsys):
    code = main(["submit", str(MULTI), *CLUSTER, "--against", str(MULTI / "poison.yaml")])
    assert code == 2
    assert "--against checks one scenario" in capsys.readouterr().err


def test_a_bad_scenario_among_many_is_file_line_col(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text((MULTI / "poison.yaml").read_text().replace("amount / (amount - 150) > 1.5", "amount >"))
    assert main(["submit", str(MULTI / "velocity.yaml"), str(bad), *CLUSTER]) == 1
    assert re.search(rf"{re.escape(str(bad))}:\d+:\d+: ", capsys.readouterr().err)


def test_the_production_doc_example_parses():
    text = (REPO / "docs" / "production.md").read_text()
    block = text.split("**Many campaigns, one cluster job.**", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line.split("#", 1)[0].strip() for line in block.replace("\\\n", " ").splitlines()]
    commands = [line for line in lines if line.startswith("kairos ")]
    assert {c.split()[1] for c in commands} >= {"submit", "jobs", "stop", "tail", "produce"}
    for line in commands:
        build_parser().parse_args(shlex.split(line)[1:])  # argparse exits on an unknown option
