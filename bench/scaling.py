"""The fraud file run on the Flink session cluster at parallelism 1 and 2 (the cluster's REST address:
.cache/services/flink-cluster.env; started with services/flink-cluster.sh and stopped again if it was down).

    PYTHONPATH=. .venv/bin/python bench/scaling.py [--small 100000] [--big 300000]

Each run is `flink run -d -py jobs/scenario_job.py --events ... --out ... --parallelism P` (what `kairos submit`
uses; jobs/connect/cluster.py); its time is the job's own duration from the REST API (scheduling to the end,
without the client's start). Rates are marginal, (big - small) / (duration(big) - duration(small)), and the
outputs' counts are checked against the brute-force oracle before any rate is reported. The cluster must have
`P` free task slots; the benchmark waits for them (other jobs may be running) and reports what it saw.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import inputs, oracle  # noqa: E402
from bench.baselines.common import read_parts  # noqa: E402
from bench.services import Service  # noqa: E402
from bench.throughput import LATE_NODES, load  # noqa: E402

SCENARIO = ROOT / "scenarios" / "card_fraud_velocity" / "card_fraud_velocity.yaml"


def overview(rest: str) -> dict:
    from jobs.connect.cluster import _request

    return _request(rest, "/overview")


def wait_for_slots(rest: str, slots: int, timeout_s: float = 300) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        seen = overview(rest)
        if seen.get("slots-available", 0) >= slots or time.monotonic() > deadline:
            return seen
        time.sleep(5)


def run_on_cluster(rest: str, events: Path, out_dir: Path, parallelism: int) -> dict:
    from jobs.connect.cluster import _request, submit
    from jobs.connect.runner import default_kafka_jar

    slots = wait_for_slots(rest, parallelism)
    if slots.get("slots-available", 0) < parallelism:
        raise RuntimeError(f"the cluster has {slots.get('slots-available')} free slots of {slots.get('slots-total')}; "
                           f"parallelism {parallelism} needs {parallelism}")
    before = load()
    job_id = submit(rest, ["--scenario", str(SCENARIO), "--events", f"transactions={events}", "--out", str(out_dir),
                           "--parallelism", str(parallelism)], default_kafka_jar())
    while True:
        info = _request(rest, f"/jobs/{job_id}")
        if info["state"] in ("FINISHED", "FAILED", "CANCELED"):
            break
        time.sleep(1)
    if info["state"] != "FINISHED":
        raise RuntimeError(f"cluster job {job_id} ended {info['state']}")
    outputs = {kind: read_parts(str(out_dir / ".parts" / kind)) for kind in ("actions", "detected", "dead_letter")}
    dead = outputs["dead_letter"]
    counts = {"actions": len(outputs["actions"]), "detected": len(outputs["detected"]), "dead_letter": len(dead),
              "late": sum(1 for d in dead if d.get("node") in LATE_NODES)}
    # records each subtask read, per operator: shows where the work of a parallel run actually went
    vertices = {}
    for vertex in info.get("vertices", []):
        detail = _request(rest, f"/jobs/{job_id}/vertices/{vertex['id']}")
        vertices[vertex["name"]] = {"parallelism": vertex["parallelism"],
                                    "records_in_per_subtask": [s.get("metrics", {}).get("read-records")
                                                               for s in detail.get("subtasks", [])]}
    return {"job_id": job_id, "seconds": info["duration"] / 1000, "counts": counts, "slots": slots,
            "vertices": vertices, "load_before": before, "load_after": load()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=300_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scaling.json")
    args = parser.parse_args()
    runs, problems = [], []
    with Service("flink-cluster") as cluster_env, tempfile.TemporaryDirectory(prefix="kairos-scaling-") as tmp:
        rest = cluster_env["FLINK_REST"]
        work = Path(tmp)
        files, want = {}, {}
        for size in (args.small, args.big):
            files[size] = work / f"fraud-{size}.jsonl"
            inputs.fraud(files[size], size)
            want[size] = oracle.fraud_counts(files[size])["arrival"]
        for size in (args.small, args.big):
            for parallelism in (1, 2):  # alternating, so load drifts hit both
                row = run_on_cluster(rest, files[size], work / f"out-{size}-p{parallelism}", parallelism)
                row.update(events=size, parallelism=parallelism)
                print(f"  cluster p{parallelism} {size:>8} events {row['seconds']:7.2f} s counts {row['counts']} "
                      f"load {row['load_before'][0]} -> {row['load_after'][0]}", flush=True)
                expected = {k: want[size][k] for k in row["counts"]}
                if row["counts"] != expected:
                    problems.append(f"p{parallelism} {size}: counts {row['counts']} != oracle {expected}")
                runs.append(row)
    rates = {}
    for parallelism in (1, 2):
        seconds = {r["events"]: r["seconds"] for r in runs if r["parallelism"] == parallelism}
        delta = seconds[args.big] - seconds[args.small]
        rates[f"p{parallelism}"] = {"seconds_small": seconds[args.small], "seconds_big": seconds[args.big],
                                    "marginal_eps": round((args.big - args.small) / delta) if delta > 0 else None}
    p1, p2 = rates["p1"]["marginal_eps"], rates["p2"]["marginal_eps"]
    result = {"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
              "runs": runs, "rates": rates, "speedup": round(p2 / p1, 2) if p1 and p2 else None,
              "problems": problems, "ok": not problems}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"rates": rates, "speedup": result["speedup"]}))
    for problem in problems:
        print(f"MISMATCH: {problem}", file=sys.stderr)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
