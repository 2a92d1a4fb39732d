"""Upgrade a running scenario with a savepoint, on the Flink session cluster (docs/operations.md "Upgrade").

OLD: 1-minute tumbling windows per customer (emitted on close), enriched as of the window's end from a
changelog of profiles (event-time join), and a crm action per window. It runs on batch A (10:00:00-10:02:30),
is stopped with `kairos stop --savepoint` (no drain: the window 10:02-10:03 is still open and stays in the
savepoint), and NEW (OLD + a filter for gold customers + an sms action; existing nodes unchanged) is submitted
`--from-savepoint` and reads batch B (10:02:30-10:05). The profiles of c1..c3 are in their topic once, before the
first job: the second job does not read them again (the savepoint holds its read positions), so every enriched
result in phase 2 comes from restored profile state, and the window 10:02-10:03 counts A's and B's events.
Expected outputs: a brute-force oracle over the events (windows, sums, the profile version in force at
the window's last millisecond), per phase.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import datetime, timezone

import pytest

from jobs.config.settings import KafkaSettings
from jobs.connect.cluster import cancel_job, job_state
from jobs.connect.topics import ensure_topics, produce
from tests.integration.test_cluster_submit import kairos
from tests.integration.test_kafka_es_e2e import wait_for
from tests.integration.test_metrics_scrape import at_least, iso

pytestmark = pytest.mark.integration
OLD = """
name: ops_upgrade
sources:
  txns:
    schema: {id: string, customer_id: string, amount: float, ts: timestamp}
    key: customer_id
    time: ts
    id: id
    out_of_orderness: 2s
  profiles:
    kind: changelog
    schema: {customer_id: string, name: string, tier: string, updated_at: timestamp}
    key: customer_id
    time: updated_at
nodes:
  - id: spend
    type: aggregate
    from: txns
    window: tumbling
    size: 1m
    emit: on_close
    aggregations: {n: count(), total: sum(amount)}
  - {id: profile, type: enrich, changelog: profiles, as: profile, mode: event_time}
  - {id: report, type: action, channel: crm, payload: {n: n, total: total, name: profile.name, tier: profile.tier}}
"""
NEW = OLD + """\
  - {id: gold, type: filter, from: profile, condition: "profile.tier = 'gold'"}
  - {id: vip, type: action, channel: sms, payload: {total: total, name: profile.name}}
"""
T0 = int(datetime(2026, 11, 1, 10, 0, tzinfo=timezone.utc).timestamp() * 1000)
WINDOW_MS = 60_000
PROFILES = [  # (customer, name, tier, updated_at)
    ("c1", "Ann", "silver", T0 - 3_600_000), ("c2", "Bob", "gold", T0 - 3_600_000),
    ("c3", "Cid", "silver", T0 - 3_600_000), ("c1", "Ann", "gold", T0 + 100_000),
]


def batch(rng: random.Random, start_ms: int, end_ms: int, first_id: int) -> list[dict]:
    out, t, i = [], start_ms, first_id
    while t < end_ms:
        out.append({"id": f"e{i}", "customer_id": rng.choice(["c1", "c2", "c3"]),
                    "amount": float(rng.randint(1, 50)), "ts": t})
        t, i = t + rng.randint(1000, 4000), i + 1
    out.sort(key=lambda e: e["ts"] + rng.randint(0, 1500))  # out of order by up to 1.5 s (2 s allowed)
    return out


def heartbeat(kafka: KafkaSettings, topic: str, ts: int) -> None:
    """A profile of a customer without events: the changelog's watermark (no idleness: a changelog that goes
    idle before its first records are read would make them late) moves past the events'. After a restore
    a watermark starts from nothing, so phase 2 needs one too; c1..c3 are NOT sent again."""
    produce(kafka, topic, [json.dumps({"customer_id": "c0", "name": "-", "tier": "-", "updated_at": iso(ts)})],
            key_field="customer_id")


def profile_at(customer: str, ts: int) -> dict | None:
    versions = [p for p in PROFILES if p[0] == customer and p[3] <= ts]
    return max(versions, key=lambda p: p[3]) if versions else None


def oracle(events: list[dict], windows: set[int], with_vip: bool) -> list[tuple]:
    """(node, to, time, payload) of every action for the given window starts."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for e in events:
        groups.setdefault((e["customer_id"], e["ts"] // WINDOW_MS * WINDOW_MS), []).append(e)
    out = []
    for (customer, start), rows in groups.items():
        if start not in windows:
            continue
        end = start + WINDOW_MS - 1
        p = profile_at(customer, end)
        total = sum(r["amount"] for r in rows)
        out.append(("report", customer, iso(end), {"n": len(rows), "total": total, "name": p and p[1],
                                                   "tier": p and p[2]}))
        if with_vip and p and p[2] == "gold":
            out.append(("vip", customer, iso(end), {"total": total, "name": p[1]}))
    return sorted(out, key=repr)


def actions(records: list[dict]) -> list[tuple]:
    return sorted(((r["node"], r["to"], r["time"], r["payload"]) for r in records), key=repr)


def test_upgrade_from_savepoint(kafka_bootstrap, flink_rest, tmp_path):
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(OLD, encoding="utf-8")
    new.write_text(NEW, encoding="utf-8")
    checked = kairos("validate", str(new), "--against", str(old))
    assert checked.returncode == 0, checked.stdout + checked.stderr

    rng = random.Random(7)
    a = batch(rng, T0, T0 + 150_001, 0)
    b = batch(rng, T0 + 152_000, T0 + 295_001, 1000)
    flush = {"id": "flush", "customer_id": "c9", "amount": 1.0, "ts": T0 + 3_600_000}  # its window never closes
    prefix = f"t{uuid.uuid4().hex[:8]}."
    kafka = KafkaSettings(kafka_bootstrap)
    ensure_topics(kafka, [f"{prefix}txns"])
    ensure_topics(kafka, [f"{prefix}profiles"], compacted=[f"{prefix}profiles"])
    produce(kafka, f"{prefix}profiles", [json.dumps({"customer_id": c, "name": n, "tier": t, "updated_at": iso(u)})
                                         for c, n, t, u in PROFILES], key_field="customer_id")
    produce(kafka, f"{prefix}txns", [json.dumps({**e, "ts": iso(e["ts"])}) for e in a])
    heartbeat(kafka, f"{prefix}profiles", T0 + 3_600_000)
    cluster = flink_rest.split("://", 1)[1]
    common = ["--cluster", cluster, "--kafka", kafka_bootstrap, "--prefix", prefix, "--start", "earliest",
              "--checkpoint-ms", "2000"]

    # phase 1: the windows 10:00 and 10:01 close (watermark 10:02:28); 10:02 stays open
    phase1 = oracle(a, {T0, T0 + WINDOW_MS}, with_vip=False)
    first = kairos("submit", str(old), *common)
    assert first.returncode == 0, first.stderr[-3000:]
    job1 = first.stdout.strip().splitlines()[-1]
    crm_topic = f"{prefix}ops_upgrade.actions.crm"
    try:
        got1 = actions(at_least(kafka, crm_topic, len(phase1)))
    except BaseException:
        cancel_job(flink_rest, job1)
        raise
    time.sleep(3)  # nothing more may come: the open window must not fire before the savepoint
    stopped = kairos("stop", job1, "--cluster", cluster, "--savepoint", str(tmp_path / "savepoints"))
    assert stopped.returncode == 0, stopped.stderr
    savepoint = stopped.stdout.strip().splitlines()[-1]
    wait_for("job 1 finished", lambda: job_state(flink_rest, job1) == "FINISHED", timeout=60)
    print(f"phase 1 (OLD): {len(got1)} actions; savepoint {savepoint}")
    for row in got1:
        print("  ", row)
    assert got1 == phase1

    # phase 2: NEW from the savepoint reads only batch B (+ the flush), profiles come from state
    produce(kafka, f"{prefix}txns", [json.dumps({**e, "ts": iso(e["ts"])}) for e in [*b, flush]])
    heartbeat(kafka, f"{prefix}profiles", T0 + 3_601_000)
    later = {T0 + 2 * WINDOW_MS, T0 + 3 * WINDOW_MS, T0 + 4 * WINDOW_MS}
    phase2 = oracle(a + b, later, with_vip=True)
    # the test can fail: without the restored window, 10:02 would count B's events only
    assert phase2 != oracle(b, later, with_vip=True)
    second = kairos("submit", str(new), *common, "--from-savepoint", savepoint, "--against", str(old))
    assert second.returncode == 0, second.stderr[-3000:]
    job2 = second.stdout.strip().splitlines()[-1]
    try:
        crm = at_least(kafka, crm_topic, len(phase1) + sum(1 for r in phase2 if r[0] == "report"))
        sms = at_least(kafka, f"{prefix}ops_upgrade.actions.sms", sum(1 for r in phase2 if r[0] == "vip"))
        got2 = actions([r for r in crm if r["time"] >= iso(T0 + 2 * WINDOW_MS)] + sms)
        print(f"phase 2 (NEW from the savepoint): {len(got2)} actions")
        for row in got2:
            print("  ", row)
        assert actions(crm) == sorted(phase1 + [r for r in phase2 if r[0] == "report"], key=repr)
        assert got2 == phase2
    finally:
        cancel_job(flink_rest, job2)
    wait_for("job 2 cancelled", lambda: job_state(flink_rest, job2) == "CANCELED", timeout=60)
