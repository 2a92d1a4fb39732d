"""Two scenarios, two streaming jobs on the real Kafka, one shared policy file: a cap of 1 contact per customer
per hour counts the contacts of both (docs/decisions/0015-contact-policy.md, the contacts topic).

Job A (`cart`): the abandoned-cart `absence` pattern -> a push reminder at cart_add + 30 min, under the policy;
its events arrive shuffled within the 2 minutes the source allows, with a line that is not JSON. Job B
(`promo`): an SMS per promo event under the same policy file, its events shuffled within its 5 minutes. A's
events go first; once A's contacts are on the contacts topic and B has read them (B's committed offset on that
topic), B's events arrive: a customer A reminded within the hour before is refused with reason `cap`.

This is also issue 10's one streaming test of a pattern and the contact policy together: A alone applies the
cap to its own reminders. Every expected action and detection comes from the brute-force oracle below over
the whole input (patterns_oracle.absence for the pattern, then every contact of both scenarios in time order
against the cap), never from a run. A garbage record on the contacts topic is a dead letter of B.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from jobs.config.settings import KafkaSettings
from jobs.connect.topics import ensure_topics, produce
from tests import patterns_oracle as oracle
from tests.integration.test_kafka_es_e2e import committed, read_topic, stop_job, wait_for

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
MIN, HOUR = oracle.MIN, 60 * oracle.MIN
A_OOO, B_OOO, WITHIN, CAP_MS = 2 * MIN, 5 * MIN, 30 * MIN, HOUR

POLICY = """\
description: one contact per customer per hour, whichever campaign sends it
ttl: 1d
caps:
  - {max: 1, per: 1h}
"""
CART = """\
name: cart
policy: contacts.yaml
sources:
  shop:
    schema: {event_id: string, customer_id: string, type: string, product: string, price: float, ts: timestamp}
    key: customer_id
    time: ts
    id: event_id
    out_of_orderness: 2m
nodes:
  - {id: abandoned, type: absence, first: "type = 'cart_add'", absent: "type = 'checkout'", within: 30m}
  - {id: remind, type: action, channel: push, payload: {product: product}}
"""
PROMO = """\
name: promo
policy: contacts.yaml
sources:
  promos:
    schema: {event_id: string, customer_id: string, kind: string, ts: timestamp}
    key: customer_id
    time: ts
    id: event_id
    out_of_orderness: 5m
nodes:
  - {id: promos_only, type: filter, condition: "kind = 'promo'"}
  - {id: offer, type: action, channel: sms, payload: {kind: kind}}
"""
START_S = 600  # two embedded jobs starting at once: 140 s before the first record was processed at load 38
CUSTOMERS = [f"c{i}" for i in range(6)]
GARBAGE = '{"junk": "not a contacts snapshot"}'
SHOP_FIELDS = ("event_id", "customer_id", "type", "product", "price", "ts")


def cart_events(rng: random.Random) -> list[dict]:
    """cart_add / checkout / page_view on a minute grid from 10:00 to 10:30, several carts per customer."""
    return oracle.generate(rng, 60, len(CUSTOMERS), ("cart_add", "cart_add", "cart_add", "checkout", "page_view"))


def promo_events(rng: random.Random) -> list[dict]:
    """Promos from 10:40 to 13:20: some within the hour after a reminder of A, some later; a few non-promos."""
    t0, out = oracle.ms("2026-11-02T10:40:00Z"), []
    for i in range(40):
        t = t0 + rng.randrange(160) * MIN + rng.randrange(60) * 1000
        out.append({"event_id": f"p{i:03d}", "customer_id": rng.choice(CUSTOMERS),
                    "kind": "promo" if rng.random() < 0.85 else "survey", "ts": oracle.iso(t), "_t": t})
    return sorted(out, key=lambda e: (e["_t"], e["event_id"]))


def tick(source: str, t: str) -> dict:
    """Moves a job's watermark past everything; a customer and event type nothing waits for."""
    if source == "shop":
        return {"event_id": "tick", "customer_id": "c-tick", "type": "page_view", "product": None, "price": None,
                "ts": t, "_t": oracle.ms(t)}
    return {"event_id": "tick", "customer_id": "c-tick", "kind": "tick", "ts": t, "_t": oracle.ms(t)}


def policy_oracle(cart: list[dict], promos: list[dict]) -> dict[str, list[dict]]:
    """A's reminders (absence), then B's SMS, each decided in time order (time, event id) against the cap:
    refused when a contact of either scenario was sent to the customer in (t - 1h, t]."""
    sent: dict[str, list[int]] = {}

    def decide(customer: str, t: int) -> bool:
        history = sent.setdefault(customer, [])
        if sum(1 for s in history if t - CAP_MS < s <= t) >= 1:
            return False
        history.append(t)
        return True

    out: dict[str, list[dict]] = {"cart_actions": [], "cart_detected": [], "promo_actions": [],
                                  "promo_detected": []}
    reminders = sorted(oracle.absence(cart, A_OOO, WITHIN, lambda e: e["type"] == "cart_add",
                                      lambda e: e["type"] == "checkout"), key=lambda p: (p[1], p[0]["event_id"]))
    for a, deadline in reminders:
        if decide(a["customer_id"], deadline):
            out["cart_actions"].append({
                "id": f"cart:remind:{a['event_id']}", "scenario": "cart", "node": "remind", "channel": "push",
                "to": a["customer_id"], "event_id": a["event_id"], "time": oracle.iso(deadline),
                "payload": {"product": a["product"]}})
        else:
            out["cart_detected"].append({
                "id": f"cart:remind:{a['event_id']}", "scenario": "cart", "node": "remind",
                "kind": "contact_suppressed", "key": a["customer_id"], "event_id": a["event_id"],
                "time": oracle.iso(deadline), "event": {**{f: a[f] for f in SHOP_FIELDS}, "ts": a["_t"]},
                "fields": {"reason": "cap", "channel": "push", "to": a["customer_id"], "offer": "remind"}})
    for p in (e for e in promos if e["kind"] == "promo"):
        if decide(p["customer_id"], p["_t"]):
            out["promo_actions"].append({
                "id": f"promo:offer:{p['event_id']}", "scenario": "promo", "node": "offer", "channel": "sms",
                "to": p["customer_id"], "event_id": p["event_id"], "time": p["ts"], "payload": {"kind": "promo"}})
        else:
            out["promo_detected"].append({
                "id": f"promo:offer:{p['event_id']}", "scenario": "promo", "node": "offer",
                "kind": "contact_suppressed", "key": p["customer_id"], "event_id": p["event_id"], "time": p["ts"],
                "event": {"event_id": p["event_id"], "customer_id": p["customer_id"], "kind": "promo",
                          "ts": p["_t"]},
                "fields": {"reason": "cap", "channel": "sms", "to": p["customer_id"], "offer": "offer"}})
    return out


def start(scenario: Path, kafka_bootstrap: str, prefix: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "jobs.cli", "run", str(scenario), "--kafka", kafka_bootstrap,
                             "--prefix", prefix, "--checkpoint-ms", "1000", "--max-seconds", "1500"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def by_id(records) -> list[dict]:
    return sorted((r for _, r in records), key=lambda r: r["id"])


def test_two_jobs_share_one_policy_cap_through_the_contacts_topic(kafka_bootstrap, tmp_path) -> None:
    check_shared_policy(kafka_bootstrap, tmp_path, lambda path, prefix: start(path, kafka_bootstrap, prefix),
                        stop_job)


def check_shared_policy(kafka_bootstrap: str, tmp_path: Path, launch, stop) -> None:
    """The whole case; `launch(scenario path, prefix)` starts a job (a Popen, watched while waiting, or any
    handle), `stop(handle)` ends it and returns its log: `kairos run --kafka` here, `kairos submit` to a
    private cluster by hand (the shared cluster's TaskManager keeps the code it first loaded)."""
    rng = random.Random(20261210)
    (tmp_path / "contacts.yaml").write_text(POLICY)
    (tmp_path / "cart.yaml").write_text(CART)
    (tmp_path / "promo.yaml").write_text(PROMO)
    cart = [*oracle.shuffled_within(cart_events(rng), A_OOO, rng), tick("shop", "2026-11-02T15:00:00Z")]
    promos = [*oracle.shuffled_within(promo_events(rng), B_OOO, rng), tick("promos", "2026-11-02T18:00:00Z")]
    assert not oracle.split_late(cart, A_OOO)[1] and not oracle.split_late(promos, B_OOO)[1]  # all on time
    assert any(b["_t"] < a["_t"] for a, b in zip(cart, cart[1:], strict=False))  # out of order
    assert any(b["_t"] < a["_t"] for a, b in zip(promos, promos[1:], strict=False))
    want = policy_oracle(cart, promos)
    # the input exercises what the test is about: A caps itself, B is capped by A's contacts and by its own,
    # and B sends where the hour has passed
    a_sent = {(a["to"], oracle.ms(a["time"])) for a in want["cart_actions"]}
    by_a = [d for d in want["promo_detected"] if any(c == d["key"] and oracle.ms(d["time"]) - CAP_MS < t
                                                     <= oracle.ms(d["time"]) for c, t in a_sent)]
    assert want["cart_detected"] and len(by_a) >= 3 and len(want["promo_detected"]) > len(by_a)
    assert len(want["promo_actions"]) >= 3

    prefix = f"shp{uuid.uuid4().hex[:8]}."
    kafka = KafkaSettings(kafka_bootstrap)
    contacts = f"{prefix}kairos.contacts"
    ensure_topics(kafka, [f"{prefix}shop", f"{prefix}promos", contacts], compacted=[contacts])
    job_a = launch(tmp_path / "cart.yaml", prefix)
    job_b = launch(tmp_path / "promo.yaml", prefix)
    watch_a, watch_b = (j if isinstance(j, subprocess.Popen) else None for j in (job_a, job_b))
    try:
        produce(kafka, f"{prefix}shop", [*oracle.lines(cart[:-1]), "not json at all", *oracle.lines(cart[-1:])])
        n_a = len(want["cart_actions"])
        wait_for(f"A's {n_a} contacts on the contacts topic",
                 lambda: len(read_topic(kafka, contacts)) >= n_a, timeout=START_S, job=watch_a)
        produce(kafka, contacts, [GARBAGE], key_field="junk")  # a compacted topic takes keyed records only
        # B has read every contact of A once its checkpoint committed the offset past them
        wait_for("B to read the contacts topic", lambda: committed(kafka, f"{prefix}kairos-promo", contacts)
                 >= n_a + 1, timeout=START_S, job=watch_b)
        produce(kafka, f"{prefix}promos", oracle.lines(promos))
        n_b = len(want["promo_actions"]) + len(want["promo_detected"])
        wait_for(f"B's {n_b} decisions", lambda: len(read_topic(kafka, f"{prefix}promo.actions.sms"))
                 + len(read_topic(kafka, f"{prefix}promo.detections")) >= n_b, job=watch_b)
        time.sleep(2)  # anything unexpected would show up now
        got = {name: read_topic(kafka, f"{prefix}{topic}") for name, topic in (
            ("cart_actions", "cart.actions.push"), ("cart_detected", "cart.detections"),
            ("promo_actions", "promo.actions.sms"), ("promo_detected", "promo.detections"),
            ("cart_dead", "cart.dead_letter"), ("promo_dead", "promo.dead_letter"), ("contacts", "kairos.contacts"))}
    finally:
        logs = [stop(job_a), stop(job_b)]
    log = f"A: {logs[0][-1500:]}\nB: {logs[1][-1500:]}"
    for name in ("cart_actions", "cart_detected", "promo_actions", "promo_detected"):
        assert by_id(got[name]) == sorted(want[name], key=lambda r: r["id"]), (name, log)
    garbage = {"raw": GARBAGE}  # both jobs read it: each has its dead letter
    assert sorted(((d["node"], json.dumps(d["raw"])) for _, d in got["cart_dead"])) == \
        [("remind", json.dumps(garbage)), ("shop", json.dumps("not json at all"))]
    assert [(d["node"], d["raw"]) for _, d in got["promo_dead"]] == [("offer", garbage)]
    assert all("not a contacts snapshot" in d["error"] for _, d in got["promo_dead"])
    # the contacts topic: one snapshot per sent contact of either job, keyed customer|policy|origin
    snapshots = [(k, r) for k, r in got["contacts"] if isinstance(r, dict) and "origin" in r]
    assert sorted((r["scenario"], r["customer"], r["time"]) for _, r in snapshots) == sorted(
        [("cart", a["to"], a["time"]) for a in want["cart_actions"]]
        + [("promo", a["to"], a["time"]) for a in want["promo_actions"]])
    assert all(k == f"{r['customer']}|contacts|{r['origin']}" and r["policy"] == "contacts" for k, r in snapshots)
