"""Throughput of the fraud example on embedded Flink: N generated transactions, file source -> file sinks.

    PYTHONPATH=. .venv/bin/python bench/fraud_throughput.py [--events 200000] [--seed 7]

Writes bench/results/fraud_throughput.json. `seconds` is the job's wall time from submission to the end
(MiniCluster job start, the run itself, the final checkpoint that commits the file sinks). To get the
time spent on the events alone, a 10-event job with the same shape is run first in the same JVM and its
time is subtracted: `job_seconds_excluding_startup` (an estimate: fixed costs are assumed equal).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "card_fraud_velocity" / "card_fraud_velocity.yaml"
RESULT = ROOT / "bench" / "results" / "fraud_throughput.json"
START_MS = 1_793_613_600_000  # 2026-11-02T10:00:00Z, the examples' day
COUNTRIES = ("PL", "PL", "PL", "DE", "FR", "CZ")


def generate(path: Path, n: int, seed: int) -> None:
    """Deterministic events: 20k cards, one transaction every 50 ms on average, ~2% out of order by up to
    20 s (within the scenario's 30 s), ~0.5% refunds (filtered) and 0.1% malformed lines (dead letters)."""
    rng = random.Random(seed)
    ts = START_MS
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            ts += rng.randint(0, 100)
            if rng.random() < 0.001:
                out.write(json.dumps({"txn_id": f"broken-{i}", "amount": "n/a"}) + "\n")
                continue
            card = rng.randrange(20_000)
            when = ts - rng.randint(1, 20_000) if rng.random() < 0.02 else ts
            amount = -round(rng.uniform(1, 50), 2) if rng.random() < 0.005 else round(rng.expovariate(1 / 80), 2)
            record = {"txn_id": f"t{i}", "card_id": f"card-{card}", "customer_id": f"c{card}", "amount": amount,
                      "merchant": f"m{rng.randrange(500)}", "country": rng.choice(COUNTRIES),
                      "ts": datetime.fromtimestamp(when / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")}
            out.write(json.dumps(record) + "\n")


def run(events_file: Path, out_dir: Path):
    from jobs.compiler.plan import make_plan
    from jobs.compiler.validate import load
    from jobs.flink.embedded import run_files
    from jobs.runtime.files import bind_references

    plan = make_plan(load(str(SCENARIO)))
    bind_references(plan, {})
    started = time.monotonic()
    summary = run_files(plan, {"transactions": str(events_file)}, str(out_dir), parallelism=1)
    return summary, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kairos-bench-") as work:
        work_dir = Path(work)
        small, big = work_dir / "warmup.jsonl", work_dir / "events.jsonl"
        generate(small, 10, args.seed)
        generate(big, args.events, args.seed)
        first_start = time.monotonic()
        warm, _ = run(small, work_dir / "out-warmup")  # pays for the JVM start; gives the fixed job cost
        jvm_and_warmup = time.monotonic() - first_start
        summary, wall = run(big, work_dir / "out")
        outputs = {kind: len(records) for kind, records in summary.outputs.items()}
    job_only = max(summary.seconds - warm.seconds, 1e-9)
    result = {
        "scenario": "card_fraud_velocity", "events": args.events, "seed": args.seed, "parallelism": 1,
        "seconds": round(summary.seconds, 2),
        "events_per_s": round(args.events / summary.seconds),
        "job_seconds_excluding_startup": round(job_only, 2),
        "events_per_s_excluding_startup": round(args.events / job_only),
        "fixed_job_seconds_10_events": round(warm.seconds, 2),
        "wall_seconds_incl_input_merge": round(wall, 2),
        "first_run_seconds_incl_jvm_start": round(jvm_and_warmup, 2),
        "outputs": outputs, "cpu_count": os.cpu_count(),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
