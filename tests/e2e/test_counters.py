"""Counters invariant for every node and source of every run (harness and embedded Flink).

Per node:   in == out + filtered + dead_letter + held   (held: waiting in state, released later as `emitted`)
Per source: in == out + dead_letter
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.compiler.validate import load
from jobs.runtime.harness import RunResult

from .cases import ALL, Case

REPO_ROOT = Path(__file__).resolve().parents[2]


def unbalanced(result: RunResult, case: Case) -> list[str]:
    graph = load(str(REPO_ROOT / case.scenario))
    sources, nodes = set(graph.scenario.sources), set(graph.order)
    assert set(result.counts) == sources | nodes, "every node and source has counters"
    problems = []
    for name, c in sorted(result.counts.items()):
        if name in sources:
            if c["in"] != c["out"] + c["dead_letter"]:
                problems.append(f"source {name}: {c}")
        elif c["in"] != c["out"] + c["filtered"] + c["dead_letter"] + c["held"]:
            problems.append(f"node {name}: {c}")
    return problems


def test_every_case_exercises_every_counter_kind(harness_run) -> None:
    """The suite is only a check if each term of the invariant is non-zero somewhere."""
    seen = set()
    for case in ALL:
        for c in harness_run(case.scenario, case.files, case.references).counts.values():
            seen |= {k for k, v in c.items() if v}
    assert seen >= {"in", "out", "filtered", "dead_letter", "held", "emitted", "late"}


@pytest.mark.parametrize("case", ALL, ids=lambda c: c.name)
def test_counters_balance_in_harness(case: Case, harness_run) -> None:
    assert unbalanced(harness_run(case.scenario, case.files, case.references), case) == []


@pytest.mark.flink
@pytest.mark.parametrize("case", ALL, ids=lambda c: c.name)
def test_counters_balance_on_flink(case: Case, flink_run) -> None:
    assert unbalanced(flink_run(case.scenario, case.files, case.references), case) == []

