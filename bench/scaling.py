"""The fraud file run on the Flink session cluster at parallelism 1 and 2 (the cluster's REST address:
.cache/services/flink-cluster.env; started with services/flink-cluster.sh and stopped again if it was down).

    PYTHONPATH=. .venv/bin/python bench/scaling.py [--small 100000] [--big 300000]

Each run is `flink run -d -py jobs/scenario_job.py --events ... --out ... --parallelism P` (what `kairos submit`
uses; jobs/connect/cluster.py); its time is the job's own duration from the REST API (scheduling to the end,
without the client's start). Rates are marginal, (big - small) / (duration(big) - duration(small)), and the
outputs' counts are checked against the brute-force oracle before any rate is reported. The cluster must have
`P` free task slots; the benchmark waits for them (other jobs may be running) and reports what it saw.

Two layouts: the project's session cluster (one TaskManager, two slots: both subtasks' Python in one
interpreter) and a private cluster of two TaskManagers with one slot each (two interpreters), started and
stopped here (`--no-two-taskmanagers` skips it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
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


def measure(rest: str, files: dict, want: dict, work: Path, label: str, problems: list) -> tuple[list, dict]:
    """p1 and p2 on both sizes, alternating (load drifts hit both); rates are marginal."""
    runs = []
    for size in sorted(files):
        for parallelism in (1, 2):
            row = run_on_cluster(rest, files[size], work / f"out-{label}-{size}-p{parallelism}", parallelism)
            row.update(events=size, parallelism=parallelism)
            print(f"  {label} p{parallelism} {size:>8} events {row['seconds']:7.2f} s counts {row['counts']} "
                  f"load {row['load_before'][0]} -> {row['load_after'][0]}", flush=True)
            expected = {k: want[size][k] for k in row["counts"]}
            if row["counts"] != expected:
                problems.append(f"{label} p{parallelism} {size}: counts {row['counts']} != oracle {expected}")
            runs.append(row)
    small, big = min(files), max(files)
    rates = {}
    for parallelism in (1, 2):
        seconds = {r["events"]: r["seconds"] for r in runs if r["parallelism"] == parallelism}
        delta = seconds[big] - seconds[small]
        rates[f"p{parallelism}"] = {"seconds_small": seconds[small], "seconds_big": seconds[big],
                                    "marginal_eps": round((big - small) / delta) if delta > 0 else None}
    return runs, rates


class TwoTaskManagers:
    """A private session cluster of two TaskManagers with one slot each (services/flink-cluster.sh with
    FLINK_TASKMANAGERS=2 FLINK_TASK_SLOTS=1): two Python interpreters, so two subtasks' Python can run at the
    same time, which one TaskManager's two slots cannot (one interpreter, one GIL, in thread mode)."""

    def __init__(self, root: Path):
        self.env_dir = root / "services"

    def _script(self, command: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "SERVICES_ENV_DIR": str(self.env_dir), "FLINK_TASKMANAGERS": "2",
               "FLINK_TASK_SLOTS": "1"}
        return subprocess.run([str(ROOT / "services" / "flink-cluster.sh"), command], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=600, check=False)

    def __enter__(self) -> str:
        self.env_dir.mkdir(parents=True, exist_ok=True)
        done = self._script("start")
        if done.returncode != 0:
            self._script("stop")
            raise RuntimeError(f"two-TaskManager cluster did not start: {done.stderr[-2000:]}")
        for line in (self.env_dir / "flink-cluster.env").read_text(encoding="utf-8").splitlines():
            if line.startswith("export FLINK_REST="):
                return line.split("=", 1)[1].strip().strip('"')
        raise RuntimeError("two-TaskManager cluster: no FLINK_REST in its env file")

    def __exit__(self, *exc) -> None:
        self._script("stop")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=300_000)
    parser.add_argument("--no-two-taskmanagers", action="store_true",
                        help="skip the private two-TaskManager cluster (one slot each)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scaling.json")
    args = parser.parse_args()
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kairos-scaling-") as tmp:
        work = Path(tmp)
        files, want = {}, {}
        for size in (args.small, args.big):
            files[size] = work / f"fraud-{size}.jsonl"
            inputs.fraud(files[size], size)
            want[size] = oracle.fraud_counts(files[size])["arrival"]
        with Service("flink-cluster") as cluster_env:
            runs, rates = measure(cluster_env["FLINK_REST"], files, want, work, "cluster", problems)
        two = None
        if not args.no_two_taskmanagers:
            with TwoTaskManagers(work) as rest:
                two_runs, two_rates = measure(rest, files, want, work, "2 TMs", problems)
            p1, p2 = two_rates["p1"]["marginal_eps"], two_rates["p2"]["marginal_eps"]
            two = {"runs": two_runs, "rates": two_rates, "speedup": round(p2 / p1, 2) if p1 and p2 else None}
    p1, p2 = rates["p1"]["marginal_eps"], rates["p2"]["marginal_eps"]
    result = {"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
              "runs": runs, "rates": rates, "speedup": round(p2 / p1, 2) if p1 and p2 else None,
              "two_taskmanagers": two, "problems": problems, "ok": not problems}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"rates": rates, "speedup": result["speedup"],
                      "two_taskmanagers": two and {"rates": two["rates"], "speedup": two["speedup"]}}))
    for problem in problems:
        print(f"MISMATCH: {problem}", file=sys.stderr)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
