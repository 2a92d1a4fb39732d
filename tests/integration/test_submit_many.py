"""`kairos submit A.yaml B.yaml` on the Flink session cluster: two different scenarios, ONE cluster job.

sub_counter keeps a profile per customer (count, sum) and divides by `amount - 13` (division by zero: a dead
letter of sub_counter, for every event of amount 13); sub_big keeps its own profile and sends an SMS from
amount 13 up, so the events that fail in sub_counter are actions in sub_big. Both read the topic `txns`.

Phase 1: batch A (in order; no node depends on watermarks). `kairos jobs` lists the one job; `kairos erase c1`
must be confirmed by the job's consumer group (it reads the control topic like the embedded many-campaigns
job); `kairos stop --savepoint`, and the same two files submitted `--from-savepoint`. Phase 2: batch B, read
by the restored job (both scenarios' profiles come from the savepoint). Oracle: the in-process harness per
scenario alone, over A for phase 1, and over (A without c1's events) + B for phase 2 (an erased key's state is
as if its earlier events never happened), restricted to B's events. Per scenario: its actions topic, its
detections topic, its dead-letter topic, and its counters per node as the TaskManager's Prometheus endpoint
shows them (the restored job's: batch B's, from the harness's counts). The cluster must run this checkout's
code (its TaskManager keeps the first `jobs` it imported: see tests/integration/test_metrics_scrape.py).
"""

from __future__ import annotations

import json
import random
import time
import uuid

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.config.settings import KafkaSettings
from jobs.connect.cluster import job_state
from jobs.connect.topics import ensure_topics, produce
from jobs.runtime.harness import run_in_process
from tests.integration.test_cluster_submit import kairos
from tests.integration.test_kafka_es_e2e import read_topic, wait_for

pytestmark = pytest.mark.integration
SOURCE = """\
sources:
  txns:
    schema: {id: string, customer_id: string, amount: float, ts: timestamp}
    key: customer_id
    time: ts
    id: id
    out_of_orderness: 5s
"""
COUNTER = "name: sub_counter\n" + SOURCE + """\
nodes:
  - id: customer
    type: profile
    ttl: 30d
    fields:
      n: {kind: count}
      spent: {kind: sum, of: amount}
  - {id: ratio, type: filter, condition: "amount / (amount - 13) > 0"}
  - {id: seen, type: detected, kind: seen, fields: {n: profile.n, spent: profile.spent}}
"""
BIG = "name: sub_big\n" + SOURCE + """\
nodes:
  - id: visits
    type: profile
    ttl: 30d
    fields:
      n: {kind: count}
  - {id: big, type: filter, condition: "amount >= 13"}
  - {id: sms, type: action, channel: sms, to: customer_id, payload: {amount: amount, n: profile.n}}
"""
T0 = 1_793_600_000_000
KINDS = ("actions", "detected", "dead_letter")


def events(rng: random.Random, first: int, n: int) -> list[dict]:
    return [{"id": f"e{i}", "customer_id": f"c{rng.randrange(5)}", "ts": T0 + 1000 * i,
             "amount": rng.choice([13.0, 13.0, 5.0, 20.0, 40.0, float(rng.randint(1, 60))])}
            for i in range(first, first + n)]


def lines(batch: list[dict]) -> list[str]:
    return [json.dumps(e) for e in batch]


def outputs(plan, batch: list[dict], only: set[str] | None = None) -> dict[str, list[dict]]:
    """The harness's outputs of `plan` alone over `batch`, of the events in `only` (None: all)."""
    got = json.loads(json.dumps(run_in_process(plan, [("txns", line) for line in lines(batch)]).__dict__))

    def event_of(record: dict) -> str:
        return record["raw"]["id"] if "raw" in record else record["event_id"]

    return {k: sorted((r for r in got[k] if only is None or event_of(r) in only), key=json.dumps) for k in KINDS}


COUNTS = ("in", "out", "filtered", "dead_letter", "held")


def phase_counts(plan, before: list[dict], batch: list[dict]) -> dict[str, dict[str, int]]:
    """The harness's counters of `batch` fed after `before` (a restored job's counters start from 0)."""
    def run(events):
        return run_in_process(plan, [("txns", line) for line in lines(events)]).counts

    total, earlier = run(before + batch), run(before)
    return {node: {c: total[node][c] - earlier.get(node, {}).get(c, 0) for c in COUNTS} for node in total}


def topics(prefix: str, name: str) -> dict[str, str]:
    """Each scenario's own output topics (sub_counter has no action: no actions topic)."""
    own = {"detected": f"{prefix}{name}.detections", "dead_letter": f"{prefix}{name}.dead_letter"}
    return {"actions": f"{prefix}{name}.actions.sms", **own} if name == "sub_big" else own


def scrape(flink_env: dict, job_id: str) -> dict[str, dict[str, dict[str, int]]]:
    from jobs.connect import prometheus as prom

    samples = prom.kairos_samples(prom.taskmanager_samples("127.0.0.1", flink_env["FLINK_PROM_PORTS"]), job_id)
    return {name: {n: {k: c.get(k, 0) for k in COUNTS} for n, c in prom.node_counts(samples, name).items()}
            for name in ("sub_counter", "sub_big")}


def read_all(kafka: KafkaSettings, prefix: str, name: str) -> dict[str, list[dict]]:
    found = {k: sorted((r for _, r in read_topic(kafka, t)), key=json.dumps) for k, t in topics(prefix, name).items()}
    return {"actions": [], **found}


def test_two_scenarios_one_cluster_job(kafka_bootstrap, flink_rest, flink_env, tmp_path):
    (tmp_path / "counter.yaml").write_text(COUNTER, encoding="utf-8")
    (tmp_path / "big.yaml").write_text(BIG, encoding="utf-8")
    plans = {p.scenario.name: p for p in (make_plan(load(str(tmp_path / f))) for f in ("counter.yaml", "big.yaml"))}
    rng = random.Random(11)
    batch_a, batch_b = events(rng, 0, 60), events(rng, 60, 30)
    want1 = {name: outputs(plan, batch_a) for name, plan in plans.items()}
    without_c1 = [e for e in batch_a if e["customer_id"] != "c1"]
    ids_b = {e["id"] for e in batch_b}
    want2 = {name: outputs(plan, without_c1 + batch_b, ids_b) for name, plan in plans.items()}
    # the input exercises what the test is about: sub_counter fails where sub_big acts, and erasing c1 changes
    # c1's later counts (the oracle without the erasure would differ)
    failed = {d["raw"]["id"] for d in want1["sub_counter"]["dead_letter"]}
    assert len(failed) >= 5 and failed & {a["event_id"] for a in want1["sub_big"]["actions"]}
    assert all("division by zero" in d["error"] for d in want1["sub_counter"]["dead_letter"])
    assert want1["sub_big"]["dead_letter"] == []
    assert want2 != {name: outputs(plan, batch_a + batch_b, ids_b) for name, plan in plans.items()}
    assert want2 != {name: outputs(plan, batch_b) for name, plan in plans.items()}  # ... and so does a lost state

    prefix = f"t{uuid.uuid4().hex[:8]}."
    job_name = f"two-{uuid.uuid4().hex[:6]}"
    kafka = KafkaSettings(kafka_bootstrap)
    ensure_topics(kafka, [f"{prefix}txns"])
    produce(kafka, f"{prefix}txns", lines(batch_a))
    cluster = flink_rest.split("://", 1)[1]
    started = time.monotonic()
    files = [str(tmp_path / "counter.yaml"), str(tmp_path / "big.yaml")]
    common = ["--cluster", cluster, "--kafka", kafka_bootstrap, "--prefix", prefix, "--job-name", job_name,
              "--start", "earliest", "--checkpoint-ms", "1000"]
    submitted = kairos("submit", *files, *common)
    assert submitted.returncode == 0, submitted.stderr[-3000:]
    job_id = submitted.stdout.strip().splitlines()[-1]
    try:
        for name, want in want1.items():  # phase 1: every output of batch A, per scenario
            wait_for(f"{name}'s phase-1 outputs", lambda n=name, w=want: all(
                len(read_topic(kafka, t)) >= len(w[k]) for k, t in topics(prefix, n).items()), timeout=300)
        print(f"submit + phase 1: {time.monotonic() - started:.0f}s")
        got1 = {name: read_all(kafka, prefix, name) for name in plans}
        listed = json.loads(kairos("jobs", "--cluster", cluster, "--json").stdout)
        assert [j["name"] for j in listed if j["id"] == job_id] == [f"kairos/{job_name}"]  # ONE job for both
        erased = kairos("erase", "c1", "--kafka", kafka_bootstrap, "--prefix", prefix, "--wait-s", "120")
        assert erased.returncode == 0, erased.stdout + erased.stderr
        assert json.loads(erased.stdout.splitlines()[-1])["groups_done"] == [f"{prefix}kairos-{job_name}"]
        stopped = kairos("stop", job_id, "--cluster", cluster, "--savepoint", str(tmp_path / "savepoints"))
        assert stopped.returncode == 0, stopped.stderr
        wait_for("job 1 finished", lambda: job_state(flink_rest, job_id) == "FINISHED", timeout=60)
        again = kairos("submit", *files, *common, "--from-savepoint", stopped.stdout.strip().splitlines()[-1])
        assert again.returncode == 0, again.stderr[-3000:]
        job_id = again.stdout.strip().splitlines()[-1]
        produce(kafka, f"{prefix}txns", lines(batch_b))
        for name in plans:
            total = {k: len(want1[name][k]) + len(want2[name][k]) for k in KINDS}
            wait_for(f"{name}'s phase-2 outputs", lambda n=name, w=total: all(
                len(read_topic(kafka, t)) >= w[k] for k, t in topics(prefix, n).items()), timeout=180)
        time.sleep(2)  # anything unexpected would show up now
        got = {name: read_all(kafka, prefix, name) for name in plans}
        # per-scenario counters on the TaskManager's Prometheus endpoint: the restored job's, of batch B, plus a
        # bad line 1.5 s later after which the shared entry publishes (keyed slots publish by a timer)
        want_counts = {name: phase_counts(plan, without_c1, batch_b) for name, plan in plans.items()}
        for per in want_counts.values():
            per["txns"] = {**per["txns"], "in": per["txns"]["in"] + 1, "dead_letter": 1}
        time.sleep(1.5)
        produce(kafka, f"{prefix}txns", ["{tick"])
        scraped = wait_for("per-scenario counters", lambda: (c := scrape(flink_env, job_id)) == want_counts and c,
                           timeout=60)
    except AssertionError:
        print("scraped counters:", scrape(flink_env, job_id))
        raise
    finally:
        cancelled = kairos("cancel", job_id, "--cluster", cluster)
    assert cancelled.returncode == 0, cancelled.stderr
    for name in plans:
        for kind in KINDS:
            assert got1[name][kind] == want1[name][kind], (name, kind, "phase 1")
            assert got[name][kind] == sorted(want1[name][kind] + want2[name][kind], key=json.dumps), (name, kind)
    assert scraped["sub_counter"]["ratio"]["dead_letter"] == len(want2["sub_counter"]["dead_letter"]) > 0
    assert all(c["dead_letter"] == 0 for n, c in scraped["sub_big"].items() if n != "txns")
    wait_for("job cancelled", lambda: job_state(flink_rest, job_id) == "CANCELED", timeout=60)
