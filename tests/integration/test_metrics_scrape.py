"""kairos metrics reach Prometheus: a scenario runs on the Flink session cluster (`kairos submit`, Kafka in and
out), and the TaskManager's Prometheus endpoint is scraped and parsed with prometheus_client's parser. Names
and values are checked against a brute-force oracle over the input and against what the run wrote to its
topics: per node in / out / filtered / dead_letter, actions per channel, suppressed contacts per reason, and
the two latency histograms (their counts are the actions, their values within what the wall clock allows).

The cluster must run this checkout's code (its TaskManager keeps the first `jobs` it imported): `make test`
starts a fresh one; by hand, a private one: `SERVICES_ENV_DIR=/tmp/x services/flink-cluster.sh start` with
kafka.env and elasticsearch.env linked into /tmp/x (docs/operations.md "Watch").
"""

from __future__ import annotations

import json
import math
import random
import time
import uuid
from pathlib import Path

import pytest

from jobs.config.settings import KafkaSettings
from jobs.connect import prometheus as prom
from jobs.connect.cluster import cancel_job, job_state
from jobs.connect.topics import ensure_topics, produce
from tests.integration.test_cluster_submit import kairos
from tests.integration.test_kafka_es_e2e import read_topic, wait_for

pytestmark = pytest.mark.integration
SCENARIO = """
name: ops_metrics
policy:
  ttl: 1d
  cooldown: 1m
  consent: {sms: consent}
sources:
  txns:
    schema: {id: string, customer_id: string, amount: float, consent: bool, ts: timestamp}
    key: customer_id
    time: ts
    id: id
    out_of_orderness: 5s
nodes:
  - {id: big, type: filter, condition: "amount >= 100"}
  - {id: offer_sms, type: action, channel: sms, payload: {amount: amount}}
  - {id: notify_crm, type: action, from: big, channel: crm, policy: false, payload: {amount: amount}}
"""
COOLDOWN_MS = 60_000
SCRAPED_NAMES = Path(__file__).resolve().parents[1] / "unit" / "scraped_metric_names.txt"


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def make_events(seed: int, now_ms: int) -> tuple[list[dict], list[str]]:
    """Events 10-5 min before now, shuffled by up to 3 s (the scenario allows 5 s), and some bad lines."""
    rng = random.Random(seed)
    t, events = now_ms - 600_000, []
    for i in range(200):
        t += rng.randint(500, 1500)
        events.append({"id": f"e{i}", "customer_id": f"c{rng.randint(1, 6)}", "amount": float(rng.choice(
            [20, 80, 150, 400])), "consent": rng.random() > 0.25, "ts": t})
    events.sort(key=lambda e: e["ts"] + rng.randint(0, 3000))
    lines = [json.dumps({**e, "ts": iso(e["ts"])}) for e in events]
    for at, bad in ((17, "{not json"), (90, json.dumps({"id": "x1", "customer_id": "c1", "amount": "lots",
                                                        "consent": True, "ts": iso(events[0]["ts"])})), (150, "[]")):
        lines.insert(at, bad)
    return events, lines


def oracle(events: list[dict], n_bad: int) -> tuple[dict, dict, dict]:
    """(node counts, actions per channel, suppressed per reason), from the rules of docs/scenarios.md."""
    big = [e for e in events if e["amount"] >= 100]
    counts = {"txns": {"in": len(events) + n_bad, "out": len(events), "dead_letter": n_bad, "filtered": 0},
              "big": {"in": len(events), "out": len(big), "filtered": len(events) - len(big), "dead_letter": 0},
              "offer_sms": {"in": len(big), "out": len(big), "filtered": 0, "dead_letter": 0},
              "notify_crm": {"in": len(big), "out": len(big), "filtered": 0, "dead_letter": 0}}
    sent, reasons = 0, {"no_consent": 0, "cooldown": 0}
    last: dict[str, int] = {}
    for e in sorted(big, key=lambda e: (e["ts"], e["id"])):
        if not e["consent"]:
            reasons["no_consent"] += 1
        elif e["customer_id"] in last and e["ts"] - last[e["customer_id"]] < COOLDOWN_MS:
            reasons["cooldown"] += 1
        else:
            last[e["customer_id"]] = e["ts"]
            sent += 1
    return counts, {"sms": sent, "crm": len(big)}, reasons


def at_least(kafka: KafkaSettings, topic: str, n: int) -> list[dict]:
    """The records of a topic once there are n of them (more fail the comparison that follows)."""
    records = wait_for(f"{n} records on {topic}", lambda: (r := read_topic(kafka, topic)) and len(r) >= n and r)
    return [value for _, value in records]


def test_metrics_on_the_session_cluster(kafka_bootstrap, flink_env, flink_rest, tmp_path):
    scenario = tmp_path / "ops_metrics.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    prefix = f"t{uuid.uuid4().hex[:8]}."
    kafka = KafkaSettings(kafka_bootstrap)
    topic = f"{prefix}txns"
    ensure_topics(kafka, [topic])
    started_ms = int(time.time() * 1000)
    events, lines = make_events(seed=12, now_ms=started_ms)
    # the last event moves the watermark past every due contact; it is filtered out, so nothing waits for it
    flush = {"id": "flush", "customer_id": "c9", "amount": 1.0, "consent": True, "ts": started_ms + 3_600_000}
    produce(kafka, topic, [*lines, json.dumps({**flush, "ts": iso(flush["ts"])})])
    expected_counts, expected_actions, expected_reasons = oracle([*events, flush], n_bad=3)

    cluster = flink_rest.split("://", 1)[1]
    submitted = kairos("submit", str(scenario), "--cluster", cluster, "--kafka", kafka_bootstrap,
                       "--prefix", prefix, "--start", "earliest", "--checkpoint-ms", "2000")
    assert submitted.returncode == 0, submitted.stderr[-3000:]
    job_id = submitted.stdout.strip().splitlines()[-1]
    try:
        out = f"{prefix}ops_metrics"
        sms = at_least(kafka, f"{out}.actions.sms", expected_actions["sms"])
        crm = at_least(kafka, f"{out}.actions.crm", expected_actions["crm"])
        detections = at_least(kafka, f"{out}.detections", sum(expected_reasons.values()))
        dead = at_least(kafka, f"{out}.dead_letter", 3)
        # what the run itself wrote agrees with the oracle
        assert expected_actions == {"sms": len(sms), "crm": len(crm)}
        by_reason = {r: sum(1 for d in detections if d["fields"]["reason"] == r) for r in expected_reasons}
        assert by_reason == expected_reasons and len(detections) == sum(expected_reasons.values())
        assert len(dead) == 3 and {d["node"] for d in dead} == {"txns"}

        # the entry publishes its tallies before the next input once 0.5 s have passed: one more bad line
        # (its own count stays unpublished) makes it publish the whole run
        time.sleep(1.5)
        produce(kafka, topic, ["{tick"])

        host = "127.0.0.1"

        def settled():
            samples = prom.kairos_samples(prom.taskmanager_samples(host, flink_env["FLINK_PROM_PORTS"]), job_id)
            counts = prom.node_counts(samples, "ops_metrics")
            got = {n: {c: counts.get(n, {}).get(c) for c in want} for n, want in expected_counts.items()}
            return samples if got == expected_counts else None

        try:
            samples = wait_for("scraped counters equal to the oracle", settled, timeout=60)
        except AssertionError:
            samples = prom.kairos_samples(prom.taskmanager_samples(host, flink_env["FLINK_PROM_PORTS"]), job_id)
            raise AssertionError(f"scraped {prom.node_counts(samples, 'ops_metrics')}, "
                                 f"expected {expected_counts}") from None
        counts = prom.node_counts(samples, "ops_metrics")
        for node, c in counts.items():  # the identity every node obeys
            assert c["in"] == c["out"] + c["filtered"] + c["dead_letter"] + c["held"], (node, c)
        for channel, node in (("sms", "offer_sms"), ("crm", "notify_crm")):
            assert prom.total(samples, prom.ACTIONS, node=node, channel=channel) == expected_actions[channel]
        for reason, n in expected_reasons.items():
            assert prom.total(samples, prom.SUPPRESSED, node="offer_sms", reason=reason) == n
        # histograms: Flink exports a summary (quantiles + _count); counts are the actions
        n_actions = expected_actions["sms"] + expected_actions["crm"]
        assert prom.total(samples, prom.LATENCY_EVENT + "_count") == n_actions
        assert prom.total(samples, prom.LATENCY_INGESTION + "_count") == expected_actions["crm"]  # not timers
        elapsed_ms = int(time.time() * 1000) - started_ms
        def series(sample):
            return sample.name, tuple(sorted((k, v) for k, v in sample.labels.items() if k != "quantile"))

        count_of = {(s.name[:-len("_count")], key): s.value for s in samples if s.name.endswith("_count")
                    for _, key in [series(s)]}
        quantiles = [s for s in samples if "quantile" in s.labels]
        for q in quantiles:
            if not count_of[series(q)]:  # an operator that emitted no action: an empty histogram
                assert math.isnan(q.value), q
            elif q.name == prom.LATENCY_EVENT:  # every action's event time is 5-10 min before the run started
                assert 5 * 60_000 - 10_000 <= q.value <= 10 * 60_000 + elapsed_ms, q
            else:
                assert 0 <= q.value <= elapsed_ms, q
        assert {q.labels["quantile"] for q in quantiles if q.name == prom.LATENCY_EVENT} >= {"0.5", "0.95", "0.99"}
        excerpt = sorted(f"{s.name}{{node={s.labels.get('node', '')!r}"
                         + "".join(f",{k}={s.labels[k]!r}" for k in ("channel", "reason", "quantile")
                                   if k in s.labels) + f"}} {s.value:g}" for s in samples)
        print("scrape excerpt:\n" + "\n".join(excerpt))
        # the dashboards may only use names seen here (tests/unit/test_dashboards.py reads this list)
        seen = {s.name for s in prom.taskmanager_samples(host, flink_env["FLINK_PROM_PORTS"])}
        listed = {line for line in SCRAPED_NAMES.read_text().splitlines() if line and not line.startswith("#")}
        missing = sorted(listed - seen)
        assert not missing, f"tests/unit/scraped_metric_names.txt lists names the scrape did not show: {missing}"
    finally:
        cancel_job(flink_rest, job_id)
    wait_for("job cancelled", lambda: job_state(flink_rest, job_id) == "CANCELED", timeout=60)
