"""Latency of the bank example (scenarios/low_balance_offer) over real Kafka, embedded streaming job.

    PYTHONPATH=. .venv/bin/python bench/latency_kafka.py [--rate 2000] [--seconds 60] [--modes alo,eo]

Uses the project's Kafka (.cache/services/kafka.env; started with services/kafka.sh and stopped again if it
was not running). Per mode (at-least-once, exactly-once): fresh topics under a unique prefix, created with
`message.timestamp.type=LogAppendTime`, so every record timestamp is the broker's append time (one clock for
both ends); 2,000 customer profiles on the changelog topic; the job (`kairos run --kafka`, embedded) starts;
warm-up traffic (15 s, then until the job has caught up: its actions ~10 s after their events, or 180 s
have passed: `caught_up_after_s`); then ATM refusals at a fixed rate for `seconds` (each one earns an SMS), while the
profiles get 50 updates/s; then 15 s of filler events (filtered out) so event time passes every measured event's delay.

The SMS action is delayed 5 s of event time and the source allows 5 s of out-of-orderness, so an action
becomes due when an event 10.001 s younger has arrived: `raw` latency (action append - event append) is ~10 s
by design. The engine's latency is measured from the append time of the input record that made the action due
(the first record, in offset order, with time >= event time + 10,001 ms) to the action's append time:
`latency` below. With exactly-once the actions are written in Kafka transactions committed on checkpoints, so
a read_committed consumer sees them only after the next checkpoint: `visible` latency (the wall clock at which
this process's read_committed consumer received the action, same host as the broker) is bounded by the
checkpoint interval (--checkpoint-ms; kairos's default, 5 s) plus the checkpoint's own duration.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.services import Service  # noqa: E402
from jobs.connect.runner import DEFAULT_CHECKPOINT_MS  # noqa: E402

# the version the bank baseline implements (enrichment + delayed action): v4 in scenarios/ adds a 12 h
# per-offer cooldown, under which a benchmark of a few thousand customers sends nothing after the warm-up
SCENARIO = ROOT / "bench" / "scenarios" / "low_balance_offer" / "low_balance_offer.yaml"
DUE_AFTER_MS = 5_000 + 5_000 + 1  # delay + out-of-orderness + 1 ms (docs/time.md)
CUSTOMERS = 2_000
WARMUP_S, FILLER_S, CATCH_UP_S = 15, 15, 180


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


def _parse_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def pick(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    return {"n": len(ordered), "p50_ms": pick(0.50), "p99_ms": pick(0.99), "max_ms": ordered[-1],
            "mean_ms": round(sum(ordered) / len(ordered), 1)}


def create_topics(bootstrap: str, prefix: str) -> dict[str, str]:
    from kafka.admin import KafkaAdminClient, NewTopic

    topics = {"atm": f"{prefix}atm", "profiles": f"{prefix}profiles",
              "actions": f"{prefix}low_balance_offer.actions.sms"}
    append_time = {"message.timestamp.type": "LogAppendTime"}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="kairos-bench")
    try:
        admin.create_topics([NewTopic(topics["atm"], 1, 1, topic_configs=append_time),
                             NewTopic(topics["profiles"], 1, 1, topic_configs={"cleanup.policy": "compact"}),
                             NewTopic(topics["actions"], 1, 1, topic_configs=append_time)])
    finally:
        admin.close()
    return topics


def delete_topics(bootstrap: str, prefix: str) -> None:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="kairos-bench")
    try:
        mine = [t for t in admin.list_topics() if t.startswith(prefix)]
        if mine:
            admin.delete_topics(mine)
    except Exception as exc:  # noqa: BLE001 - cleanup only
        print(f"(could not delete the benchmark topics: {exc})")
    finally:
        admin.close()


class ActionReader(threading.Thread):
    """read_committed consumer of the actions topic: (event id, append ms, received wall ms) per action."""

    def __init__(self, bootstrap: str, topic: str):
        super().__init__(daemon=True)
        from kafka import KafkaConsumer

        self.consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                      enable_auto_commit=False, group_id=None, isolation_level="read_committed",
                                      fetch_max_wait_ms=5)
        self.seen: dict[str, tuple[int, int]] = {}
        self.measured, self.warm = 0, False  # actions of measured events so far; any warm-up action yet
        self.lag_ms: int | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for records in self.consumer.poll(timeout_ms=20).values():
                received = int(time.time() * 1000)
                for record in records:
                    event_id = json.loads(record.value)["event_id"]
                    if event_id not in self.seen:
                        self.seen[event_id] = (record.timestamp, received)
                        due = json.loads(record.value)["time"]
                        # how far behind the job is: ~10 s (delay + out-of-orderness) when it keeps up
                        self.lag_ms = received - _parse_ms(due) + 5_000
                        self.measured += event_id.startswith("M")
                        self.warm = self.warm or event_id.startswith("W")
        self.consumer.close()


class ProfileUpdates(threading.Thread):
    """A live changelog: 50 profile updates/s (time = now). The merged watermark is the smallest of the two
    sources' (docs/time.md) and the scenario's profiles source has no `idleness`: an idle profiles topic would
    hold event time back and no delayed SMS would ever be sent."""

    def __init__(self, bootstrap: str, topic: str):
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.stop = bootstrap, topic, threading.Event()

    def run(self) -> None:
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks=1, linger_ms=0)
        i = 0
        while not self.stop.wait(0.02):
            c = i % CUSTOMERS
            producer.send(self.topic, key=f"cust-{c}".encode(), value=json.dumps(_profile(c, int(time.time() * 1000)))
                          .encode())
            i += 1
        producer.close()


def _profile(c: int, updated_ms: int) -> dict:
    return {"customer_id": f"cust-{c}", "name": f"Name{c}", "phone": f"+48600{c:06d}", "balance": 10.0 + c,
            "sms_consent": True, "segment": "premium" if c % 10 == 0 else "mass", "updated_at": iso(updated_ms)}


def produce_at_rate(producer, topic: str, rate: int, seconds: float, make) -> int:
    """`rate` records/s for `seconds`, sent in 10 ms slices on a fixed schedule (no drift); returns the count."""
    sent, started = 0, time.monotonic()
    per_slice = rate / 100
    while True:
        elapsed = time.monotonic() - started
        if elapsed >= seconds:
            break
        due = int((elapsed + 0.01) * 100 * per_slice)
        while sent < due:
            now_ms = int(time.time() * 1000)
            key, value = make(sent, now_ms)
            producer.send(topic, key=key.encode(), value=value.encode())
            sent += 1
        producer.flush(timeout=5) if sent % 1000 < per_slice else None
        time.sleep(max(0.0, started + (due / per_slice) * 0.01 - time.monotonic()))
    producer.flush()
    return sent


def read_inputs(bootstrap: str, topic: str) -> list[tuple[int, int, str, int]]:
    """(offset, append ms, event id, event time ms) of every input record, in offset order."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek_to_beginning(partition)
    end = consumer.end_offsets([partition])[partition]
    rows = []
    while consumer.position(partition) < end:
        for records in consumer.poll(timeout_ms=500).values():
            for r in records:
                value = json.loads(r.value)
                rows.append((r.offset, r.timestamp, value["event_id"], value["ts_ms"]))
    consumer.close()
    return rows


def measure(bootstrap: str, exactly_once: bool, rate: int, seconds: float, checkpoint_ms: int) -> dict:
    from kafka import KafkaProducer
    from pyflink.common import JobStatus

    from jobs.compiler.plan import make_plan
    from jobs.compiler.validate import load
    from jobs.config.settings import load_connections
    from jobs.connect.runner import ConnectOptions, build, default_kafka_jar, prepare
    from jobs.flink.embedded import prepare_python_path

    mode = "exactly-once" if exactly_once else "at-least-once"
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    topics = create_topics(bootstrap, prefix)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=0)
    old = int(time.time() * 1000) - 3_600_000
    for c in range(CUSTOMERS):
        profile = _profile(c, old)
        producer.send(topics["profiles"], key=profile["customer_id"].encode(), value=json.dumps(profile).encode())
    producer.flush()

    def event(prefix_id: str, reason: str):
        def make(i: int, now_ms: int) -> tuple[str, str]:
            customer = f"cust-{i % CUSTOMERS}"
            return customer, json.dumps({"event_id": f"{prefix_id}{i}", "customer_id": customer, "atm_id": "atm-1",
                                         "requested": 300.0, "reason": reason, "ts": iso(now_ms), "ts_ms": now_ms})
        return make

    prepare_python_path()
    plan = make_plan(load(str(SCENARIO)))
    conns = load_connections(bootstrap, None, environ={})
    opts = ConnectOptions(exactly_once=exactly_once, prefix=prefix, start="earliest", checkpoint_ms=checkpoint_ms,
                          kafka_jar=default_kafka_jar(), extra_config={
                              "restart-strategy.type": "none",
                              # 10 s of pending SMS at 2,000/s is ~6 MB of state: over the 5 MB a checkpoint kept
                              # in JobManager memory may hold (the job fails on its first checkpoints without this)
                              "execution.checkpointing.storage": "filesystem",
                              "execution.checkpointing.dir": f"file://{tempfile.gettempdir()}/kairos-bench-checkpoints"})
    prepare(plan, conns, opts)
    env = build(plan, conns, opts)
    reader = ActionReader(bootstrap, topics["actions"])
    reader.start()
    updates = ProfileUpdates(bootstrap, topics["profiles"])
    load_before = [round(x, 2) for x in os.getloadavg()]
    client = env.execute_async(f"bench/latency-{mode}")
    job_result = client.get_job_execution_result()
    job_started = time.monotonic()
    updates.start()
    try:
        while client.get_job_status().result() != JobStatus.RUNNING:  # traffic before that is only a backlog
            if job_result.done() or time.monotonic() - job_started > CATCH_UP_S:
                job_result.result()  # raises with Flink's error
                raise RuntimeError(f"the job did not start within {CATCH_UP_S} s")
            time.sleep(0.5)
        # warm-up traffic until its actions come out (the job is up, has read the profiles) and the job has caught
        # up with what arrived while it started: the measured phase must not begin with a backlog
        warm = produce_at_rate(producer, topics["atm"], rate, WARMUP_S, event("W", "insufficient_funds"))
        caught_up_after_s = None
        while True:
            if job_result.done():
                job_result.result()  # raises with Flink's error
            if reader.warm and reader.lag_ms is not None and reader.lag_ms < DUE_AFTER_MS + 1_500:
                caught_up_after_s = round(time.monotonic() - job_started, 1)
                break
            if time.monotonic() - job_started > CATCH_UP_S:
                break  # saturated: measured anyway, and `caught_up_after_s: null` says so
            warm += produce_at_rate(producer, topics["atm"], rate, 1, event("W", "insufficient_funds"))
        produce_start = time.monotonic()
        sent = produce_at_rate(producer, topics["atm"], rate, seconds, event("M", "insufficient_funds"))
        achieved = sent / (time.monotonic() - produce_start)
        produce_at_rate(producer, topics["atm"], rate, FILLER_S, event("G", "card_blocked"))
        deadline = time.monotonic() + 60
        while reader.measured < sent and time.monotonic() < deadline:
            produce_at_rate(producer, topics["atm"], rate, 1, event("H", "card_blocked"))
        load_after = [round(x, 2) for x in os.getloadavg()]
    finally:
        with contextlib.suppress(Exception):  # the job may have failed already; its error was raised above
            client.cancel().result()
        reader.stop.set()
        updates.stop.set()
        reader.join(timeout=10)
        updates.join(timeout=10)
        producer.close()
    inputs = read_inputs(bootstrap, topics["atm"])
    delete_topics(bootstrap, prefix)
    # the input record that made each measured event's action due: first offset whose running max time is late enough
    max_ts, running = None, []
    for _offset, appended, _, ts in inputs:
        max_ts = ts if max_ts is None else max(max_ts, ts)
        running.append((max_ts, appended))
    raw, engine, visible, missing = [], [], [], 0
    maxima = [m for m, _ in running]
    for offset, appended, event_id, ts in inputs:
        if not event_id.startswith("M"):
            continue
        got = reader.seen.get(event_id)
        if got is None:
            missing += 1
            continue
        action_appended, received = got
        due_index = bisect.bisect_left(maxima, ts + DUE_AFTER_MS, lo=offset - inputs[0][0])
        due_appended = max(running[due_index][1], appended) if due_index < len(running) else None
        raw.append(action_appended - appended)
        if due_appended is not None:
            engine.append(action_appended - due_appended)
            visible.append(received - due_appended)
    tenth = max(1, len(engine) // 10)
    # latency that grows from the first to the last tenth of the run means a backlog: the job is slower than the rate
    trend = {"first_tenth_p50_ms": percentiles(engine[:tenth]).get("p50_ms"),
             "last_tenth_p50_ms": percentiles(engine[-tenth:]).get("p50_ms")}
    return {"mode": mode, "rate_target_eps": rate, "trend": trend, "caught_up_after_s": caught_up_after_s,
            "rate_achieved_eps": round(achieved),
            "seconds": seconds,
            "events": sent, "warmup_events": warm, "actions_missing": missing, "checkpoint_ms": checkpoint_ms,
            "timestamps": "LogAppendTime on the input and actions topics (broker clock)",
            "latency": percentiles(engine), "visible": percentiles(visible), "raw": percentiles(raw),
            "load_before": load_before, "load_after": load_after}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--modes", default="alo,eo")
    parser.add_argument("--checkpoint-ms", type=int, default=DEFAULT_CHECKPOINT_MS)  # kairos's default
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latency_kafka.json")
    args = parser.parse_args()
    results = {}
    with Service("kafka") as kafka_env:
        bootstrap = kafka_env["KAFKA_BOOTSTRAP"]
        for mode in args.modes.split(","):
            print(f"== latency over Kafka, {mode}: {args.rate} events/s for {args.seconds:.0f} s", flush=True)
            results[mode] = measure(bootstrap, mode == "eo", args.rate, args.seconds, args.checkpoint_ms)
            print(json.dumps(results[mode], indent=2), flush=True)
    ok = all(r["actions_missing"] == 0 for r in results.values())
    out = {"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "modes": results, "ok": ok}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
