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
BENCHMARKS = ["sandbox_bench.py", "fraud_throughput.py"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(HERE / "results"), help="directory for the JSON results")
    parser.add_argument("--only", action="append", help="run only this benchmark script (repeatable)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
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
        rc = subprocess.call([sys.executable, str(path), "--out", args.out], env=env)
        name = path.stem
        result_file = Path(args.out) / f"{name}.json"
        result = json.loads(result_file.read_text()) if result_file.exists() else None
        summary["results"][name] = {"exit_code": rc, "wall_seconds": round(time.monotonic() - started, 1),
                                    "result": result}
        failed += rc != 0
    (Path(args.out) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
