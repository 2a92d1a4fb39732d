"""Run a compiled scenario on the embedded Flink engine (a MiniCluster in this process's JVM)."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import site
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from jobs.compiler.plan import Plan
from jobs.config.project import PROJECT_ROOT

FILE_BUNDLE_SIZE = 1000
FILE_BUNDLE_TIME_MS = 100


def prepare_python_path() -> None:
    """PyFlink's thread mode embeds CPython in the JVM; it must find our packages and the venv's."""
    wanted = [PROJECT_ROOT, *site.getsitepackages()]
    current = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(wanted + current))


def clear_outputs(out_dir: str) -> None:
    """Remove a previous run's outputs from DIR: a run that fails (even before its job starts: a scenario
    error, a missing input file) must not leave results that look like its own."""
    from jobs.flink.files_io import OUTPUT_FILES

    os.makedirs(out_dir, exist_ok=True)
    for stale in (*OUTPUT_FILES.values(), "counts.json"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(out_dir, stale))


@dataclass
class RunSummary:
    counts: dict[str, dict[str, int]]
    outputs: dict[str, list[dict]]
    input_lines: int
    seconds: float


def lines_read(counts_dir: str) -> int:
    """Input lines the job's entry operators have read so far (each writes its tally every 0.5 s)."""
    done = 0
    for path in glob.glob(os.path.join(counts_dir, "progress", "*.json")):
        with contextlib.suppress(OSError, ValueError), open(path, encoding="utf-8") as handle:
            done += int(json.load(handle))
    return done


def run_files(plan: Plan, files: dict[str, str], out_dir: str,
              on_progress: Callable[[str], None] | None = None, parallelism: int = 1,
              on_lines: Callable[[int, int, float], None] | None = None, control: str | None = None) -> RunSummary:
    """Embedded run: files in, DIR/actions.jsonl, detected.jsonl, dead_letter.jsonl and counts.json out.
    `on_lines(read, total, seconds)` is called every 0.5 s while the job runs, and once at the end.
    `control`: a file of live parameter changes, applied in order with the events (docs/parameters.md)."""
    prepare_python_path()
    from jobs.flink.files_io import FileInputs, FileOutputs
    from jobs.flink.job import JobOptions, build_job, make_environment
    from jobs.runtime.executor import merge_counts

    clear_outputs(out_dir)
    work = os.path.join(out_dir, ".work")
    for stale in (work, os.path.join(out_dir, ".parts")):
        shutil.rmtree(stale, ignore_errors=True)
    counts_dir = os.path.join(work, "counts")
    # checkpoints let the FileSinks finalise their part files at the end of the input
    # files are a batch: bigger Python bundles trade latency (irrelevant here) for ~50% more throughput
    options = JobOptions(parallelism=parallelism, deterministic=True, counts_dir=counts_dir,
                         checkpoint_interval_ms=1000, extra_config={"restart-strategy.type": "none"},
                         bundle_size=FILE_BUNDLE_SIZE, bundle_time_ms=FILE_BUNDLE_TIME_MS)
    env = make_environment(options)
    inputs, outputs = FileInputs(files, work, control), FileOutputs(out_dir)
    build_job(env, plan, inputs, outputs, options)
    started = time.monotonic()
    client = env.execute_async(f"kairos/{plan.scenario.name}")
    result = client.get_job_execution_result()  # a future; done when the job ends (or fails)
    while not result.done():
        if on_progress:
            on_progress(f"running: {inputs.lines} input lines, {time.monotonic() - started:.0f}s")
        if on_lines:
            on_lines(lines_read(counts_dir), inputs.lines, time.monotonic() - started)
        time.sleep(0.5)
    result.result()  # raises with Flink's error when the job failed
    seconds = time.monotonic() - started
    if on_lines:
        on_lines(lines_read(counts_dir), inputs.lines, seconds)
    results = outputs.collect()
    parts = []
    for path in sorted(glob.glob(os.path.join(counts_dir, "*.json"))):
        with open(path, encoding="utf-8") as handle:
            parts.append(json.load(handle))
    counts = merge_counts(parts)
    with open(os.path.join(out_dir, "counts.json.tmp"), "w", encoding="utf-8") as handle:
        json.dump(counts, handle, indent=2, sort_keys=True)
    os.replace(os.path.join(out_dir, "counts.json.tmp"), os.path.join(out_dir, "counts.json"))
    shutil.rmtree(os.path.join(out_dir, ".parts"), ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    return RunSummary(counts, results, inputs.lines, seconds)


if __name__ == "__main__":  # pragma: no cover - convenience for debugging
    sys.exit("use: kairos run SCENARIO --events FILE --out DIR")
