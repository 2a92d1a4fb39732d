"""`make drills`: the fault drills of docs/reliability.md; results in bench/drills.json and a table.

    PYTHONPATH=. .venv/bin/python -m bench.drills [--only taskmanager_crash,broker_restart,...] [--quick]

Every server a drill kills or restarts is its own (bench/drills/private.py): Kafka, Elasticsearch and a Flink
session cluster under .cache/drills/<time>/, on free ports, stopped at the end, also when a drill fails; the
shared services of .cache/services are never touched. A run updates the entries of the drills it ran and keeps
the others (each entry has its own time and load average). DRILLS_QUICK=1 (or --quick) scales every drill
down to a smoke run (about 15 minutes); the full set takes about two hours on the shared 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.drills import faults, fuzz, poison  # noqa: E402
from bench.drills.private import Private  # noqa: E402

CLUSTER = ("taskmanager_crash", "broker_restart", "es_outage", "restore")
ORDER = ("expression_fuzz", "poison_stream", *CLUSTER)
FULL = {"taskmanager_crash": 100_000, "broker_restart": 50_000, "es_outage": 50_000, "poison_stream": 100_000,
        "expression_fuzz": 100_000, "restore_rate": 300, "restore_down_s": 60, "rate": 500}  # events/s
QUICK = {"taskmanager_crash": 4_000, "broker_restart": 3_000, "es_outage": 3_000, "poison_stream": 4_000,
         "expression_fuzz": 2_000, "restore_rate": 50, "restore_down_s": 20, "rate": 100}


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_one(name: str, sizes: dict, private: Private | None) -> dict:
    if name == "expression_fuzz":
        return fuzz.run(sizes[name])
    if name == "poison_stream":
        return poison.run(private, sizes[name])
    if name == "taskmanager_crash":
        return faults.taskmanager_crash(private, sizes[name], kills=3, rate=sizes["rate"])
    if name == "broker_restart":
        return faults.broker_restart(private, sizes[name], rate=sizes["rate"])
    if name == "es_outage":
        return faults.es_outage(private, sizes[name], rate=sizes["rate"], down_s=30)
    if name == "restore":
        return faults.restore(private, sizes["restore_rate"], before_s=30, down_s=sizes["restore_down_s"])
    raise ValueError(name)


def _cell(result: dict, name: str) -> tuple[str, str, str, str]:
    """(size, lost, duplicated, figure) for the table."""
    if "error" in result:
        return "-", "-", "-", "error: " + result["error"].splitlines()[-1][:60]
    if name == "expression_fuzz":
        return (f"{result['expressions']} expr", "-", "-",
                f"{result['crashes']} crashes, {result['escapes']} escapes, eval p99 {result['eval_ms']['p99']} ms, "
                f"max {result['eval_ms']['max']} ms once ({result['over_10ms']} over 10 ms, "
                f"{result['over_10ms_reproducible']} when timed again)")
    if name == "poison_stream":
        return (f"{result['records']} rec", "0" if not result.get("problems") else "see problems", "-",
                f"{result['hostile']} hostile, {result.get('dead_letters')} dead letters, "
                f"{len(result.get('unbalanced_nodes', []))} unbalanced nodes, "
                f"late good {result.get('late_good_events')}")
    lost = f"{result['actions_lost']} / {result['docs_lost']}"
    dup = f"{result['actions_duplicated']}"
    figure = f"{result['job_restarts']} job restarts, all out after {result['completed_in_s']} s"
    if name == "taskmanager_crash":
        figure = f"{len(result['kills'])} kills, " + figure
    if name == "restore":
        figure = (f"{result['job_restarts']} job restarts, TaskManager away {result['down_s']} s "
                  f"({result['events_while_down']} events meanwhile), running {result['running_after_restart_s']} s "
                  f"after the new one started, catch-up {result['catch_up_s']} s")
    if name == "es_outage":
        figure += f", ES down {result['elasticsearch'].get('down_s')} s"
    if name == "broker_restart":
        figure += f", broker down {result['broker'].get('down_s')} s"
    return f"{result['events']} ev", lost, dup, figure


def table(drills: dict) -> str:
    rows = [("drill", "size", "lost (actions / docs)", "duplicated actions", "ok", "figures")]
    for name in ORDER:
        if name in drills:
            r = drills[name]
            size, lost, dup, figure = _cell(r, name)
            rows.append((name + (" (quick)" if r.get("quick") else ""), size, lost, dup, "yes" if r.get("ok") else "NO",
                         figure))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def _interrupted(signum, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(ORDER), help="comma-separated drills: " + ", ".join(ORDER))
    parser.add_argument("--quick", action="store_true", default=os.environ.get("DRILLS_QUICK") == "1")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "drills.json")
    args = parser.parse_args()
    # a TERM (or an INT, which a background job ignores) still stops the private servers: finally below runs
    signal.signal(signal.SIGTERM, _interrupted)
    chosen = [n for n in ORDER if n in args.only.split(",")]
    unknown = set(args.only.split(",")) - set(ORDER)
    if unknown:
        parser.error(f"unknown drills: {', '.join(sorted(unknown))}")
    sizes = QUICK if args.quick else FULL
    previous = json.loads(args.out.read_text())["drills"] if args.out.exists() else {}
    drills = dict(previous)
    started = time.monotonic()
    needs = ["kafka"] if "poison_stream" in chosen else []
    if any(n in CLUSTER for n in chosen):
        needs = ["kafka", "elasticsearch", "flink-cluster"]
    root = ROOT / ".cache" / "drills" / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    private = Private(root, needs) if needs else None
    try:
        if private is not None:
            private.__enter__()
        for name in chosen:
            print(f"== drill {name}", flush=True)
            load_before, t0 = _load(), time.monotonic()
            try:
                result = run_one(name, sizes, private)
            except Exception:  # noqa: BLE001 - one drill's failure is its result; the others still run
                result = {"ok": False, "error": traceback.format_exc()[-3000:]}
                print(result["error"], flush=True)
            result.update({"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                           "quick": args.quick, "duration_s": round(time.monotonic() - t0, 1),
                           "load_before": load_before, "load_after": _load()})
            drills[name] = result
            print(json.dumps({k: v for k, v in result.items() if not k.endswith("samples")}, default=str)[:1500],
                  flush=True)
            args.out.write_text(json.dumps({"drills": drills, "cpus": os.cpu_count()}, indent=1, default=str)
                                + "\n", encoding="utf-8")
    finally:
        if private is not None:
            private.stop()
            for data in ("kafka/data", "elasticsearch/data", "flink-cluster/state", "flink-cluster/tmp"):
                shutil.rmtree(root / "services" / data, ignore_errors=True)
    print(f"\n{table(drills)}\n\n({len(chosen)} drills in {time.monotonic() - started:.0f} s; logs in {root})")
    return 0 if all(drills[n].get("ok") for n in chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
