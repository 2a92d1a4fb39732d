"""A shared policy file: its identity, what a job publishes, how another job's contacts count (in process).

The two "jobs" here are two harness runs of the same engine code the Flink job runs; the snapshots job A
publishes are handed to job B the way the contacts topic does (a `_contacts` changelog route into the keyed
operator of the policy). Expected outcomes are hand-worked from the rules in docs/scenarios.md.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.flink.contacts_io import _Snapshots, enable_publishing, shared_policy
from jobs.lang.errors import ScenarioError
from jobs.nodes.base import CONTACTS_SOURCE, Output, output_kind
from jobs.runtime.executor import CHANGELOG
from jobs.runtime.harness import Harness, RunResult

POLICY = "cooldown: 30m\ncaps:\n  - {max: 2, per: 1h}\n"
SCENARIO = """\
name: {name}
policy: {policy}
sources:
  tx:
    schema: {{id: string, customer_id: string, offer: string, ts: timestamp}}
    key: customer_id
    time: ts
    id: id
    out_of_orderness: 2h
nodes:
  - {{id: send, type: action, channel: sms, offer: offer, payload: {{offer: offer}}}}
"""


def tx(event_id: str, customer: str, offer: str, hhmm: str) -> tuple[str, str]:
    return "tx", json.dumps({"id": event_id, "customer_id": customer, "offer": offer,
                             "ts": f"2026-11-02T{hhmm}:00Z"})


def ms(hhmm: str) -> int:
    return int(datetime.fromisoformat(f"2026-11-02T{hhmm}:00+00:00").timestamp() * 1000)


class Job(Harness):
    """The harness, keeping what the Kafka path would write to the contacts topic."""

    def __init__(self, plan):
        super().__init__(plan)
        self.contacts: list[dict] = []

    def _collect(self, kind: str, record: dict) -> None:
        if output_kind(kind) == Output.CONTACTS:
            self.contacts.append(record)
        else:
            super()._collect(kind, record)

    def receive(self, snapshot: dict) -> None:
        """A snapshot read back from the contacts topic (contacts_io._Envelope's shape)."""
        [seg] = shared_policy(self.plan)[1]
        customer = snapshot["customer"]
        ctx = {**snapshot, "_src": CONTACTS_SOURCE, "_key": customer, "_ts": 0, "_fields": tuple(snapshot)}
        self.rt.segment, self.rt.key = seg, customer
        self.executors[seg].accept((seg, CHANGELOG + CONTACTS_SOURCE, customer, 0, ctx), self.rt)
        self._drain(self.executors[seg])


def plan_of(tmp_path: Path, name: str, policy: str = "contacts.yaml", publish: bool = True):
    (tmp_path / "contacts.yaml").write_text(POLICY)
    path = tmp_path / f"{name}.yaml"
    path.write_text(SCENARIO.format(name=name, policy=policy))
    plan = make_plan(load(str(path)))
    if publish:
        enable_publishing(plan)
    return plan


def run(job: Job, lines) -> RunResult:
    for source, line in lines:
        job.feed(source, line)
    return job.finish()


A_LINES = [tx("a1", "c1", "loan", "10:00"), tx("a2", "c1", "card", "10:10"), tx("a3", "c2", "loan", "10:00")]
B_LINES = [tx("b1", "c1", "x", "10:20"), tx("b2", "c2", "loan", "10:20"), tx("b3", "c2", "card", "10:40"),
           tx("b4", "c1", "x", "11:05"), tx("b5", "c3", "loan", "10:00"), tx("b6", "c2", "loan", "09:50")]


def outcome(result: RunResult) -> dict[str, str]:
    sent = {a["event_id"]: "sent" for a in result.actions}
    return {**sent, **{d["event_id"]: d["fields"]["reason"] for d in result.detected}}


def test_another_jobs_contacts_count_in_caps_and_cooldowns(tmp_path) -> None:
    job_a = Job(plan_of(tmp_path, "a"))
    result_a = run(job_a, A_LINES)
    assert outcome(result_a) == {"a1": "sent", "a2": "sent", "a3": "sent"}
    # one snapshot per sent contact: the customer's whole recent history in A
    last_c1 = [s for s in job_a.contacts if s["customer"] == "c1"][-1]
    assert len(job_a.contacts) == 3 and {s["origin"] for s in job_a.contacts} == {"a/keyed-send"}
    assert (last_c1["policy"], last_c1["scenario"]) == ("contacts", "a")
    assert last_c1["contacts"] == [[ms("10:00"), "sms"], [ms("10:10"), "sms"]]
    assert last_c1["offers"] == {"loan": ms("10:00"), "card": ms("10:10")}

    job_b = Job(plan_of(tmp_path, "b"))
    for snapshot in json.loads(json.dumps(job_a.contacts)):  # as written to and read from Kafka
        job_b.receive(snapshot)
    # b1 c1 10:20: A sent 2 in (09:20, 10:20] -> cap. b2 c2 10:20 loan: A's loan at 10:00 -> cooldown.
    # b3 c2 10:40 card: 1 contact (A's) in (09:40, 10:40], offer card unseen -> sent. b4 c1 11:05: only A's
    # 10:10 in (10:05, 11:05] -> sent. b5 c3: no history -> sent. b6 c2 09:50 loan: A's loan at 10:00 is
    # later but 10 min away -> cooldown (a later contact of another job blocks the offer too)
    assert outcome(run(job_b, B_LINES)) == {"b1": "cap", "b2": "cooldown", "b3": "sent", "b4": "sent",
                                            "b5": "sent", "b6": "cooldown"}
    assert {s["scenario"] for s in job_b.contacts} == {"b"} and len(job_b.contacts) == 3


def test_a_file_run_applies_the_shared_policy_to_its_own_contacts_alone(tmp_path) -> None:
    # no publishing, nothing received: b6 09:50 sent; b5 sent; b1 sent; b2 c2 10:20 loan is 30 min after b6
    # (not less) and the 2nd in (09:20, 10:20] -> sent; b3 c2 10:40 would be the 3rd in (09:40, 10:40] -> cap;
    # b4 c1 11:05: b1 only in (10:05, 11:05] -> sent
    job = Job(plan_of(tmp_path, "b", publish=False))
    assert outcome(run(job, B_LINES)) == {"b1": "sent", "b2": "sent", "b3": "cap", "b4": "sent", "b5": "sent",
                                          "b6": "sent"}
    assert job.contacts == []


def test_a_snapshot_replaces_the_previous_one_of_its_origin_and_a_bad_one_is_a_dead_letter(tmp_path) -> None:
    job = Job(plan_of(tmp_path, "b"))
    old = {"policy": "contacts", "origin": "a/keyed-send", "scenario": "a", "customer": "c1", "time": "x",
           "contacts": [[ms("10:00"), "sms"], [ms("10:10"), "sms"]], "offers": {}}
    job.receive(old)
    job.receive({**old, "contacts": [[ms("10:10"), "sms"]]})  # A's later view: 10:00 is out of its window
    job.receive({"customer": "c1", "origin": "a/keyed-send", "contacts": "many", "offers": {}})
    result = run(job, [tx("b1", "c1", "x", "10:20")])
    assert outcome(result) == {"b1": "sent"}  # one of A's in the window, not two
    [dead] = result.dead_letter
    assert dead["node"] == "send" and "not a contacts snapshot" in dead["error"]
    assert dead["raw"]["contacts"] == "many"


def test_the_contacts_reader_keeps_the_snapshots_of_its_policy() -> None:
    keep = _Snapshots("contacts")
    mine = json.dumps({"policy": "contacts", "scenario": "b", "customer": "c1"})
    assert keep(mine) == [mine]
    assert keep(json.dumps({"policy": "other", "scenario": "a", "customer": "c1"})) == []
    assert keep(None) == []  # a tombstone removes nothing we keep
    assert keep("not json") == [json.dumps({"raw": "not json"})]  # the policy node dead-letters it
    assert keep("caf\xc3\xa9 \xff") == [json.dumps({"raw": "caf\xc3\xa9 \xff"})]  # invalid UTF-8 (latin-1 text)


def test_a_fresh_job_gets_its_own_contacts_back_and_ignores_its_other_operators(tmp_path) -> None:
    job_a = Job(plan_of(tmp_path, "a"))
    run(job_a, A_LINES)
    fresh = Job(plan_of(tmp_path, "a"))  # the same scenario restarted without a checkpoint: empty state
    for snapshot in json.loads(json.dumps(job_a.contacts)):
        fresh.receive(snapshot)
        fresh.receive(snapshot)  # read twice (at-least-once): a union adds nothing
    fresh.receive({"policy": "contacts", "origin": "a/keyed-other", "scenario": "a", "customer": "c3",
                   "time": "x", "contacts": [[ms("10:00"), "sms"], [ms("10:01"), "sms"]], "offers": {}})
    # c1 has A's 10:00 and 10:10 back -> a third at 10:20 is capped; c2's loan at 10:00 -> cooldown at 10:20;
    # c3: the snapshot of another operator of the same job does not count -> sent
    result = run(fresh, [tx("a4", "c1", "x", "10:20"), tx("a5", "c2", "loan", "10:20"), tx("a6", "c3", "y", "10:20")])
    assert outcome(result) == {"a4": "cap", "a5": "cooldown", "a6": "sent"}


def test_the_identity_is_the_file_name_or_its_name(tmp_path) -> None:
    assert load(str(plan_path(tmp_path, "contacts.yaml"))).scenario.policy.shared == "contacts"
    (tmp_path / "contacts.yaml").write_text("name: retail_contacts\n" + POLICY)
    assert load(str(plan_path(tmp_path, "contacts.yaml", write_policy=False))).scenario.policy.shared == \
        "retail_contacts"
    inline = load(str(plan_path(tmp_path, "{cooldown: 1h}"))).scenario.policy
    assert inline.shared is None
    assert shared_policy(make_plan(load(str(plan_path(tmp_path, "{cooldown: 1h}"))))) == (None, [])


def plan_path(tmp_path: Path, policy: str, write_policy: bool = True) -> Path:
    if write_policy:
        (tmp_path / "contacts.yaml").write_text(POLICY)
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(name="s", policy=policy))
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load(str(path))
    return [str(d) for d in info.value.diagnostics]


def test_policy_and_pattern_mistakes_are_positioned(tmp_path) -> None:
    path = plan_path(tmp_path, "{name: mine, cooldown: 1h}")
    assert errors_of(path) == [f"{path}:2:16: 'name' is for a shared policy file: an inline policy is the "
                               "scenario's own (put it in a file that several scenarios reference to share "
                               "contacts)"]
    (tmp_path / "contacts.yaml").write_text("ttl: 1h\ncooldown: -5m\ncaps:\n  - {max: 1, per: 2h}\n")
    path = plan_path(tmp_path, "contacts.yaml", write_policy=False)
    got = errors_of(path)
    shared = tmp_path / "contacts.yaml"
    assert any(e.startswith(f"{shared}:2:11:") for e in got), got  # a negative duration
    assert f"{shared}:4:5: a cap window (7200000 ms) is longer than the policy's state ttl (3600000 ms)" in got
    (tmp_path / "contacts.yaml").write_text("ttl: 0s\ncooldown: 1m\n")
    assert f"{shared}:1:6: 'ttl' in the policy must be longer than 0" in errors_of(path)
    pattern = SCENARIO.format(name="p", policy="contacts.yaml").replace(
        "nodes:\n", "nodes:\n  - {id: gone, type: absence, from: tz, first: \"offer = 'a'\", absent: \"offer = 'b'\", "
                    "within: 5m}\n")
    (tmp_path / "contacts.yaml").write_text(POLICY)
    (tmp_path / "p.yaml").write_text(pattern)
    assert any(e.startswith(f"{tmp_path / 'p.yaml'}:11:37: unknown node or source 'tz'") for e in
               errors_of(tmp_path / "p.yaml")), errors_of(tmp_path / "p.yaml")
