"""What live parameters cost per event: the fraud example before and after them, measured in the same run.

    PYTHONPATH=. .venv/bin/python bench/params_overhead.py [--events 100000] [--rounds 3] [--base REV] [--flink]

Three engines on one generated input (bench/inputs.fraud): `base`, the fraud scenario on the code of REV (a
`git archive` of it; default: the merge base with main, the code before live parameters); `now`, the same
scenario on this tree (what a scenario without `parameters:` pays: the goal is nothing); `params`, this tree
with the fraud scenario given one parameter used in its first filter (`amount > param.min_amount`, default 0:
the same outputs), what a scenario with parameters pays. Each runs the in-process engine (jobs/runtime/harness,
the executor the Flink operators run) in its own interpreter, the engines interleaved round by round in
alternating order; the fastest round of each is kept. `--flink` adds one embedded Flink file run per engine
(job start included: noisier). Output counts must agree across engines. The load average is recorded around
every run. Writes bench/results/params_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import inputs  # noqa: E402

FRAUD = Path("scenarios") / "card_fraud_velocity" / "card_fraud_velocity.yaml"
PARAMETERS = "parameters:\n  min_amount: {type: float, default: 0, min: 0}\n"
CHILD = r"""
import json, sys, time
from pathlib import Path
scenario, events, mode, out = sys.argv[1:5]
from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.runtime.files import merged_inputs
plan = make_plan(load(scenario))
if mode == "flink":
    from jobs.flink.embedded import run_files
    started = time.perf_counter()
    summary = run_files(plan, {"transactions": events}, out)
    seconds, outputs = time.perf_counter() - started, summary.outputs
    counts = {k: len(v) for k, v in outputs.items()}
else:
    from jobs.runtime.harness import run_in_process
    lines = list(merged_inputs(plan.scenario, {"transactions": events}))
    started = time.perf_counter()
    result = run_in_process(plan, lines)
    seconds = time.perf_counter() - started
    counts = {"actions": len(result.actions), "detected": len(result.detected), "dead_letter": len(result.dead_letter)}
print(json.dumps({"seconds": seconds, "counts": counts}))
"""


def merge_base() -> str:
    return subprocess.run(["git", "merge-base", "HEAD", "main"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


def export(rev: str, into: Path) -> Path:
    """The tree of `rev` (jobs/ and scenarios/ are all a run needs) without touching any worktree."""
    archive = subprocess.run(["git", "archive", rev, "jobs", "scenarios", "udfs", "flink-conf"], cwd=ROOT,
                             capture_output=True, check=True).stdout
    tar_path = into / "base.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into / "base", filter="data")
    return into / "base"


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run(tree: Path, scenario: Path, events: Path, mode: str, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = load_average()
    done = subprocess.run([sys.executable, "-c", CHILD, str(scenario), str(events), mode, str(out)], cwd=tree,
                          env=env, capture_output=True, text=True, check=True)
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "load_before": before, "load_after": load_average()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--base", default=None, help="the revision before live parameters (default: merge base)")
    parser.add_argument("--flink", action="store_true", help="also one embedded Flink run per engine")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "params_overhead.json")
    args = parser.parse_args()
    base_rev = args.base or merge_base()
    with tempfile.TemporaryDirectory(prefix="kairos-params-bench-") as tmp:
        work = Path(tmp)
        base = export(base_rev, work)
        events = work / "fraud.jsonl"
        inputs.fraud(events, args.events)
        with_params = work / "fraud_params.yaml"
        text = (ROOT / FRAUD).read_text()
        with_params.write_text(text.replace("\nsources:", f"\n{PARAMETERS}sources:", 1)
                               .replace("condition: amount > 0", "condition: amount > param.min_amount", 1))
        engines = {"base": (base, base / FRAUD), "now": (ROOT, ROOT / FRAUD), "params": (ROOT, with_params)}
        modes = ["harness", *(["flink"] if args.flink else [])]
        runs: dict[str, dict[str, list[dict]]] = {m: {e: [] for e in engines} for m in modes}
        for mode in modes:
            for r in range(args.rounds if mode == "harness" else 1):
                order = list(engines) if r % 2 == 0 else list(reversed(engines))
                for name in order:
                    tree, scenario = engines[name]
                    result = run(tree, scenario, events, mode, work / f"out-{mode}-{name}-{r}")
                    runs[mode][name].append(result)
                    print(f"{mode} round {r} {name}: {result['seconds']:.2f}s load {result['load_before']}",
                          flush=True)
    report: dict = {"events": args.events, "base": base_rev, "rounds": args.rounds, "measured_at": time.time()}
    ok = True
    for mode, per in runs.items():
        best = {name: min(r["seconds"] for r in rs) for name, rs in per.items()}
        counts = {name: rs[0]["counts"] for name, rs in per.items()}
        ok = ok and len({json.dumps(c, sort_keys=True) for c in counts.values()}) == 1
        report[mode] = {
            "events_per_s": {name: round(args.events / s) for name, s in best.items()},
            "now_vs_base": round(best["base"] / best["now"], 3),  # > 1: faster than before
            "params_vs_base": round(best["base"] / best["params"], 3),
            "counts": counts, "runs": per,
        }
        print(f"{mode}: now/base {report[mode]['now_vs_base']}x, params/base {report[mode]['params_vs_base']}x "
              f"(events/s {report[mode]['events_per_s']})")
    report["ok"] = ok
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"outputs agree: {ok}; written {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
