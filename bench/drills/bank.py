"""The bank workload of the cluster drills: input, the oracle, the job on the private cluster, what it wrote.

Input (seeded): 2,000 customer profiles on the changelog topic (5% without a profile, 5% without a phone, 15%
without SMS consent, 10% premium), then ATM refusals (80% insufficient funds, 2% out of order by up to 4 s,
within the source's 5 s), then one filler event 10 minutes later (a card_blocked refusal, filtered out) that
moves event time past every window and every delayed SMS, so a streaming job owes everything the input
implies. The oracle is the in-process harness (jobs/runtime/harness.py: the engine's node code on a plain
Python loop and dict state, no Flink, no Kafka, no checkpoints) over the same lines: what a run that never
failed computes. The job: `flink run` of jobs/scenario_job.py on the private session cluster, exactly-once,
checkpoints every 2 s.

What a drill then counts, by id: actions read back with a read_committed consumer (lost = expected and never
read, duplicated = read more than once, unexpected = read and not expected, changed = same id, other
content) and Elasticsearch documents (lost, unexpected, changed; `rewritten` = documents whose _version > 1,
written again after a restore, which at-least-once allows and ids make harmless).
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.drills.private import ROOT, Private
from bench.inputs import START_MS, iso

SCENARIO = ROOT / "bench" / "scenarios" / "drills" / "bank_drill.yaml"
CUSTOMERS = 2_000
CHECKPOINT_MS = 2_000
FILLER_AFTER_MS = 600_000
# kafka-python drops a batch not delivered within its delivery timeout (120 s by default), which a loaded machine
# reached in the poison drill: the drills' producers wait longer and check every send
DELIVERY_TIMEOUT_MS = 900_000


def profiles(seed: int = 11) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for c in range(CUSTOMERS):
        if c % 20 == 0:
            continue
        rows.append((f"cust-{c}", json.dumps({
            "customer_id": f"cust-{c}", "name": f"Name{c}", "phone": None if rng.random() < 0.05 else f"+48600{c:06d}",
            "balance": round(rng.uniform(-500, 2000), 2), "sms_consent": rng.random() >= 0.15,
            "segment": "premium" if rng.random() < 0.10 else "mass", "updated_at": iso(START_MS - 3_600_000 + c)})))
    return rows


def event(rng: random.Random, i: int, ts: int, reason: str | None = None) -> tuple[str, str]:
    customer = f"cust-{rng.randrange(CUSTOMERS)}"
    when = ts - rng.randint(1, 4_000) if rng.random() < 0.02 else ts
    reason = reason or ("insufficient_funds" if rng.random() < 0.8 else "card_blocked")
    return customer, json.dumps({"event_id": f"e{i}", "customer_id": customer, "atm_id": f"atm-{rng.randrange(300)}",
                                 "requested": float(rng.choice((50, 100, 200, 300, 500, 800))), "reason": reason,
                                 "ts": iso(when)})


def events(n: int, seed: int = 13) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    ts, rows = START_MS, []
    for i in range(n):
        ts += rng.randint(0, 100)
        rows.append(event(rng, i, ts))
    rows.append(filler(rng, n, ts))
    return rows


def filler(rng: random.Random, i: int, last_ms: int) -> tuple[str, str]:
    return event(rng, i, last_ms + FILLER_AFTER_MS, reason="card_blocked")


def last_time_ms(rows: list[tuple[str, str]]) -> int:
    """The latest event time of `rows` (the filler's, for `events()`)."""
    from jobs.runtime.decode import parse_time_value

    return max(parse_time_value(json.loads(v)["ts"]) for _, v in rows)


def heartbeat(rng: random.Random, i: int, ts_ms: int) -> tuple[str, str]:
    """An event the scenario's first filter drops (no action, document or dead letter) that moves event time to
    `ts_ms`: what keeps time going after the input ends (bench/drills/faults.py, Feeder)."""
    return event(rng, i, ts_ms, reason="card_blocked")


def plan():
    from jobs.compiler.plan import make_plan
    from jobs.compiler.validate import load

    return make_plan(load(str(SCENARIO)))


def oracle(profile_rows: list[tuple[str, str]], event_rows: list[tuple[str, str]]) -> dict:
    """{"actions": {id: record}, "detected": {id: record}, "dead_letter": n} of a run that never failed."""
    from jobs.runtime.harness import run_in_process

    result = run_in_process(plan(), [("profiles", v) for _, v in profile_rows] + [("atm", v) for _, v in event_rows])
    norm = lambda records: {r["id"]: json.loads(json.dumps(r)) for r in records}  # noqa: E731
    return {"actions": norm(result.actions), "detected": norm(result.detected), "dead_letter": len(result.dead_letter),
            "inputs": len(event_rows)}


class Reader(threading.Thread):
    """Every record of a topic, read_committed, with the wall time it arrived: (value, received monotonic s)."""

    def __init__(self, bootstrap: str, topic: str):
        super().__init__(daemon=True)
        self.bootstrap, self.topic = bootstrap, topic
        self.records: list[tuple[dict, float]] = []
        self.halt = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        from kafka import KafkaConsumer

        consumer = None
        while not self.halt.is_set():
            try:
                if consumer is None:
                    consumer = KafkaConsumer(self.topic, bootstrap_servers=self.bootstrap, group_id=None,
                                             auto_offset_reset="earliest", enable_auto_commit=False,
                                             isolation_level="read_committed", fetch_max_wait_ms=100)
                for records in consumer.poll(timeout_ms=200).values():
                    now = time.monotonic()
                    self.records.extend((json.loads(r.value), now) for r in records)
            except Exception as exc:  # noqa: BLE001 - the broker drill takes the broker away under this consumer
                self.error = repr(exc)
                time.sleep(1)
        if consumer is not None:
            consumer.close()

    def ids(self) -> Counter:
        return Counter(r["id"] for r, _ in list(self.records))


def produce(bootstrap: str, topic: str, rows: list[tuple[str, str]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=262_144,
                             delivery_timeout_ms=DELIVERY_TIMEOUT_MS)
    futures = [producer.send(topic, key=key.encode(), value=value.encode()) for key, value in rows]
    producer.flush()
    for future in futures:
        future.get(timeout=DELIVERY_TIMEOUT_MS / 1000)  # raises the send's error: the oracle's input is all there
    producer.close()


def end_offset(bootstrap: str, topic: str) -> int:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        return consumer.end_offsets([TopicPartition(topic, 0)])[TopicPartition(topic, 0)]
    finally:
        consumer.close()


@dataclass
class BankRun:
    """One exactly-once job of the drill scenario on the private cluster, under a prefix of its own."""

    private: Private
    name: str
    prefix: str = field(default_factory=lambda: f"drill{uuid.uuid4().hex[:6]}.")
    job_id: str | None = None
    reader: Reader | None = None
    profile_rows: list = field(default_factory=list)
    feeder: object = None

    @property
    def bootstrap(self) -> str:
        return self.private.env("kafka")["KAFKA_BOOTSTRAP"]

    def topic(self, what: str) -> str:
        return {"atm": f"{self.prefix}atm", "profiles": f"{self.prefix}profiles",
                "actions": f"{self.prefix}bank_drill.actions.sms",
                "dead_letter": f"{self.prefix}bank_drill.dead_letter"}[what]

    def index(self) -> str:
        from jobs.config.naming import Naming

        return Naming("bank_drill", self.prefix).index

    def create_inputs(self) -> None:
        from jobs.config.settings import KafkaSettings
        from jobs.connect.topics import ensure_topics

        ensure_topics(KafkaSettings(self.bootstrap), [self.topic("atm"), self.topic("profiles")],
                      compacted=[self.topic("profiles")])

    def submit(self) -> str:
        from jobs.config.project import PROJECT_ROOT
        from jobs.connect.cluster import JOB_ID, flink_bin
        from jobs.connect.runner import default_kafka_jar

        flink = self.private.env("flink-cluster")
        es = self.private.env("elasticsearch")["ES_URL"]
        # a drill fails the job on purpose, many times: the cluster's 3 restarts would end it after the third kill
        conf = {"restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.attempts": "1000",
                "restart-strategy.fixed-delay.delay": "2s",
                "execution.checkpointing.tolerable-failed-checkpoints": "1000"}
        command = [flink_bin(), "run", "-m", flink["FLINK_REST_ADDRESS"], "-d", "-j", default_kafka_jar(),
                   *(f"-D{k}={v}" for k, v in conf.items()),
                   "-pyclientexec", sys.executable, "-pyexec", sys.executable,
                   "-py", f"{PROJECT_ROOT}/jobs/scenario_job.py",
                   "--pyFiles", f"{PROJECT_ROOT}/jobs,{PROJECT_ROOT}/udfs",
                   "--scenario", str(SCENARIO), "--kafka", self.bootstrap, "--es", es, "--exactly-once",
                   "--prefix", self.prefix, "--start", "earliest", "--checkpoint-ms", str(CHECKPOINT_MS)]
        import subprocess

        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        found = JOB_ID.search(done.stdout + done.stderr)
        if done.returncode != 0 or not found:
            raise RuntimeError(f"flink run failed: {(done.stdout + done.stderr)[-3000:]}")
        self.job_id = found.group(1)
        self.reader = Reader(self.bootstrap, self.topic("actions"))
        self.reader.start()
        return self.job_id

    def job(self) -> dict:
        return self.private.rest(f"/jobs/{self.job_id}")

    def all_running(self) -> bool:
        try:
            job = self.job()
        except OSError:
            return False
        return job.get("state") == "RUNNING" and all(v.get("status") == "RUNNING" for v in job.get("vertices", []))

    def checkpoints(self) -> dict:
        counts = self.private.rest(f"/jobs/{self.job_id}/checkpoints").get("counts", {})
        return {k: counts.get(k) for k in ("completed", "failed", "restored")}

    def checkpointed_since_restore(self) -> bool:
        try:
            latest = self.private.rest(f"/jobs/{self.job_id}/checkpoints").get("latest", {})
        except OSError:
            return False
        completed, restored = latest.get("completed") or {}, latest.get("restored") or {}
        return not restored or (completed.get("latest_ack_timestamp", 0) > restored.get("restore_timestamp", 0))

    def es_count(self) -> int:
        from elasticsearch import Elasticsearch

        es = Elasticsearch(self.private.env("elasticsearch")["ES_URL"], request_timeout=10)
        try:
            if not es.indices.exists(index=self.index()):
                return 0
            return es.count(index=self.index())["count"]
        except Exception:  # noqa: BLE001 - the Elasticsearch drill takes it away
            return -1
        finally:
            es.close()

    def wait_done(self, expected: dict, timeout_s: float, settle_s: float = 20, on_tick=None,
                  stall_s: float = 600) -> float | None:
        """Until every expected action is visible and the index holds every document (then `settle_s` more, for
        a late duplicate); seconds it took, None on timeout or when nothing new came out for `stall_s`.
        `on_tick(run)` runs every second (faults)."""
        started = last_change = time.monotonic()
        done_at, last = None, None
        while time.monotonic() - started < timeout_s and time.monotonic() - last_change < stall_s:
            if on_tick is not None:
                on_tick(self)
            state = self.job().get("state")
            if state in ("FAILED", "CANCELED", "FINISHED"):
                raise RuntimeError(f"job {self.job_id} is {state}")
            now = (len(self.reader.records), self.es_count())
            if now != last:
                last, last_change = now, time.monotonic()
            # complete: everything out, and the job running with a checkpoint completed since its last restore (a
            # restore still under way could yet write a duplicate)
            complete = len(self.reader.ids()) >= len(expected["actions"]) and now[1] >= len(expected["detected"]) \
                and self.all_running() and self.checkpointed_since_restore()
            if complete and done_at is None:
                done_at = time.monotonic()
            if done_at is not None and time.monotonic() - done_at >= settle_s:
                return round(done_at - started, 1)
            time.sleep(1)
        return None

    def cancel(self) -> None:
        if self.job_id:
            try:
                self.private.rest(f"/jobs/{self.job_id}?mode=cancel", method="PATCH")
            except OSError as exc:
                print(f"  (cancel {self.job_id}: {exc})", flush=True)
            for _ in range(120):
                try:
                    if self.job().get("state") in ("CANCELED", "FAILED", "FINISHED"):
                        break
                except OSError:
                    pass
                time.sleep(1)
        if self.reader is not None:
            time.sleep(3)
            self.reader.halt.set()
            self.reader.join(timeout=30)

    def compare(self, expected: dict) -> dict:
        from elasticsearch import Elasticsearch
        from elasticsearch.helpers import scan

        got = self.reader.ids()
        records = {r["id"]: r for r, _ in self.reader.records}
        want = expected["actions"]
        es = Elasticsearch(self.private.env("elasticsearch")["ES_URL"], request_timeout=60)
        try:
            es.indices.refresh(index=self.index())
            docs = {h["_id"]: (h["_source"], h.get("_version", 1))
                    for h in scan(es, index=self.index(), query={"query": {"match_all": {}}}, version=True)}
        finally:
            es.close()
        from jobs.config.settings import KafkaSettings
        from jobs.connect.topics import tail

        dead = sum(1 for _ in tail(KafkaSettings(self.bootstrap), self.topic("dead_letter"), from_beginning=True,
                                   idle_ms=5000))
        return {
            "input_records": end_offset(self.bootstrap, self.topic("atm")), "input_expected": expected["inputs"],
            "actions_expected": len(want), "actions_read": sum(got.values()),
            "actions_lost": len(want.keys() - got.keys()),
            "actions_duplicated": sum(n - 1 for n in got.values() if n > 1),
            "actions_unexpected": len(got.keys() - want.keys()),
            "actions_changed": sum(1 for k in want.keys() & records.keys() if records[k] != want[k]),
            "docs_expected": len(expected["detected"]), "docs_indexed": len(docs),
            "docs_lost": len(expected["detected"].keys() - docs.keys()),
            "docs_unexpected": len(docs.keys() - expected["detected"].keys()),
            "docs_changed": sum(1 for k, (d, _) in docs.items()
                                if k in expected["detected"] and d != expected["detected"][k]),
            "docs_rewritten": sum(1 for _, v in docs.values() if v > 1),
            "dead_letters": dead, "dead_letters_expected": expected["dead_letter"],
        }


def ok(result: dict) -> bool:
    zero = ("actions_lost", "actions_duplicated", "actions_unexpected", "actions_changed", "docs_lost",
            "docs_unexpected", "docs_changed")
    # the input on the topic is what the oracle read: else a "lost" action would be the drill's own producer's
    return all(result.get(k) == 0 for k in zero) and result.get("dead_letters") == result.get("dead_letters_expected") \
        and result.get("input_records") == result.get("input_expected")


def save_inputs(path: Path, rows: list[tuple[str, str]]) -> None:
    path.write_text("".join(v + "\n" for _, v in rows), encoding="utf-8")
