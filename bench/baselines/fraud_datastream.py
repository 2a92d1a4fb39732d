"""The fraud example (scenarios/card_fraud_velocity) written by hand as one plain PyFlink DataStream job.

    file source -> parse (flat map, bad lines to a side output) -> timestamps + bounded out-of-orderness
    watermarks -> key_by card -> one KeyedProcessFunction: refund filter, lateness, the 10-minute sliding window
    in one ValueState, the risk rules, detection + action -> JSON lines to FileSinks

Thread mode, parallelism 1, the same bundle and checkpoint settings as a kairos file run. Semantics follow the
scenario: the window of a transaction at t is (t - 10 min, t] over the card's transactions that arrived before it
(and itself); refunds (amount <= 0) are filtered before the window; malformed lines are dead letters.

Lateness is the one legitimate difference. kairos file runs decide it with a per-event watermark (the largest
time seen before the event - 30 s - 1 ms, docs/time.md) so it never depends on timing; this job uses Flink's
periodic watermark, as a hand-written job does. The bench input's late events are hours older than anything
else, so both call exactly the same events late once Flink has emitted its first watermark (the generator puts
none in the first 2,000 lines) and no late event can fall in another transaction's window: the outputs agree.

    PYTHONPATH=. .venv/bin/python -m bench.baselines.fraud_datastream INPUT.jsonl OUT_DIR
"""

from __future__ import annotations

import json
import sys

from bench.baselines.common import attach_sinks, iso_ms, parse_ts, round_half_up, run_baseline

SCENARIO = "card_fraud_velocity"
WINDOW_MS = 10 * 60 * 1000
OUT_OF_ORDERNESS_MS = 30_000
FIELDS = ("txn_id", "card_id", "customer_id", "amount", "merchant", "country", "ts")
STRINGS = ("txn_id", "card_id", "customer_id", "merchant", "country")


def dead_letter(node: str, error: str, raw, ts: int | None = None) -> str:
    return json.dumps({"scenario": SCENARIO, "node": node, "error": error, "raw": raw,
                       "time": iso_ms(ts) if ts is not None else None})


def decode(line: str) -> tuple:
    """One input line as a typed tuple in FIELDS order; ValueError with the reason when it is not valid."""
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    for name in STRINGS:
        value = data.get(name)
        if value is not None and value.__class__ is not str:
            raise ValueError(f"field '{name}': expected string")
    amount = data.get("amount")
    if amount is not None:
        if isinstance(amount, bool) or not isinstance(amount, (int, float)):
            raise ValueError("field 'amount': expected float")
        amount = float(amount)
    if data.get("card_id") is None:
        raise ValueError("missing key 'card_id'")
    if data.get("ts") is None:
        raise ValueError("missing time 'ts'")
    return (data.get("txn_id"), data["card_id"], data.get("customer_id"), amount, data.get("merchant"),
            data.get("country"), parse_ts(data["ts"]))


def build(env, input_path: str, out_dir: str) -> None:
    from pyflink.common import Duration, Row, Types, WatermarkStrategy
    from pyflink.common.watermark_strategy import TimestampAssigner
    from pyflink.datastream import OutputTag
    from pyflink.datastream.connectors.file_system import FileSource, StreamFormat
    from pyflink.datastream.functions import KeyedProcessFunction, ProcessFunction
    from pyflink.datastream.state import ValueStateDescriptor

    dead_tag = OutputTag("dead_letter", Types.STRING())
    action_tag = OutputTag("actions", Types.STRING())
    row_type = Types.ROW_NAMED(list(FIELDS), [Types.STRING()] * 3 + [Types.DOUBLE(), Types.STRING(), Types.STRING(),
                                                                     Types.LONG()])

    class Parse(ProcessFunction):
        """A flat map from line to typed row; what does not decode leaves through the dead-letter side output."""

        def process_element(self, line, ctx):
            try:
                yield Row(*decode(line))
            except (ValueError, AttributeError) as exc:
                yield dead_tag, dead_letter("transactions", str(exc), line)

    class EventTime(TimestampAssigner):
        def extract_timestamp(self, value, record_timestamp):
            return value[6]

    class Velocity(KeyedProcessFunction):
        def open(self, runtime_context):
            # the card's recent transactions [(ts, amount, country), ...] in arrival order: one state read and
            # one write per transaction
            self.window = runtime_context.get_state(ValueStateDescriptor("window", Types.PICKLED_BYTE_ARRAY()))

        def process_element(self, row, ctx):
            amount, ts = row[3], row[6]
            if amount is None or not amount > 0:  # card_present: refunds do not count
                return
            watermark = ctx.timer_service().current_watermark()
            if ts <= watermark:
                yield dead_tag, dead_letter("velocity", f"late event: time {ts} is at or before the watermark "
                                            f"{watermark}", dict(zip(FIELDS, row, strict=True)), ts)
                return
            entries = self.window.value()
            if not entries:
                entries = []
                ctx.timer_service().register_event_time_timer(ts + WINDOW_MS)  # one cleanup timer per busy card
            elif entries[0][0] + WINDOW_MS <= watermark:  # lazily drop what no on-time event can reach
                entries = [e for e in entries if e[0] + WINDOW_MS > watermark]
            entries.append((ts, amount, row[5]))
            self.window.update(entries)
            low, count, spent, countries = ts - WINDOW_MS, 0, None, set()
            for t, value, country in entries:
                if low < t <= ts:
                    count += 1
                    spent = value if spent is None else spent + value
                    if country is not None:
                        countries.add(country)
            if count > 3 and len(countries) > 1:
                risk = "high"
            elif count > 3 or spent > 2000:
                risk = "medium"
            else:
                return
            txn_id, card, customer = row[0], row[1], row[2]
            time_text, spent = iso_ms(ts), round_half_up(spent, 2)
            yield json.dumps({"id": f"{SCENARIO}:record:{txn_id}", "scenario": SCENARIO, "node": "record",
                              "kind": "card_velocity", "key": card, "event_id": txn_id, "time": time_text,
                              "event": dict(zip(FIELDS, row, strict=True)),
                              "fields": {"risk": risk, "txn_count": count, "spent": spent}})
            if risk == "high":
                yield action_tag, json.dumps({
                    "id": f"{SCENARIO}:alert_fraud_team:{txn_id}", "scenario": SCENARIO, "node": "alert_fraud_team",
                    "channel": "fraud_alert", "to": customer, "event_id": txn_id, "time": time_text,
                    "payload": {"card": card, "reason": f"velocity: {count} transactions in 10 minutes",
                                "spent": spent}})

        def on_timer(self, timestamp, ctx):
            entries = [e for e in (self.window.value() or []) if e[0] + WINDOW_MS > timestamp]
            if entries:
                self.window.update(entries)
                ctx.timer_service().register_event_time_timer(max(e[0] for e in entries) + WINDOW_MS)
            else:
                self.window.clear()

    source = FileSource.for_record_stream_format(StreamFormat.text_line_format(), input_path).build()
    lines = env.from_source(source, WatermarkStrategy.no_watermarks(), "transactions-file")
    parsed = lines.process(Parse(), output_type=row_type).name("parse")
    watermarks = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(OUT_OF_ORDERNESS_MS))
                  .with_timestamp_assigner(EventTime()))
    timed = parsed.assign_timestamps_and_watermarks(watermarks).name("watermarks")
    detected = (timed.key_by(lambda row: row[1], key_type=Types.STRING())
                .process(Velocity(), output_type=Types.STRING()).name("velocity"))
    attach_sinks(parsed, detected, action_tag, dead_tag, out_dir)


def run(input_path: str, out_dir: str) -> dict:
    """{seconds, outputs: {actions, detected, dead_letter}}: one job on a fresh MiniCluster in this JVM."""
    return run_baseline(build, input_path, out_dir, "baseline/fraud-datastream")


if __name__ == "__main__":
    result = run(sys.argv[1], sys.argv[2])
    print(json.dumps({"seconds": round(result["seconds"], 2),
                      **{k: len(v) for k, v in result["outputs"].items()}}))
