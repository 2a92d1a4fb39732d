"""Many campaigns in one job: 1, 10 and 100 renamed copies of the bank example on the same input stream.

    PYTHONPATH=. .venv/bin/python bench/campaigns.py [--copies 1 10 100] [--events 20000] [--small-ratio 0.34]
            [--out bench/results/campaigns.json]

Every event goes to every copy (the bank's 70 campaigns on one event stream). For each number of copies the
same generated input (bench/inputs.py, the throughput benchmark's bank input) runs in ONE embedded job
(jobs/flink/multi_files.py) at a small and a big size; the rate is marginal, (big - small) /
(seconds(big) - seconds(small)), so job start and shutdown cancel out; the same with CPU seconds of the JVM
(+ client) instead of wall seconds, steadier on a shared machine. Reported per N: input events/s, the ratio to
N = 1 measured in this run (goal >= 0.5 for 100 at the same input), scenario-events per CPU second (N x input
rate: the work done) and the load average before and after each job. Sizes shrink with N (events / sqrt(N))
so a round stays in minutes on a shared 2-core machine; rates are per second, so sizes need not match.
Before any rate is reported, every copy's output counts must equal the single scenario's on the same input
(the in-process harness, not the job):
a mismatch fails the benchmark (exit 1, `ok: false`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import inputs  # noqa: E402
from bench.throughput import BENCH_SCENARIOS, load  # noqa: E402

SCENARIO = BENCH_SCENARIOS / "low_balance_offer" / "low_balance_offer.yaml"
# fewer customers than the throughput benchmark's 20,000: every copy loads the whole profiles changelog into its
# own state at start (100 copies: 2M updates before the first ATM event), which the marginal rate cancels anyway
CUSTOMERS = 2_000


def copies(n: int, work: Path):
    from jobs.compiler.plan import make_plan
    from jobs.compiler.validate import load as load_scenario

    text = SCENARIO.read_text(encoding="utf-8")
    plans = []
    for i in range(n):
        path = work / f"copy{i:03d}" / "low_balance_offer.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("name: low_balance_offer", f"name: offer_{i:03d}"), encoding="utf-8")
        plans.append(make_plan(load_scenario(str(path))))
    return plans


def cpu_seconds() -> float:
    """CPU time so far of the JVM that runs the embedded jobs (thread mode: the Python operators run inside it)
    plus this client process: on a shared machine a steadier measure of the work than wall time."""
    from pyflink.java_gateway import get_gateway

    pid = get_gateway().jvm.java.lang.ProcessHandle.current().pid()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    own = os.times()
    return (int(fields[11]) + int(fields[12])) / ticks + own.user + own.system


def run_once(n: int, size: int, work: Path) -> dict:
    from jobs.flink.multi_files import run_many_files

    events, profiles = work / f"atm-{size}.jsonl", work / f"profiles-{size}.jsonl"
    if not events.exists():
        inputs.bank(events, profiles, size, customers=CUSTOMERS)
    plans = copies(n, work / f"n{n}")
    before = load()
    cpu = cpu_seconds()
    started = time.monotonic()
    summary = run_many_files(plans, {"atm": str(events), "profiles": str(profiles)}, str(work / f"out-{n}-{size}"))
    wall = time.monotonic() - started
    cpu = cpu_seconds() - cpu
    per_copy = {name: {k: len(v) for k, v in out.items()} for name, out in summary.outputs.items()}
    row = {"copies": n, "events": size, "input_lines": summary.input_lines, "seconds": round(summary.seconds, 2),
           "cpu_seconds": round(cpu, 2),
           "wall_seconds": round(wall, 1), "operators": summary.operators, "load_before": before,
           "load_after": load(), "counts": next(iter(per_copy.values())),
           "copies_agree": len({json.dumps(c, sort_keys=True) for c in per_copy.values()}) == 1}
    print(f"  N={n:<4} {size:>7} events {summary.seconds:8.2f} s  cpu {cpu:8.2f} s  operators {summary.operators}  "
          f"counts {row['counts']} agree {row['copies_agree']}  load {before[0]} -> {row['load_after'][0]}",
          flush=True)
    return row


def alone(size: int, work: Path) -> dict:
    """The single scenario's output counts on the same input, in the in-process harness (not the job)."""
    from jobs.runtime.files import merged_inputs
    from jobs.runtime.harness import run_in_process

    [plan] = copies(1, work / "alone")
    files = {"atm": str(work / f"atm-{size}.jsonl"), "profiles": str(work / f"profiles-{size}.jsonl")}
    result = run_in_process(plan, merged_inputs(plan.scenario, files))
    return {"actions": len(result.actions), "detected": len(result.detected), "dead_letter": len(result.dead_letter)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--events", type=int, default=20_000, help="big size for N=1 (N copies: / sqrt(N))")
    parser.add_argument("--small-ratio", type=float, default=0.34)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "campaigns.json"))
    args = parser.parse_args()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    runs, rates, ok = [], {}, True
    with tempfile.TemporaryDirectory(prefix="kairos-campaigns-") as tmp:
        work = Path(tmp)
        print("warm-up (the JVM's first job: class loading and JIT, not measured)", flush=True)
        run_once(1, 1000, work)
        for n in args.copies:
            big = max(1000, int(args.events / math.sqrt(n)))
            small = max(300, int(big * args.small_ratio))
            rows = {size: run_once(n, size, work) for size in (small, big)}
            runs.extend(rows.values())
            for size, row in rows.items():
                expected = alone(size, work)
                if not row["copies_agree"] or row["counts"] != expected:
                    print(f"  MISMATCH at N={n}, {size} events: {row['counts']} vs alone {expected}", flush=True)
                    ok = False
            lines = rows[big]["input_lines"] - rows[small]["input_lines"]
            delta = rows[big]["seconds"] - rows[small]["seconds"]
            cpu = rows[big]["cpu_seconds"] - rows[small]["cpu_seconds"]
            eps = lines / delta if delta > 0 else None
            eps_cpu = lines / cpu if cpu > 0 else None
            rates[n] = {"marginal_input_eps": round(eps) if eps else None,
                        "marginal_input_eps_per_cpu_s": round(eps_cpu) if eps_cpu else None,
                        "scenario_events_per_cpu_s": round(eps_cpu * n) if eps_cpu else None,
                        "events_small": small, "events_big": big}
    for measure in ("marginal_input_eps", "marginal_input_eps_per_cpu_s"):
        base = rates.get(1, {}).get(measure)
        for rate in rates.values():
            eps = rate[measure]
            rate[f"ratio_vs_one{measure[len('marginal_input_eps'):]}"] = round(eps / base, 3) if eps and base else None
    result = {"started_at": started_at, "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "ok": ok, "goal_ratio_100": 0.5, "rates": {str(k): v for k, v in rates.items()}, "runs": runs}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for n, rate in rates.items():
        print(f"N={n:<4} wall: {rate['marginal_input_eps']} input events/s (x{rate['ratio_vs_one']} of one); "
              f"cpu: {rate['marginal_input_eps_per_cpu_s']} input events/cpu-s (x{rate['ratio_vs_one_per_cpu_s']}), "
              f"{rate['scenario_events_per_cpu_s']} scenario-events/cpu-s")
    print(f"written: {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
