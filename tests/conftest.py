"""Shared fixtures: run a scenario in the in-process harness, or on embedded Flink once per session.

Both return the same shape (`RunResult`: outputs in canonical order, JSON-normalised, plus counts), so a
test can compare either engine with the expected files or with each other.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from jobs.compiler.plan import Plan, make_plan
from jobs.compiler.validate import load
from jobs.runtime.files import bind_references, canonical, merged_inputs
from jobs.runtime.harness import RunResult, run_in_process

REPO_ROOT = Path(__file__).resolve().parents[1]
OUTPUT_KINDS = ("actions", "detected", "dead_letter")

# (scenario path, {source: file}, {reference: file}) as given; relative paths are from the repo root
Files = dict[str, str]
FlinkRunner = Callable[..., RunResult]


def _abs(path: str | Path) -> str:
    path = Path(path)
    return str(path if path.is_absolute() else REPO_ROOT / path)


def compile_plan(scenario_path: str | Path, references: Files | None = None) -> Plan:
    plan = make_plan(load(_abs(scenario_path)))
    bind_references(plan, {name: _abs(p) for name, p in (references or {}).items()})
    return plan


def normalised(records: list[dict]) -> list[dict]:
    """Canonical order and a JSON round trip, so tuples/lists and key order never make a difference."""
    return json.loads(json.dumps(canonical(records)))


def harness_run(scenario_path: str | Path, files: Files, references: Files | None = None) -> RunResult:
    """Run a scenario in the in-process harness on the same merged input order as an embedded run."""
    plan = compile_plan(scenario_path, references)
    files = {source: _abs(p) for source, p in files.items()}
    result = run_in_process(plan, merged_inputs(plan.scenario, files))
    return RunResult(normalised(result.actions), normalised(result.detected), normalised(result.dead_letter),
                     json.loads(json.dumps(result.counts)))


def read_expected(directory: str | Path) -> RunResult:
    """scenarios/<name>/expected/: actions, detected, dead_letter .jsonl and counts.json."""
    directory = Path(_abs(directory))
    lists = {}
    for kind in OUTPUT_KINDS:
        text = (directory / f"{kind}.jsonl").read_text(encoding="utf-8")
        lists[kind] = [json.loads(line) for line in text.splitlines() if line.strip()]
    counts = json.loads((directory / "counts.json").read_text(encoding="utf-8"))
    return RunResult(lists["actions"], lists["detected"], lists["dead_letter"], counts)


def write_expected(directory: str | Path, result: RunResult) -> None:
    """Write outputs in the same layout as an embedded run (used to (re)generate, then reviewed by hand)."""
    directory = Path(_abs(directory))
    directory.mkdir(parents=True, exist_ok=True)
    for kind in OUTPUT_KINDS:
        records = getattr(result, kind)
        (directory / f"{kind}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                                                 encoding="utf-8")
    (directory / "counts.json").write_text(json.dumps(result.counts, indent=2, sort_keys=True) + "\n",
                                           encoding="utf-8")


@pytest.fixture(name="harness_run")
def harness_run_fixture() -> Callable[..., RunResult]:
    return harness_run


@pytest.fixture(scope="session")
def flink_run(tmp_path_factory: pytest.TempPathFactory) -> FlinkRunner:
    """Run a scenario on embedded Flink; each distinct (scenario, files, references) runs ONCE per session.

    Every job runs in this process, so the JVM starts once and later jobs skip its ~20 s start-up.
    """
    cache: dict[tuple, RunResult] = {}
    base = tmp_path_factory.mktemp("flink")

    def run(scenario_path: str | Path, files: Files, references: Files | None = None, *,
            label: str | None = None) -> RunResult:
        # label: a run that must not share the cache (e.g. the same job again under load)
        key = (str(scenario_path), tuple(sorted(files.items())), tuple(sorted((references or {}).items())), label)
        if key not in cache:
            from jobs.flink.embedded import run_files

            plan = compile_plan(scenario_path, references)
            out_dir = base / f"run{len(cache)}-{plan.scenario.name}"
            summary = run_files(plan, {s: _abs(p) for s, p in files.items()}, str(out_dir))
            cache[key] = RunResult(*(normalised(summary.outputs[kind]) for kind in OUTPUT_KINDS),
                                   json.loads(json.dumps(summary.counts)))
        return cache[key]

    return run


@pytest.fixture(name="read_expected")
def read_expected_fixture() -> Callable[[str | Path], RunResult]:
    return read_expected
