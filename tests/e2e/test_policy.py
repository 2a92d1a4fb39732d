"""Cancellable delays and the contact policy, end to end, against a brute-force oracle over the whole input.

The input is random (seeded), several customers, delivered out of order within the allowed lateness (each
file's own order is shuffled by up to 8 s, the scenario allows 10 s). The oracle below knows nothing of the
engine: it takes every trigger, decides cancellation from ALL deposits of that customer, then walks the
contacts in time order applying consent -> quiet hours (hold: found by stepping minute by minute) ->
cooldown -> cap, exactly as docs/scenarios.md states the rules.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from jobs.runtime.files import merged_inputs
from jobs.runtime.harness import RunResult

SCENARIO = """
name: policy_e2e
policy:
  ttl: 1d
  cooldown: 10m
  caps:
    - {max: 2, per: 30m}
  quiet_hours: {start: "22:00", end: "06:30", time_zone: tz, default_time_zone: Europe/Warsaw, then: hold}
  consent: {sms: consent}
sources:
  atm:
    schema: {event_id: string, customer_id: string, requested: float, offer: string, tz: string, consent: bool,
             ts: timestamp}
    key: customer_id
    time: ts
    id: event_id
    out_of_orderness: 10s
  deposits:
    schema: {deposit_id: string, customer_id: string, amount: float, ts: timestamp}
    key: customer_id
    time: ts
    id: deposit_id
    out_of_orderness: 10s
nodes:
  - id: send
    type: action
    from: atm
    channel: sms
    delay: 5s
    offer: offer
    cancel_if: {source: deposits, condition: "amount >= trigger.requested"}
    payload: {offer: offer, requested: requested}
"""
ZONES = ["Europe/Warsaw", "America/New_York", "Asia/Tokyo", "UTC", None, "Mars/Olympus"]
OOO_MS, DELAY_MS, COOLDOWN_MS, CAP, CAP_MS = 10_000, 5_000, 600_000, 2, 1_800_000
START = datetime(2026, 11, 2, 21, 10, tzinfo=timezone.utc)


def iso(ms: int) -> str:
    return (datetime(1970, 1, 1) + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds") + "Z"


def make_input(seed: int, n: int = 500):
    rng = random.Random(seed)
    t = int(START.timestamp() * 1000)
    atm, deposits = [], []
    for i in range(n):
        t += rng.randint(0, 15) * 1000 + rng.randint(0, 999)
        customer = f"c{rng.randint(1, 4)}"
        if rng.random() < 0.35:
            deposits.append({"deposit_id": f"d{i}", "customer_id": customer,
                             "amount": float(rng.choice([50, 200, 900])), "ts": t})
        else:
            atm.append({"event_id": f"e{i}", "customer_id": customer, "requested": float(rng.choice([100, 500])),
                        "offer": rng.choice(["loan", "card", "overdraft", "insurance"]), "tz": rng.choice(ZONES),
                        "consent": rng.random() > 0.1, "ts": t})
            if rng.random() < 0.3:  # a deposit soon after: inside the 5 s or just outside, enough or not
                deposits.append({"deposit_id": f"d{i}", "customer_id": customer, "ts": t + rng.randint(0, 6000),
                                 "amount": float(rng.choice([50, 200, 900]))})
    # out of order: each file's lines shuffled by up to 8 s of event time (within the 10 s allowed)
    for rows in (atm, deposits):
        rows.sort(key=lambda r: r["ts"] + rng.randint(0, 8000))
    return atm, deposits


def quiet_end(t: int, zone: str) -> int | None:
    """None outside 22:00-06:30 local; else the first minute boundary at or after t that is outside."""
    def quiet(ms: int) -> bool:
        local = datetime.fromtimestamp(ms / 1000, ZoneInfo(zone))
        minute = local.hour * 60 + local.minute
        return minute >= 22 * 60 or minute < 6 * 60 + 30
    if not quiet(t):
        return None
    m = (t // 60_000 + 1) * 60_000
    while quiet(m):
        m += 60_000
    return m


def oracle(atm: list[dict], deposits: list[dict]) -> RunResult:
    actions, detected, dead = [], [], []
    candidates = []  # (decision time, trigger ts, id, trigger, zone)
    for e in atm:
        zone = e["tz"] or "Europe/Warsaw"
        if zone == "Mars/Olympus":  # not an IANA zone: the trigger is a dead letter
            dead.append({"node": "send", "event_id": e["event_id"]})
            continue
        due = e["ts"] + DELAY_MS
        by = [d for d in deposits if d["customer_id"] == e["customer_id"] and e["ts"] <= d["ts"] < due
              and d["amount"] >= e["requested"]]
        base = {"channel": "sms", "to": e["customer_id"]}
        if by:
            first = min(by, key=lambda d: d["ts"])
            detected.append(_detection(e, due, "action_cancelled", {
                **base, "reason": "cancelled", "offer": e["offer"],
                "cancelled_by": {"source": "deposits", "time": iso(first["ts"]), "id": first["deposit_id"]}}))
            continue
        candidates.append((due, e["ts"], e["event_id"], e, zone, False))
    sent: dict[str, list[tuple[int, str]]] = {}
    while candidates:
        candidates.sort(key=lambda c: (c[0], c[1], c[2]))
        t, _, _, e, zone, held = candidates.pop(0)
        history = sent.setdefault(e["customer_id"], [])
        base = {"channel": "sms", "to": e["customer_id"], "offer": e["offer"]}
        if not e["consent"]:
            detected.append(_detection(e, t, "contact_suppressed", {**base, "reason": "no_consent"}))
            continue
        end = quiet_end(t, zone)
        if end is not None:
            candidates.append((end, e["ts"], e["event_id"], e, zone, True))
            continue
        if any(o == e["offer"] and t - s < COOLDOWN_MS for s, o in history):
            detected.append(_detection(e, t, "contact_suppressed", {**base, "reason": "cooldown"}))
            continue
        if sum(1 for s, _ in history if t - CAP_MS < s <= t) >= CAP:
            detected.append(_detection(e, t, "contact_suppressed", {**base, "reason": "cap"}))
            continue
        history.append((t, e["offer"]))
        actions.append({"id": f"policy_e2e:send:{e['event_id']}", "scenario": "policy_e2e", "node": "send",
                        "channel": "sms", "to": e["customer_id"], "event_id": e["event_id"], "time": iso(t),
                        "payload": {"offer": e["offer"], "requested": e["requested"]}})
    return RunResult(actions, detected, dead, {})


def _detection(e: dict, t: int, kind: str, fields: dict) -> dict:
    return {"id": f"policy_e2e:send:{e['event_id']}", "scenario": "policy_e2e", "node": "send", "kind": kind,
            "key": e["customer_id"], "event_id": e["event_id"], "time": iso(t), "event": e, "fields": fields}


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    base = tmp_path_factory.mktemp("policy")
    scenario = base / "policy_e2e.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    atm, deposits = make_input(seed=10)
    files = {"atm": base / "atm.jsonl", "deposits": base / "deposits.jsonl"}
    for name, rows in (("atm", atm), ("deposits", deposits)):
        files[name].write_text("".join(json.dumps({**r, "ts": iso(r["ts"])}) + "\n" for r in rows), encoding="utf-8")
    files = {k: str(v) for k, v in files.items()}
    return scenario, files, atm, deposits


def _sorted(records: list[dict]) -> list[dict]:
    return sorted(json.loads(json.dumps(records)), key=lambda r: (r["time"], r["id"]))


def check(result: RunResult, atm: list[dict], deposits: list[dict]) -> None:
    want = oracle(atm, deposits)
    reasons = {d["fields"]["reason"] for d in want.detected}
    assert {"cancelled", "no_consent", "cooldown", "cap"} <= reasons  # the input exercises every rule
    assert any(a["time"].endswith("06:30:00.000Z") or ":30:00.000Z" in a["time"] for a in want.actions)  # a hold
    assert _sorted(result.actions) == _sorted(want.actions)
    assert _sorted(result.detected) == _sorted(want.detected)
    assert sorted((d["node"], json.loads(json.dumps(d["raw"]))["event_id"]) for d in result.dead_letter) == \
        sorted((d["node"], d["event_id"]) for d in want.dead_letter)
    assert all("invalid time zone 'Mars/Olympus'" in d["error"] for d in result.dead_letter)
    c = result.counts["send"]
    assert c["in"] == len(atm) + len(deposits) and c["filtered"] == len(deposits) and c["late"] == 0
    assert c["dead_letter"] == len(want.dead_letter) and c["out"] == len(atm) - len(want.dead_letter)
    assert c["in"] == c["out"] + c["filtered"] + c["dead_letter"] + c["held"]


def test_input_is_out_of_order_but_on_time(case) -> None:
    from jobs.compiler.validate import load

    scenario, files, _, _ = case
    late, disorder, top = 0, 0, None
    for _, line in merged_inputs(load(str(scenario)).scenario, files):
        text = line if line.startswith("{") else line[line.index("{"):]
        ts = int(datetime.fromisoformat(json.loads(text)["ts"].replace("Z", "+00:00")).timestamp() * 1000)
        if top is not None:
            late += ts <= top - OOO_MS - 1
            disorder += ts < top
        top = ts if top is None else max(top, ts)
    assert late == 0 and disorder > 10


def test_harness_matches_the_oracle(case, harness_run) -> None:
    scenario, files, atm, deposits = case
    check(harness_run(scenario, files), atm, deposits)


@pytest.mark.flink
def test_flink_matches_the_oracle(case, flink_run) -> None:
    scenario, files, atm, deposits = case
    check(flink_run(scenario, files), atm, deposits)


TWO_CHANNELS = """
name: policy_channels
policy:
  caps:
    - {max: 2, per: 1h}
    - {max: 1, per: 1h, channel: push}
sources:
  tx:
    schema: {id: string, customer_id: string, ts: timestamp}
    key: customer_id
    time: ts
    id: id
    out_of_orderness: 1m
nodes:
  - {id: sms, type: action, from: tx, channel: sms, payload: {id: id}}
  - {id: push, type: action, from: tx, channel: push, payload: {id: id}}
"""
# hand-worked: each event asks for an sms and a push (sms node first in topological order at equal times).
# a (10:00): sms sent (1 of 2 overall), push sent (2 of 2, push 1 of 1); b (10:00:30, arrives first, on time
# within the 1m): both capped;
# c (11:00:01): the window (10:00:01, 11:00:01] is empty again -> sms sent, push sent
TWO_INPUT = [{"id": "b", "customer_id": "c1", "ts": "2026-11-02T10:00:30Z"},
             {"id": "a", "customer_id": "c1", "ts": "2026-11-02T10:00:00Z"},
             {"id": "c", "customer_id": "c1", "ts": "2026-11-02T11:00:01Z"}]
TWO_SENT = [("sms", "a"), ("push", "a"), ("sms", "c"), ("push", "c")]
TWO_CAPPED = [("sms", "b"), ("push", "b")]


def _two_channels(tmp_path_factory):
    base = tmp_path_factory.mktemp("channels")
    (base / "s.yaml").write_text(TWO_CHANNELS, encoding="utf-8")
    (base / "tx.jsonl").write_text("".join(json.dumps(e) + "\n" for e in TWO_INPUT), encoding="utf-8")
    return base / "s.yaml", {"tx": str(base / "tx.jsonl")}


def _check_two(result: RunResult) -> None:
    assert sorted((a["node"], a["event_id"]) for a in result.actions) == sorted(TWO_SENT)
    assert sorted((d["node"], d["event_id"], d["fields"]["reason"]) for d in result.detected) == \
        sorted((n, e, "cap") for n, e in TWO_CAPPED)


def test_caps_count_every_channel_harness(tmp_path_factory, harness_run) -> None:
    _check_two(harness_run(*_two_channels(tmp_path_factory)))


@pytest.mark.flink
def test_caps_count_every_channel_flink(tmp_path_factory, flink_run) -> None:
    _check_two(flink_run(*_two_channels(tmp_path_factory)))
