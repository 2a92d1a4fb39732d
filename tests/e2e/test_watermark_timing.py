"""Outputs must not depend on WHEN the watermark reaches an operator.

On Flink the watermark is emitted periodically (every 50 ms) and can lag the input by any number of
records; the harness advances it after every input line. A file run is deterministic only if every
schedule gives the same outputs. `LazyHarness` is the other extreme: the watermark only moves at the end
of the input. Both are valid Flink schedules, so they must agree.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs.runtime.files import canonical, merged_inputs
from jobs.runtime.harness import Harness, RunResult

from .cases import ALL, BY_NAME, Case
from .test_expected import assert_same

REPO_ROOT = Path(__file__).resolve().parents[2]


class LazyHarness(Harness):
    """The harness with the watermark held back until the end of the input (timers fire only then)."""

    def feed(self, source: str, line: str) -> None:
        self.enter(source, line)  # no _advance: lateness is still decided by the per-line stamp


@pytest.fixture
def lazy(harness_run):
    """Like `harness_run`, on the LazyHarness (same plan compilation and merged input order)."""
    from jobs.compiler.plan import make_plan
    from jobs.compiler.validate import load
    from jobs.runtime.files import bind_references

    def run(case: Case, files: dict[str, str]) -> RunResult:
        plan = make_plan(load(str(REPO_ROOT / case.scenario)))
        bind_references(plan, {n: str(REPO_ROOT / p) for n, p in case.references.items()})
        harness = LazyHarness(plan)
        for source, line in merged_inputs(plan.scenario, {s: str(REPO_ROOT / p) for s, p in files.items()}):
            harness.feed(source, line)
        result = harness.finish()
        # same normalisation as harness_run: canonical order, JSON round trip
        return RunResult(*(json.loads(json.dumps(canonical(getattr(result, k))))
                           for k in ("actions", "detected", "dead_letter")), json.loads(json.dumps(result.counts)))

    return run


@pytest.mark.parametrize("case", ALL, ids=lambda c: c.name)
def test_outputs_do_not_depend_on_watermark_timing(case: Case, harness_run, lazy) -> None:
    assert_same(lazy(case, case.files), harness_run(case.scenario, case.files, case.references), case.name)


def test_event_time_join_with_a_changelog_update_behind_the_watermark(harness_run, lazy) -> None:
    """limits: 100 @1s, 500 @30s, then 200 @3s arriving last, when the watermark (30s - 10s) is past 3s.

    q1 (5s) is released when the watermark passes 5s. Eager watermark: already released when the 3s update
    arrives; lagging watermark (as on Flink): still waiting. The engine rejects the 3s update as late (dead
    letter), so both schedules agree: q1 sees 100.
    """
    case = BY_NAME["changelog_joins"]
    base = "tests/e2e/scenarios/changelog_joins/late_update"
    files = {"payments": f"{base}/payments.jsonl", "limits": f"{base}/limits.jsonl"}
    eager = harness_run(case.scenario, files)
    assert_same(lazy(case, files), eager, "late changelog update")
    [dead] = eager.dead_letter
    assert dead["error"].startswith("late changelog update: time 3000 is at or before the watermark 19999")
    assert dead["raw"]["daily_limit"] == 200.0
