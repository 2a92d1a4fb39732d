"""Every example and every node-type scenario gives EXACTLY its expected outputs, on both engines.

The harness checks are fast (no marker); the embedded-Flink checks run each job once per session
(see the `flink_run` fixture) and also compare Flink with the harness directly: both engines agree.
"""

from __future__ import annotations

import pytest

from jobs.cli import main as kairos
from jobs.runtime.harness import RunResult

from .cases import ALL, EXAMPLES, Case

KINDS = ("actions", "detected", "dead_letter")


def assert_same(actual: RunResult, expected: RunResult, what: str) -> None:
    for kind in KINDS:
        assert getattr(actual, kind) == getattr(expected, kind), f"{what}: {kind} differ"
    assert actual.counts == expected.counts, f"{what}: counts differ"


@pytest.mark.parametrize("case", ALL, ids=lambda c: c.name)
def test_harness_gives_expected(case: Case, harness_run, read_expected) -> None:
    assert_same(harness_run(case.scenario, case.files, case.references), read_expected(case.expected), case.name)


@pytest.mark.flink
@pytest.mark.parametrize("case", ALL, ids=lambda c: c.name)
def test_flink_gives_expected_and_agrees_with_harness(case: Case, flink_run, harness_run, read_expected) -> None:
    flink = flink_run(case.scenario, case.files, case.references)
    assert_same(flink, harness_run(case.scenario, case.files, case.references), f"{case.name} flink vs harness")
    assert_same(flink, read_expected(case.expected), case.name)


@pytest.mark.parametrize("case", EXAMPLES, ids=lambda c: c.name)
def test_examples_validate(case: Case, capsys) -> None:
    assert kairos(["validate", case.scenario]) == 0, capsys.readouterr().err
