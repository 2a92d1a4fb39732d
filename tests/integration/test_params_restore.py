"""Live parameters survive a restore: the values are Flink broadcast state, carried by a savepoint.

A job (embedded, real Kafka) runs batch 1 on the default threshold (500.0), gets a change to 200.0, is stopped
with a savepoint and started again from it. The second job does not read the change again (the savepoint
holds its read position on the control topic past it: no second `parameter_changed` detection), yet batch 2
is judged with 200.0: the value came back from the restored broadcast state. Expected alerts by hand.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from jobs.config.settings import KafkaSettings, load_connections
from jobs.connect.topics import ensure_topics, produce
from tests.integration.test_kafka_es_e2e import read_topic, wait_for

pytestmark = pytest.mark.integration
SCENARIO = Path(__file__).resolve().parent / "scenarios" / "live_params" / "live_threshold.yaml"


def ev(eid: str, amount: float, minute: int) -> str:
    return json.dumps({"txn_id": eid, "customer_id": f"c-{eid}", "amount": amount,
                       "ts": f"2026-11-02T10:{minute:02d}:00Z"})


def test_a_changed_value_comes_back_after_a_restore(kafka_bootstrap, tmp_path):
    from pyflink.java_gateway import get_gateway

    from jobs.compiler.plan import make_plan
    from jobs.compiler.validate import load
    from jobs.connect.param_send import change_message, send_change
    from jobs.connect.runner import ConnectOptions, build, default_kafka_jar, prepare
    from jobs.flink.embedded import prepare_python_path

    prefix = f"t{uuid.uuid4().hex[:8]}."
    kafka = KafkaSettings(kafka_bootstrap)
    ensure_topics(kafka, [f"{prefix}tx", f"{prefix}kairos.control"])
    actions, detections = f"{prefix}live_threshold.actions.alert", f"{prefix}live_threshold.detections"
    conns = load_connections(kafka_bootstrap, None, None, environ={})
    plan = make_plan(load(str(SCENARIO)))
    prepare_python_path()

    def start(restore: str | None = None):
        # ignore-unclaimed: the Table API action sink's operator ids depend on a per-process counter
        # (`*anonymous_datastream_source$N*`), so a second build in this process cannot claim the first one's
        # sink state (found here; in a fresh process they match). The entry's uid is stable: were its broadcast
        # state not restored, batch 2 would be judged with 500.0 and the assertions below would fail.
        restoring = {"execution.state-recovery.path": restore,
                     "execution.state-recovery.ignore-unclaimed-state": "true"} if restore else {}
        extra = {"restart-strategy.type": "none", **restoring}
        opts = ConnectOptions(prefix=prefix, start="earliest", checkpoint_ms=500, kafka_jar=default_kafka_jar(),
                              extra_config=extra, checkpoint_dir=str(tmp_path / "checkpoints"))
        prepare(plan, conns, opts)
        return build(plan, conns, opts).execute_async("params-restore")

    def changes() -> list[dict]:
        return [r for _, r in read_topic(kafka, detections) if r["kind"] == "parameter_changed"]

    first = start()
    try:
        produce(kafka, f"{prefix}tx", [ev("a", 300.0, 0), ev("b", 600.0, 1)])
        wait_for("batch 1's alert", lambda: len(read_topic(kafka, actions)) >= 1, timeout=300)
        send_change(kafka, prefix, change_message("live_threshold", "min_amount", 200.0))
        wait_for("the change", lambda: len(changes()) >= 1, timeout=120)
        time.sleep(2)  # a checkpoint after the change: not needed by the savepoint, but the offsets are committed
        canonical = get_gateway().jvm.org.apache.flink.core.execution.SavepointFormatType.CANONICAL
        savepoint = first._j_job_client.triggerSavepoint(str(tmp_path / "sp"), canonical).get()
    finally:
        first.cancel().result()
    second = start(restore=savepoint)
    try:
        produce(kafka, f"{prefix}tx", [ev("c", 300.0, 2), ev("d", 150.0, 3), ev("e", 200.0, 4)])
        sent = wait_for("batch 2's alerts", lambda: len(r := read_topic(kafka, actions)) >= 3 and r, timeout=300)
        time.sleep(3)  # anything extra would show up now
        sent, changed = read_topic(kafka, actions), changes()
    finally:
        second.cancel().result()
    # by hand: batch 1 on 500.0 alerts b only; batch 2 on the restored 200.0 alerts c (300) and e (200), not d
    assert {r["id"].rsplit(":", 1)[1]: r["payload"] for _, r in sent} == {
        "b": {"amount": 600.0, "threshold": 500.0}, "c": {"amount": 300.0, "threshold": 200.0},
        "e": {"amount": 200.0, "threshold": 200.0}}
    assert len(changed) == 1, changed  # the second job never read the change again
