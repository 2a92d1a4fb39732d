"""`make bench`: run every benchmark script in bench/ and gather their JSON results into one summary.

Each benchmark writes bench/results/<name>.json itself; this runner adds machine facts and writes
bench/results/summary.json. Speed targets are checked here, never in timed tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# script -> the JSON file it writes into bench/results/
BENCHMARKS = {"sandbox_bench.py": "sandbox.json", "fraud_throughput.py": "fraud_throughput.json"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", help="run only this benchmark script (repeatable)")
    args = parser.parse_args()
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    summary = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "platform": platform.platform()}, "results": {}}
    failed = 0
    for script in args.only or BENCHMARKS:
        path = HERE / script
        if not path.exists():
            print(f"skip {script}: not present")
            continue
        print(f"== {script}", flush=True)
        started = time.monotonic()
        rc = subprocess.call([sys.executable, str(path)], env=env)
        name = path.stem
        result_file = out / BENCHMARKS.get(script, f"{name}.json")
        result = json.loads(result_file.read_text()) if result_file.exists() else None
        summary["results"][name] = {"exit_code": rc, "wall_seconds": round(time.monotonic() - started, 1),
                                    "result": result}
        failed += rc != 0
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
