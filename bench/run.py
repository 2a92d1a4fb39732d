"""`make bench`: every benchmark, each in its own process (its own JVM), then bench/results.json and a table.

    PYTHONPATH=. .venv/bin/python bench/run.py [--small 100000] [--big 300000] [--reps 1]
                                               [--latency-seconds 60] [--rate 2000] [--skip NAME ...]
    make bench BENCH_ARGS="--reps 2 --big 600000"

Benchmarks (each also writes its own JSON in bench/results/):
  throughput  fraud: kairos vs the hand-written DataStream job vs Flink SQL; bank: kairos vs hand-written
              (bench/throughput.py; marginal rates, interleaved in one run, counts checked against an oracle)
  scaling     fraud at parallelism 1 and 2 on the session cluster (bench/scaling.py)
  latency     bank over real Kafka, at-least-once and exactly-once (bench/latency_kafka.py)
  latency_low the same, at-least-once, at a quarter of the rate (is the engine saturated, or slow?)
  sandbox     `kairos test` on 1,000 events (bench/sandbox_bench.py)
  campaigns   1, 10 and 100 renamed copies of the bank example in one job, rate relative to one
              (bench/campaigns.py; optional: `--skip campaigns` keeps its last results)
A benchmark that fails (a count mismatch included) makes `make bench` exit 1; its figures are then not
reported as ratios. The load average is recorded before and after every benchmark (and every job inside).
Speed targets are compared here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
TARGETS = {"ratio_vs_handwritten": 1.0, "bank_ratio_vs_handwritten": 0.8, "throughput_eps_per_core": 16_000,
           "latency_p99_ms": 50, "sandbox_1k_seconds": 3.0, "campaigns_100_ratio_vs_one": 0.5}


def machine() -> dict:
    facts = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        facts["cpu_model"] = next(line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                                  if line.startswith("model name"))
        meminfo = Path("/proc/meminfo").read_text().split()
        facts["memory_gb"] = round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024 / 1024, 1)
    except (OSError, StopIteration, ValueError):
        pass
    try:
        import pyflink.version

        facts["flink"] = pyflink.version.__version__
    except ImportError:
        pass
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    facts["java"] = (java.stderr or java.stdout).splitlines()[0] if (java.stderr or java.stdout) else None
    return facts


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run(name: str, args: list[str], step: str = "") -> dict:
    print(f"\n== {step}{name}: bench/{args[0]} {' '.join(args[1:])}", flush=True)
    before, started = load(), time.monotonic()
    code = subprocess.call([sys.executable, str(HERE / args[0]), *args[1:]],
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    return {"exit_code": code, "wall_seconds": round(time.monotonic() - started, 1), "load_before": before,
            "load_after": load()}


def _progress(done: int, total: int, elapsed_s: float) -> str:
    """`[###...] 2/6 12m05s`: the parts run for minutes each and print their own figures in between."""
    width = 12
    filled = round(width * done / total) if total else width
    minutes, seconds = divmod(int(elapsed_s), 60)
    return f"[{'#' * filled}{'.' * (width - filled)}] part {done + 1}/{total}, {minutes}m{seconds:02d}s in: "


def read(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def ratio(a, b):
    return round(a / b, 2) if a and b else None


def summarise(results: dict, runs: dict) -> dict:
    out: dict = {}
    tp = results.get("throughput") if runs.get("throughput", {}).get("exit_code") == 0 else None
    if tp:
        fraud, bank = tp["examples"].get("fraud"), tp["examples"].get("bank")
        if fraud:
            r = fraud["rates"]
            out.update(throughput_eps_per_core=r["kairos"]["marginal_eps"],
                       handwritten_eps=r["datastream"]["marginal_eps"], sql_eps=r["sql"]["marginal_eps"],
                       ratio_vs_handwritten=ratio(r["kairos"]["marginal_eps"], r["datastream"]["marginal_eps"]),
                       ratio_vs_sql=ratio(r["kairos"]["marginal_eps"], r["sql"]["marginal_eps"]),
                       harness_eps=fraud["harness"]["eps"])
        if bank:
            r = bank["rates"]
            out.update(bank_eps=r["kairos"]["marginal_eps"], bank_handwritten_eps=r["datastream"]["marginal_eps"],
                       bank_ratio_vs_handwritten=ratio(r["kairos"]["marginal_eps"], r["datastream"]["marginal_eps"]))
    lat = results.get("latency_kafka")
    if lat and runs.get("latency", {}).get("exit_code") == 0:
        alo, eo = lat["modes"].get("alo"), lat["modes"].get("eo")
        if alo:
            out.update(latency_p50_ms=alo["latency"]["p50_ms"], latency_p99_ms=alo["latency"]["p99_ms"],
                       latency_max_ms=alo["latency"]["max_ms"])
        if eo:
            out.update(latency_eo_p50_ms=eo["visible"]["p50_ms"], latency_eo_p99_ms=eo["visible"]["p99_ms"],
                       latency_eo_max_ms=eo["visible"]["max_ms"])
        for name, mode in (("alo", alo), ("eo", eo)):
            if mode:
                out[f"latency_{name}_trend_first_last_tenth_p50_ms"] = [mode["trend"]["first_tenth_p50_ms"],
                                                                       mode["trend"]["last_tenth_p50_ms"]]
    low = results.get("latency_kafka_low")
    if low and runs.get("latency_low", {}).get("exit_code") == 0:
        alo = low["modes"]["alo"]
        out.update({f"latency_{alo['rate_target_eps']}eps_p50_ms": alo["latency"]["p50_ms"],
                    f"latency_{alo['rate_target_eps']}eps_p99_ms": alo["latency"]["p99_ms"]})
    sc = results.get("scaling")
    if sc and runs.get("scaling", {}).get("exit_code") == 0:
        out.update(parallelism2_speedup=sc["speedup"], cluster_p1_eps=sc["rates"]["p1"]["marginal_eps"],
                   cluster_p2_eps=sc["rates"]["p2"]["marginal_eps"])
        two = sc.get("two_taskmanagers") or {}
        if two:  # the same, on two TaskManagers of one slot each: two Python interpreters (bench/scaling.py)
            out.update(parallelism2_speedup_two_taskmanagers=two["speedup"],
                       two_tm_p1_eps=two["rates"]["p1"]["marginal_eps"],
                       two_tm_p2_eps=two["rates"]["p2"]["marginal_eps"])
    sb = results.get("sandbox")
    if sb:
        out["sandbox_1k_seconds"] = sb["seconds"]
    camp = results.get("campaigns")
    if camp and runs.get("campaigns", {}).get("exit_code") == 0:
        for n, rate in camp["rates"].items():
            if n != "1":
                out[f"campaigns_{n}_ratio_vs_one"] = rate["ratio_vs_one_per_cpu_s"]
                out[f"campaigns_{n}_ratio_vs_one_wall"] = rate["ratio_vs_one"]
        out["campaigns_1_eps_per_cpu_s"] = camp["rates"].get("1", {}).get("marginal_input_eps_per_cpu_s")
    return out


def table(summary: dict, runs: dict) -> str:
    rows = [("metric", "value", "target")]
    for key, value in summary.items():
        target = TARGETS.get(key)
        shown = f"{value:,}" if isinstance(value, int) else str(value)
        rows.append((key, shown, ("<= " if "latency" in key or "seconds" in key else ">= ") + f"{target:,}"
                     if target is not None else ""))
    for name, run_info in runs.items():
        rows.append((f"[{name}] exit / wall s / load 1m before->after",
                     f"{run_info['exit_code']} / {run_info['wall_seconds']} / "
                     f"{run_info['load_before'][0]}->{run_info['load_after'][0]}", ""))
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, width, strict=True)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in width))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=300_000)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--latency-seconds", type=float, default=60)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--skip", action="append", default=[],
                        choices=("throughput", "scaling", "latency", "latency_low", "sandbox", "campaigns"))
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    plan = {
        "throughput": ["throughput.py", "--small", str(args.small), "--big", str(args.big), "--reps", str(args.reps)],
        "scaling": ["scaling.py", "--small", str(args.small), "--big", str(args.big)],
        "latency": ["latency_kafka.py", "--seconds", str(args.latency_seconds), "--rate", str(args.rate)],
        # the same at a quarter of the rate: the engine's latency when it is not saturated (the machine is shared)
        "latency_low": ["latency_kafka.py", "--seconds", str(args.latency_seconds), "--rate", str(args.rate // 4),
                        "--modes", "alo", "--out", str(RESULTS / "latency_kafka_low.json")],
        "sandbox": ["sandbox_bench.py"],
        "campaigns": ["campaigns.py", "--out", str(RESULTS / "campaigns.json")],
    }
    files = {"throughput": "throughput", "scaling": "scaling", "latency": "latency_kafka",
             "latency_low": "latency_kafka_low", "sandbox": "sandbox", "campaigns": "campaigns"}
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    runs, results = {}, {}
    todo = [name for name in plan if name not in args.skip]
    begun = time.monotonic()
    for name, command in plan.items():
        if name in args.skip:  # a skipped part keeps its last results, marked as such in `runs`
            if read(files[name]) is not None:
                results[files[name]] = read(files[name])
                runs[name] = {"exit_code": 0, "reused_from_earlier_run": True, "wall_seconds": "reused",
                              "load_before": ["-"], "load_after": ["-"]}
            continue
        stale = RESULTS / f"{files[name]}.json"
        stale.unlink(missing_ok=True)  # never report an earlier run's figures as this run's
        done = todo.index(name)
        runs[name] = run(name, command, _progress(done, len(todo), time.monotonic() - begun))
        results[files[name]] = read(files[name])
    summary = summarise(results, runs)
    report = {"started_at": started_at, "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": machine(), "arguments": vars(args), **summary, "targets": TARGETS, "runs": runs,
              "results": results}
    (HERE / "results.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print("\n" + table(summary, runs))
    print(f"\nwritten: {HERE / 'results.json'}")
    return 1 if any(r["exit_code"] != 0 for r in runs.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
