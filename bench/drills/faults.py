"""The four drills on the private cluster: TaskManager crashes, a broker restart, an Elasticsearch outage, and a
TaskManager away for a minute while events keep arriving (restore and catch-up). Each runs the bank workload
(bench/drills/bank.py) and counts lost / duplicated outputs against the oracle."""

from __future__ import annotations

import json
import random
import signal
import threading
import time

from bench.drills import bank
from bench.drills.private import Private

RUN_TIMEOUT_S = 2_400


def _wait(what: str, check, timeout_s: float = 600) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"{what}: not within {timeout_s:.0f} s")
        time.sleep(0.5)
    return round(time.monotonic() - started, 1)


def _restarts(run: bank.BankRun) -> int | None:
    try:
        metrics = run.private.rest(f"/jobs/{run.job_id}/metrics?get=numRestarts")
        return int(float(metrics[0]["value"])) if metrics else None
    except (OSError, KeyError, ValueError, IndexError):
        return None


class Feeder(threading.Thread):
    """Produce `rows` at `rate` per second (on a fixed schedule), so a run lasts long enough for its faults; then
    a heartbeat every `heartbeat_s` until `halt`: a filtered-out event whose time moves on (after the input's
    own filler), as a live stream's next events would.

    Why the heartbeat: Flink does not checkpoint watermarks. A restore from a checkpoint taken after the input's
    last event (the filler that moves event time past every delayed action and window) has nothing left to read,
    so its event time never moves again and the restored timers wait for an event that never comes. Measured in
    the quick TaskManager drill: three kills, the last restore at the topic's end offset, 46% of the actions held
    in state for the whole 600 s stall window; with the heartbeat they come out after the restore. On a live
    stream the next event does what the heartbeat does (docs/reliability.md, "What a restore does to time")."""

    def __init__(self, bootstrap: str, topic: str, rows: list[tuple[str, str]], rate: int,
                 heartbeat_s: float = 1.0):
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.rows, self.rate = bootstrap, topic, rows, rate
        self.heartbeat_s = heartbeat_s
        self.sent = 0
        self.heartbeats: list[tuple[str, str]] = []
        self.failed: int | None = None  # sends that failed (after the flush): the oracle's input must all be there
        self.paused = threading.Event()
        self.halt = threading.Event()

    def run(self) -> None:
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5,
                                 delivery_timeout_ms=bank.DELIVERY_TIMEOUT_MS)
        futures = []
        started = time.monotonic()
        while self.sent < len(self.rows):
            if self.paused.is_set():  # the schedule moves on: what was due comes out at once afterwards
                time.sleep(0.1)
                continue
            due = min(len(self.rows), int((time.monotonic() - started) * self.rate) + 1)
            for key, value in self.rows[self.sent:due]:
                futures.append(producer.send(self.topic, key=key.encode(), value=value.encode()))
            self.sent = due
            time.sleep(0.01)
        rng, last_ms = random.Random(len(self.rows)), bank.last_time_ms(self.rows)
        while not self.halt.wait(self.heartbeat_s):
            if self.paused.is_set():
                continue
            key, value = bank.heartbeat(rng, len(self.rows) + len(self.heartbeats), last_ms + len(self.heartbeats) + 1)
            futures.append(producer.send(self.topic, key=key.encode(), value=value.encode()))
            self.heartbeats.append((key, value))
        producer.flush()
        self.failed = sum(1 for f in futures if not f.succeeded())
        producer.close()


def _start(private: Private, name: str, n: int, rate: int | None = None) -> tuple[bank.BankRun, dict, float]:
    """The job on its input: all of it produced first (rate None), or produced at `rate` while it runs."""
    run = bank.BankRun(private, name)
    profile_rows, event_rows = bank.profiles(), bank.events(n)
    expected = bank.oracle(profile_rows, event_rows)
    run.create_inputs()
    run.profile_rows = profile_rows
    bank.produce(run.bootstrap, run.topic("profiles"), profile_rows)
    if rate is None:
        bank.produce(run.bootstrap, run.topic("atm"), event_rows)
    else:
        run.feeder = Feeder(run.bootstrap, run.topic("atm"), event_rows, rate)
    run.submit()
    _wait("job running", run.all_running)
    if rate is not None:
        run.feeder.start()
    print(f"  {name}: job {run.job_id}, {n} events, expecting {len(expected['actions'])} actions and "
          f"{len(expected['detected'])} documents", flush=True)
    return run, expected, time.monotonic()


def _fraction(run: bank.BankRun, expected: dict) -> float:
    return len(run.reader.ids()) / max(1, len(expected["actions"]))


def _finish(run: bank.BankRun, expected: dict, took: float | None, extra: dict) -> dict:
    if run.feeder is not None:
        run.feeder.halt.set()
        run.feeder.join(timeout=120)
        extra = {**extra, "input_sends_failed": run.feeder.failed, "heartbeats": len(run.feeder.heartbeats)}
        if run.feeder.heartbeats:  # the oracle over what the topic really holds (heartbeats owe nothing: checked)
            expected = bank.oracle(run.profile_rows, run.feeder.rows + run.feeder.heartbeats)
    checkpoints = run.checkpoints()
    restarts = _restarts(run)
    run.cancel()
    result = {**run.compare(expected), "completed_in_s": took, "timed_out": took is None,
              "job_restarts": restarts, "checkpoints": checkpoints, **extra}
    result["ok"] = bank.ok(result) and took is not None
    return result


def taskmanager_crash(private: Private, n: int, kills: int = 3, rate: int = 500, seed: int = 5) -> dict:
    """Events produced at `rate`/s; kill -9 the TaskManager `kills` times at random moments of the production
    (uniform over 10-90% of its planned length), each once the job has recovered from the previous kill; a new
    TaskManager follows 1-3 s after each kill."""
    rng = random.Random(seed)
    run, expected, started = _start(private, "taskmanager_crash", n, rate)
    targets = sorted(rng.uniform(0.1, 0.9) * n / rate for _ in range(kills))
    log: list[dict] = []
    pending: dict = {}

    def tick(run: bank.BankRun) -> None:
        if pending:
            if not pending.get("down") and not run.all_running():
                pending["down"] = True
            if pending.get("down") and run.all_running():
                pending["entry"]["recovered_after_s"] = round(time.monotonic() - pending["at"], 1)
                pending.clear()
            return
        if len(log) >= len(targets) or not run.all_running():
            return
        seen = _fraction(run, expected)
        if time.monotonic() - started >= targets[len(log)] and seen < 1:
            at = time.monotonic()
            pids = private.kill_taskmanager()
            time.sleep(rng.uniform(1, 3))
            private.start_taskmanager()
            entry = {"at_s": round(at - started, 1), "planned_at_s": round(targets[len(log)], 1),
                     "events_produced": run.feeder.sent, "output_seen": round(seen, 3), "killed_pids": pids}
            log.append(entry)
            pending.update(at=at, entry=entry)
            print(f"  kill -9 TaskManager {pids} at {entry['at_s']} s ({seen:.0%} of the actions visible)", flush=True)

    took = run.wait_done(expected, RUN_TIMEOUT_S, on_tick=tick)
    return _finish(run, expected, took, {"events": n, "rate_eps": rate, "kills": log, "kills_planned": kills})


def broker_restart(private: Private, n: int, rate: int, down_s: float = 10, at: float = 0.3) -> dict:
    """Events produced at `rate`/s; at `at` of the production time, stop the Kafka broker (TERM) and start it
    again `down_s` later with the same ports and data directory. The drill's own producer waits meanwhile (an
    upstream system buffers too: what it owes is the input of the oracle, exactly once)."""
    run, expected, started = _start(private, "broker_restart", n, rate)
    info: dict = {}

    def tick(run: bank.BankRun) -> None:
        if info or time.monotonic() - started < at * n / rate:
            return
        info["at_s"] = round(time.monotonic() - started, 1)
        info["output_seen"] = round(_fraction(run, expected), 3)
        info["events_produced"] = run.feeder.sent
        run.feeder.paused.set()
        time.sleep(0.5)
        stopped = time.monotonic()
        saved = private.stop_service("kafka")
        print(f"  broker stopped at {info['at_s']} s; back in {down_s:.0f} s", flush=True)
        time.sleep(down_s)
        info["ready_after_restart_s"] = private.restart_service("kafka", saved)
        info["down_s"] = round(time.monotonic() - stopped, 1)
        run.feeder.paused.clear()
        print(f"  broker back after {info['down_s']} s", flush=True)

    took = run.wait_done(expected, RUN_TIMEOUT_S, on_tick=tick)
    return _finish(run, expected, took, {"events": n, "rate_eps": rate, "broker": info})


def es_outage(private: Private, n: int, rate: int, down_s: float = 30, at: float = 0.3) -> dict:
    """Events produced at `rate`/s (on through the outage); at `at` of the production time, stop Elasticsearch and
    start it again `down_s` later (same ports, same data). The job must neither fail (job_restarts 0) nor drop a
    document."""
    run, expected, started = _start(private, "es_outage", n, rate)
    info: dict = {}

    def tick(run: bank.BankRun) -> None:
        if info or time.monotonic() - started < at * n / rate:
            return
        info["at_s"] = round(time.monotonic() - started, 1)
        info["docs_before"] = run.es_count()
        stopped = time.monotonic()
        saved = private.stop_service("elasticsearch")
        print(f"  Elasticsearch stopped at {info['at_s']} s ({info['docs_before']} documents); back in "
              f"{down_s:.0f} s", flush=True)
        time.sleep(down_s)
        info["job_state_while_down"] = run.job().get("state")
        info["ready_after_restart_s"] = private.restart_service("elasticsearch", saved)
        info["down_s"] = round(time.monotonic() - stopped, 1)
        print(f"  Elasticsearch back after {info['down_s']} s", flush=True)

    took = run.wait_done(expected, RUN_TIMEOUT_S, on_tick=tick)
    result = _finish(run, expected, took, {"events": n, "rate_eps": rate, "elasticsearch": info})
    result["ok"] = result["ok"] and result["job_restarts"] == 0
    return result


class LiveEvents(threading.Thread):
    """ATM refusals at `rate` per second with the wall clock as their time (the rows kept, in order, for the
    oracle)."""

    def __init__(self, bootstrap: str, topic: str, rate: int, seed: int = 17):
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.rate = bootstrap, topic, rate
        self.rng = random.Random(seed)
        self.rows: list[tuple[str, str, float]] = []  # key, value, produced (monotonic s)
        self.halt = threading.Event()

    def run(self) -> None:
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5)
        started = time.monotonic()
        while not self.halt.is_set():
            due = int((time.monotonic() - started) * self.rate)
            while len(self.rows) < due:
                key, value = bank.event(self.rng, len(self.rows), int(time.time() * 1000))
                producer.send(self.topic, key=key.encode(), value=value.encode())
                self.rows.append((key, value, time.monotonic()))
            time.sleep(0.01)
        key, value = bank.filler(self.rng, len(self.rows), int(time.time() * 1000))
        producer.send(self.topic, key=key.encode(), value=value.encode())
        self.rows.append((key, value, time.monotonic()))
        producer.flush()
        producer.close()


def restore(private: Private, rate: int, before_s: float, down_s: float = 60, after_s: float = 30) -> dict:
    """Events arrive at `rate`/s; after `before_s` the TaskManager is stopped (TERM) and none runs for `down_s`;
    then a new one starts. Catch-up: from the new TaskManager's start until every action of the events produced
    before it is visible (an action is due 10 s of event time after its event: delay 5 s + out-of-orderness 5 s,
    so about 10 s of that is by design, not recovery)."""
    run = bank.BankRun(private, "restore")
    profile_rows = bank.profiles()
    run.create_inputs()
    bank.produce(run.bootstrap, run.topic("profiles"), profile_rows)
    run.submit()
    _wait("job running", run.all_running)
    live = LiveEvents(run.bootstrap, run.topic("atm"), rate)
    live.start()
    time.sleep(before_s)
    checkpoints_before = run.checkpoints()
    stopped = time.monotonic()
    pids = private.kill_taskmanager(signal.SIGTERM)
    print(f"  TaskManager {pids} stopped; {rate} events/s keep arriving for {down_s:.0f} s", flush=True)
    time.sleep(down_s)
    back = time.monotonic()
    produced_before_back = len(live.rows)
    private.start_taskmanager()
    running_after = _wait("job running again", run.all_running, 900)
    time.sleep(after_s)
    live.halt.set()
    live.join(timeout=60)
    event_rows = [(k, v) for k, v, _ in live.rows]
    expected = bank.oracle(profile_rows, event_rows)
    took = run.wait_done(expected, RUN_TIMEOUT_S)
    before_ids = {json.loads(v)["event_id"] for _, v in event_rows[:produced_before_back]}
    seen = [t for r, t in run.reader.records if r.get("event_id") in before_ids and t >= back]
    catch_up = round(max(seen) - back, 1) if seen else None
    result = _finish(run, expected, took, {
        "rate_eps": rate, "events": len(event_rows), "down_s": round(back - stopped, 1),
        "events_while_down": produced_before_back - sum(1 for *_, t in live.rows if t < stopped),
        "running_after_restart_s": running_after, "catch_up_s": catch_up,
        "checkpoints_before_stop": checkpoints_before})
    return result
