"""Every case of every scenarios/**/NAME.tests.yaml, one pytest test each (so `make test` runs them all)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.compiler.validate import load
from jobs.sandbox.cases import read_cases, scenario_file_for
from jobs.sandbox.verify import compare, run_case

ROOT = Path(__file__).resolve().parents[2]
TEST_FILES = sorted((ROOT / "scenarios").glob("**/*.tests.yaml"))


def _cases() -> list:
    params = []
    for tests in TEST_FILES:
        graph = load(str(scenario_file_for(tests)))
        for case in read_cases(tests, graph.scenario):
            params.append(pytest.param(graph, case, id=f"{tests.name.removesuffix('.tests.yaml')}::{case.name}"))
    return params


def test_every_example_scenario_has_cases() -> None:
    for scenario in (ROOT / "scenarios").glob("*/*.yaml"):
        if not scenario.name.endswith(".tests.yaml"):
            tests = scenario.with_name(scenario.stem + ".tests.yaml")
            assert tests.is_file(), f"{scenario} has no {tests.name}"
            assert len(read_cases(tests, load(str(scenario)).scenario)) >= 3


@pytest.mark.parametrize(("graph", "case"), _cases())
def test_case(graph, case) -> None:
    failures = compare(case, run_case(graph, case))
    if failures:
        pytest.fail("\n".join(str(f) for f in failures), pytrace=False)
