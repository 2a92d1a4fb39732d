"""Throughput of a streaming (Kafka) run, fused (decision 0022) against the two-operator path, same run.

    PYTHONPATH=. .venv/bin/python bench/streaming_throughput.py [--small 20000] [--big 60000] [--rounds 1]

The bank example (bench/scenarios/low_balance_offer: every ATM refusal is enriched, earns a detection and a
delayed SMS) reads topics filled beforehand (2,000 profiles + `small` or `big` ATM events, times in order)
as a bounded job (`kairos run --kafka --bounded`: up to the end offsets), writing actions, detections and dead
letters to Kafka. Variants alternate (round r in one order, round r+1 in the reverse one), each on a fresh
MiniCluster in this one JVM; the rate is marginal, (big - small) / (seconds(big) - seconds(small)), so job
start and shutdown cancel out. The load average is recorded before and after every job.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.latency_kafka import CUSTOMERS, SCENARIO, _profile, delete_topics, iso  # noqa: E402
from bench.services import Service  # noqa: E402


def fill(bootstrap: str, prefix: str, events: int) -> None:
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="kairos-bench")
    try:
        admin.create_topics([NewTopic(f"{prefix}atm", 1, 1),
                             NewTopic(f"{prefix}profiles", 1, 1, topic_configs={"cleanup.policy": "compact"})])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=20, batch_size=262_144)
    start = int(time.time() * 1000) - 3_600_000
    for c in range(CUSTOMERS):
        producer.send(f"{prefix}profiles", key=f"cust-{c}".encode(), value=json.dumps(_profile(c, start - 1)).encode())
    for i in range(events):
        customer = f"cust-{i % CUSTOMERS}"
        value = {"event_id": f"E{i}", "customer_id": customer, "atm_id": "atm-1", "requested": 300.0,
                 "reason": "insufficient_funds", "ts": iso(start + i * 10)}
        producer.send(f"{prefix}atm", key=customer.encode(), value=json.dumps(value).encode())
    producer.flush()
    producer.close()


def run(bootstrap: str, prefix: str, fuse: bool) -> dict:
    from jobs.compiler.plan import make_plan
    from jobs.compiler.validate import load
    from jobs.config.settings import load_connections
    from jobs.connect.runner import ConnectOptions, build, default_kafka_jar, prepare

    plan = make_plan(load(str(SCENARIO)))
    conns = load_connections(bootstrap, None, environ={})
    opts = ConnectOptions(prefix=prefix, start="earliest", bounded=True, kafka_jar=default_kafka_jar(), fuse=fuse,
                          extra_config={"restart-strategy.type": "none"})
    prepare(plan, conns, opts)
    env = build(plan, conns, opts)
    load_before = [round(x, 2) for x in os.getloadavg()]
    started = time.monotonic()
    env.execute(f"bench/streaming-{'fused' if fuse else 'unfused'}")
    return {"seconds": round(time.monotonic() - started, 2), "load_before": load_before,
            "load_after": [round(x, 2) for x in os.getloadavg()]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=20_000)
    parser.add_argument("--big", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "streaming_throughput.json")
    args = parser.parse_args()
    from jobs.flink.embedded import prepare_python_path

    prepare_python_path()
    runs: list[dict] = []
    with Service("kafka") as kafka_env:
        bootstrap = kafka_env["KAFKA_BOOTSTRAP"]
        base = f"benchst{uuid.uuid4().hex[:6]}."
        prefixes = {n: f"{base}{n}." for n in (args.small, args.big)}
        try:
            for n, prefix in prefixes.items():
                fill(bootstrap, prefix, n)
            for r in range(args.rounds):
                order = [True, False] if r % 2 == 0 else [False, True]
                for fuse in order:
                    for n, prefix in prefixes.items():
                        result = {"variant": "fused" if fuse else "unfused", "events": n, "round": r,
                                  **run(bootstrap, prefix, fuse)}
                        print(json.dumps(result), flush=True)
                        runs.append(result)
        finally:
            for prefix in prefixes.values():
                delete_topics(bootstrap, prefix)
    rates = {}
    for variant in ("fused", "unfused"):
        best = {n: min(r["seconds"] for r in runs if r["variant"] == variant and r["events"] == n) for n in prefixes}
        rates[variant] = round((args.big - args.small) / max(best[args.big] - best[args.small], 1e-9))
    out = {"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "runs": runs,
           "marginal_eps": rates, "ratio_fused_vs_unfused": round(rates["fused"] / rates["unfused"], 2)}
    print(json.dumps(out["marginal_eps"]), out["ratio_fused_vs_unfused"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
