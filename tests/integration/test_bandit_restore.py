"""A bandit's statistics survive a stop with savepoint and a restore on the Flink session cluster.

Phase 1: 300 decisions (no feedback yet: the arms get about a third each), then conversions for half of the
decisions that took `data_5gb` and for 2% of the others, plus two conversions of unknown ids (dead letters).
Once the job's consumer group committed past every conversion (a completed checkpoint holds them in the
bandit's keyed state), `kairos stop --savepoint`; then `kairos submit --from-savepoint` and 200 new decisions.

Oracle: tests/experiment_oracle.replay (the documented rules, replayed independently) over decisions 1,
conversions, decisions 2 in that order: the arm of every decision of phase 2 must be exactly the one a job
that remembers phase 1 takes; a fresh job (lost state) would take the arms of replay(decisions 2 alone),
which differ (checked on the input: data_5gb's share of phase 2 is > 85% with the learned posteriors and
under 50% from scratch).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter

import pytest

from jobs.config.settings import KafkaSettings
from jobs.connect.cluster import cancel_job, job_state
from jobs.connect.topics import ensure_topics, produce
from tests.experiment_oracle import replay
from tests.integration.test_cluster_submit import kairos
from tests.integration.test_kafka_es_e2e import committed, read_topic, wait_for

pytestmark = pytest.mark.integration
SCENARIO = """\
name: bandit_restore
sources:
  offers:
    schema: {id: string, customer_id: string, ts: timestamp}
    key: customer_id
    time: ts
    id: id
  conversions:
    schema: {action_id: string, customer_id: string, ts: timestamp}
    key: customer_id
    time: ts
nodes:
  - id: pick
    type: bandit
    from: offers
    arms: [cashback, data_5gb, voice_300]
    feedback: {source: conversions, action_id: action_id}
    floor: 0.02
    seed: 5
  - {id: offer, type: action, channel: sms, payload: {offer: arm}}
"""
ARMS = ["cashback", "data_5gb", "voice_300"]
BEST = "data_5gb"
T0 = 1_793_600_000_000


def decisions(first: int, n: int) -> list[dict]:
    return [{"id": f"e{i}", "customer_id": f"c{i}", "ts": T0 + 1000 * i} for i in range(first, first + n)]


def conversions(chosen: dict[str, str], rng: random.Random) -> list[dict]:
    out = [{"action_id": f"bandit_restore:offer:{e}", "customer_id": "c" + e[1:], "ts": T0 + 400_000 + i}
           for i, (e, arm) in enumerate(sorted(chosen.items())) if rng.random() < (0.5 if arm == BEST else 0.02)]
    return [*out, {"action_id": "bandit_restore:offer:nope", "customer_id": "x", "ts": T0 + 499_000},
            {"action_id": "other:offer:e1", "customer_id": "x", "ts": T0 + 499_500}]


def oracle(inputs: list[tuple[str, dict]]):
    return replay(inputs, arms=ARMS, seed=5, name="pick", floor=0.02, scenario="bandit_restore",
                  decision_source="offers", id_field="id", action_field="action_id")


def share(chosen: dict[str, str], ids: list[str]) -> float:
    return Counter(chosen[i] for i in ids)[BEST] / len(ids)


def arms_sent(kafka: KafkaSettings, topic: str) -> dict[str, str]:
    return {r["event_id"]: r["payload"]["offer"] for _, r in read_topic(kafka, topic)}


def test_bandit_posteriors_survive_a_savepoint_restore(kafka_bootstrap, flink_rest, tmp_path):
    (tmp_path / "bandit.yaml").write_text(SCENARIO, encoding="utf-8")
    d1, d2 = decisions(0, 300), decisions(300, 200)
    chosen1, _ = oracle([("offers", d) for d in d1])
    convs = conversions(chosen1, random.Random(3))
    merged = [("offers", d) for d in d1] + [("conversions", c) for c in convs] + [("offers", d) for d in d2]
    remembered, dead = oracle(merged)
    fresh, _ = oracle([("offers", d) for d in d2])
    ids2 = [d["id"] for d in d2]
    print(f"phase 1 arms {Counter(chosen1.values())}; data_5gb share of phase 2: remembered "
          f"{share(remembered, ids2):.2f}, fresh {share(fresh, ids2):.2f}")
    assert share(remembered, ids2) > 0.85 and share(fresh, ids2) < 0.5  # the input teaches something
    assert len(dead) == 2

    prefix = f"t{uuid.uuid4().hex[:8]}."
    kafka = KafkaSettings(kafka_bootstrap)
    ensure_topics(kafka, [f"{prefix}offers", f"{prefix}conversions"])
    produce(kafka, f"{prefix}offers", [json.dumps(d) for d in d1])
    cluster = flink_rest.split("://", 1)[1]
    common = ["--cluster", cluster, "--kafka", kafka_bootstrap, "--prefix", prefix, "--start", "earliest",
              "--checkpoint-ms", "1000"]
    sms, group = f"{prefix}bandit_restore.actions.sms", f"{prefix}kairos-bandit_restore"
    first = kairos("submit", str(tmp_path / "bandit.yaml"), *common)
    assert first.returncode == 0, first.stderr[-3000:]
    job1 = first.stdout.strip().splitlines()[-1]
    try:
        got1 = wait_for("phase 1 decisions", lambda: (a := arms_sent(kafka, sms)) and len(a) >= len(d1) and a,
                        timeout=300)
        produce(kafka, f"{prefix}conversions", [json.dumps(c) for c in convs])
        wait_for("every conversion in a completed checkpoint",
                 lambda: committed(kafka, group, f"{prefix}conversions") >= len(convs), timeout=120)
    except BaseException:
        cancel_job(flink_rest, job1)
        raise
    assert got1 == chosen1
    stopped = kairos("stop", job1, "--cluster", cluster, "--savepoint", str(tmp_path / "savepoints"))
    assert stopped.returncode == 0, stopped.stderr
    savepoint = stopped.stdout.strip().splitlines()[-1]
    wait_for("job 1 finished", lambda: job_state(flink_rest, job1) == "FINISHED", timeout=60)

    second = kairos("submit", str(tmp_path / "bandit.yaml"), *common, "--from-savepoint", savepoint)
    assert second.returncode == 0, second.stderr[-3000:]
    job2 = second.stdout.strip().splitlines()[-1]
    try:
        produce(kafka, f"{prefix}offers", [json.dumps(d) for d in d2])
        got = wait_for("phase 2 decisions", lambda: (a := arms_sent(kafka, sms)) and len(a) >= len(d1) + len(d2)
                       and a, timeout=300)
        time.sleep(2)
        n_sent = len(read_topic(kafka, sms))
        dead_got = [r for _, r in read_topic(kafka, f"{prefix}bandit_restore.dead_letter")]
    finally:
        cancel_job(flink_rest, job2)
    # the restored job read on from the savepoint's offsets: had it started over (--start earliest), it would
    # have rebuilt the same statistics from the topics, and sent phase 1's 300 decisions again
    assert n_sent == len(d1) + len(d2)
    got2 = {i: got[i] for i in ids2}
    print(f"restored job: data_5gb share of phase 2 {share(got2, ids2):.2f}")
    assert got2 == {i: remembered[i] for i in ids2}  # every arm as if the job had never stopped
    assert got2 != {i: fresh[i] for i in ids2}  # and not what a fresh start (lost statistics) takes
    assert share(got2, ids2) > 0.85
    assert sorted(d["raw"]["action_id"] for d in dead_got) == sorted(c["action_id"] for c in dead)
    assert all(d["node"] == "pick" for d in dead_got)
    wait_for("job 2 cancelled", lambda: job_state(flink_rest, job2) == "CANCELED", timeout=60)
