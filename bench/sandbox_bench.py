"""How fast `kairos test` answers: 1,000 events traced through the card-fraud scenario, whole command timed.

Writes bench/results/sandbox.json ({events, seconds, events_per_s, ...}); the target is under 3 s for 1,000
events (rich rendering of the first 20 paths included, and the --json variant with every path).

  PYTHONPATH=. .venv/bin/python bench/sandbox_bench.py [--events 1000] [--out bench/results/sandbox.json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobs.cli import main  # noqa: E402

SCENARIO = ROOT / "scenarios" / "card_fraud_velocity" / "card_fraud_velocity.yaml"
TARGET_SECONDS = 3.0


def write_events(path: Path, count: int) -> None:
    """Card transactions over ~3 hours for 50 cards, in time order, with a few bad lines (dead letters)."""
    rng = random.Random(7)
    start = datetime(2026, 11, 2, 10, tzinfo=timezone.utc)
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            ts = start + timedelta(seconds=i * 10)
            event = {"txn_id": f"t{i}", "card_id": f"card-{rng.randrange(50)}", "customer_id": f"c{rng.randrange(50)}",
                     "amount": round(rng.uniform(-5, 900), 2), "merchant": f"m{rng.randrange(200)}",
                     "country": rng.choice(["PL", "PL", "PL", "DE", "FR"]), "ts": ts.isoformat().replace("+00:00", "Z")}
            if i % 97 == 0:
                event["amount"] = "n/a"
            handle.write(json.dumps(event) + "\n")


def timed(args: list[str]) -> float:
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(args)
    assert code == 0, f"kairos {' '.join(args)} exited {code}"
    return time.perf_counter() - started


def cold(args: list[str]) -> float:
    """A fresh `kairos test` process, as an analyst runs it: interpreter start and imports included."""
    code = "import sys; from jobs.cli import main; sys.exit(main(sys.argv[1:]))"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    return time.perf_counter() - started


def run(count: int, out: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        events = Path(tmp) / "events.jsonl"
        write_events(events, count)
        base = ["test", str(SCENARIO), "--events", str(events)]
        timed(base)  # warm-up: imports (rich, the expression compiler) are not what we measure
        runs = {"rich_first_20": min(timed(base) for _ in range(3)),
                "json_all_paths": min(timed([*base, "--json", "--all"]) for _ in range(3)),
                "cold_process": cold(base)}
    worst = max(runs.values())
    result = {"scenario": SCENARIO.stem, "events": count, "seconds": round(worst, 4),
              "events_per_s": round(count / worst), "target_seconds": TARGET_SECONDS,
              "within_target": worst < TARGET_SECONDS,
              "runs": {k: round(v, 4) for k, v in runs.items()}, "python": sys.version.split()[0]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "sandbox.json")
    options = parser.parse_args()
    summary = run(options.events, options.out)
    print(json.dumps(summary, indent=2))
    # a missed target is a figure for the table (make bench compares it there), not a failed benchmark: on
    # this shared machine the cold process alone took 4.5 s at load 26 and 0.9-1.6 s at load ~1
    sys.exit(0)
