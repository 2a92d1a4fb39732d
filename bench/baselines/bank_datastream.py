"""The bank example (scenarios/low_balance_offer) written by hand as one PyFlink DataStream job.

    merged input file -> parse (flat map, bad lines to a side output) -> timestamps + 5 s bounded
    out-of-orderness watermarks -> key_by customer -> one KeyedProcessFunction: the latest profile in a
    ValueState (changelog enrichment), the filters and the offer rules, the detection at once, the SMS held in a
    MapState by due time and sent by an event-time timer 5 s (event time) later -> JSON lines to FileSinks

It reads the same single ordered input a kairos file run reads (profiles and ATM events merged by time, a
profile first on a tie; bench/inputs.py `merged`, the rule of docs/time.md): with `mode: latest`, which
profile version an event sees depends on that order, so both jobs must see the same one. Lateness (for the
delayed SMS) uses Flink's watermark; see fraud_datastream.py for why that agrees with kairos on the bench input.

    PYTHONPATH=. .venv/bin/python -m bench.baselines.bank_datastream MERGED.tsv OUT_DIR
"""

from __future__ import annotations

import json
import sys

from bench.baselines.common import attach_sinks, iso_ms, parse_ts, round_half_up, run_baseline

SCENARIO = "low_balance_offer"
DELAY_MS = 5_000
OUT_OF_ORDERNESS_MS = 5_000
EVENT_FIELDS = ("event_id", "customer_id", "atm_id", "requested", "reason", "ts")
PROFILE_FIELDS = ("customer_id", "name", "phone", "balance", "sms_consent", "segment", "updated_at")
# one row type for both sources: kind, key, time, then the event's and the profile's fields
ROW_FIELDS = ("kind", "key", "ts", "event_id", "atm_id", "requested", "reason", "name", "phone", "balance",
              "sms_consent", "segment", "deleted")


def _check(data: dict, name: str, kind: type) -> None:
    value = data.get(name)
    if value is not None and (isinstance(value, bool) != (kind is bool) or not isinstance(value, kind)):
        raise ValueError(f"field '{name}': expected {kind.__name__}")


def _number(data: dict, name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"field '{name}': expected float")
    return float(value)


def decode(source: str, line: str) -> tuple:
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    if data.get("customer_id") is None:
        raise ValueError("missing key 'customer_id'")
    _check(data, "customer_id", str)
    if source == "profiles":
        deleted = data.get("_deleted") is True
        if not deleted and data.get("updated_at") is None:
            raise ValueError("missing time 'updated_at'")
        for name in ("name", "phone", "segment"):
            _check(data, name, str)
        _check(data, "sms_consent", bool)
        ts = parse_ts(data["updated_at"]) if data.get("updated_at") is not None else None
        return ("p", data["customer_id"], ts, None, None, None, None, data.get("name"), data.get("phone"),
                _number(data, "balance"), data.get("sms_consent"), data.get("segment"), deleted)
    for name in ("event_id", "atm_id", "reason"):
        _check(data, name, str)
    requested = _number(data, "requested")
    if data.get("ts") is None:
        raise ValueError("missing time 'ts'")
    return ("e", data["customer_id"], parse_ts(data["ts"]), data.get("event_id"), data.get("atm_id"), requested,
            data.get("reason"), None, None, None, None, None, False)


def offer(profile: tuple, requested: float | None) -> tuple[str, object]:
    """The scenario's `offer` rules, first match wins; profile = (name, phone, balance, sms_consent, segment)."""
    balance, segment = profile[2], profile[4]
    if segment == "premium":
        return "premium_credit_line", max([v for v in (5000, None if requested is None else requested * 10)
                                            if v is not None])
    if balance is not None and balance < 0:
        return "overdraft_protection", None if requested is None else round_half_up(abs(balance) + requested, 0)
    if requested is not None and requested >= 200:
        return "personal_loan", round_half_up(requested * 5, 0)
    return "cash_advance", requested


def dead_letter(node: str, error: str, raw, ts: int | None = None) -> str:
    return json.dumps({"scenario": SCENARIO, "node": node, "error": error, "raw": raw,
                       "time": iso_ms(ts) if ts is not None else None})


def build(env, input_path: str, out_dir: str) -> None:
    from pyflink.common import Duration, Row, Types, WatermarkStrategy
    from pyflink.common.watermark_strategy import TimestampAssigner
    from pyflink.datastream import OutputTag
    from pyflink.datastream.connectors.file_system import FileSource, StreamFormat
    from pyflink.datastream.functions import KeyedProcessFunction, ProcessFunction
    from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor

    dead_tag = OutputTag("dead_letter", Types.STRING())
    action_tag = OutputTag("actions", Types.STRING())
    s, d = Types.STRING(), Types.DOUBLE()
    row_type = Types.ROW_NAMED(list(ROW_FIELDS), [s, s, Types.LONG(), s, s, d, s, s, s, d, Types.BOOLEAN(), s,
                                                  Types.BOOLEAN()])

    class Parse(ProcessFunction):
        def process_element(self, value, ctx):
            source, _, line = value.partition("\t")
            try:
                yield Row(*decode(source, line))
            except (ValueError, AttributeError) as exc:
                yield dead_tag, dead_letter(source, str(exc), line)

    class EventTime(TimestampAssigner):
        def extract_timestamp(self, value, record_timestamp):
            return value[2] if value[2] is not None else record_timestamp

    class Offer(KeyedProcessFunction):
        def open(self, runtime_context):
            self.profile = runtime_context.get_state(ValueStateDescriptor("profile", Types.PICKLED_BYTE_ARRAY()))
            self.pending = runtime_context.get_map_state(
                MapStateDescriptor("pending", Types.LONG(), Types.PICKLED_BYTE_ARRAY()))

        def process_element(self, row, ctx):
            if row[0] == "p":
                if row[12]:
                    self.profile.clear()
                else:
                    self.profile.update((row[7], row[8], row[9], row[10], row[11]))
                return
            if row[6] != "insufficient_funds":
                return
            profile = self.profile.value()
            if profile is None or not profile[3] or profile[1] is None:  # reachable: consent and a phone
                return
            customer, ts, event_id, requested = row[1], row[2], row[3], row[5]
            product, limit = offer(profile, requested)
            event = {"event_id": event_id, "customer_id": customer, "atm_id": row[4], "requested": requested,
                     "reason": row[6], "ts": ts}
            yield json.dumps({"id": f"{SCENARIO}:log_offer:{event_id}", "scenario": SCENARIO, "node": "log_offer",
                              "kind": "loan_offer", "key": customer, "event_id": event_id, "time": iso_ms(ts),
                              "event": event, "fields": {"product": product, "limit": limit,
                                                         "balance": profile[2]}})
            watermark = ctx.timer_service().current_watermark()
            if ts <= watermark:
                yield dead_tag, dead_letter("send_sms", f"late event: time {ts} is at or before the watermark "
                                            f"{watermark}", event, ts)
                return
            text = (f"Hi {profile[0]}, short on cash? Your {product.replace('_', ' ')} of up to {limit} PLN is one "
                    "tap away.")
            due = ts + DELAY_MS
            action = {"id": f"{SCENARIO}:send_sms:{event_id}", "scenario": SCENARIO, "node": "send_sms",
                      "channel": "sms", "to": profile[1], "event_id": event_id, "time": iso_ms(due),
                      "payload": {"text": text, "product": product, "customer_id": customer}}
            self.pending.put(due, [*(self.pending.get(due) or []), json.dumps(action)])
            ctx.timer_service().register_event_time_timer(due)

        def on_timer(self, timestamp, ctx):
            for due in sorted(k for k in self.pending.keys() if k <= timestamp):
                for action in self.pending.get(due):
                    yield action_tag, action
                self.pending.remove(due)

    source = FileSource.for_record_stream_format(StreamFormat.text_line_format(), input_path).build()
    lines = env.from_source(source, WatermarkStrategy.no_watermarks(), "bank-file")
    parsed = lines.process(Parse(), output_type=row_type).name("parse")
    watermarks = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(OUT_OF_ORDERNESS_MS))
                  .with_timestamp_assigner(EventTime()))
    detected = (parsed.assign_timestamps_and_watermarks(watermarks).name("watermarks")
                .key_by(lambda row: row[1], key_type=Types.STRING())
                .process(Offer(), output_type=Types.STRING()).name("offer"))
    attach_sinks(parsed, detected, action_tag, dead_tag, out_dir)


def run(input_path: str, out_dir: str) -> dict:
    """{seconds, outputs: {actions, detected, dead_letter}}: one job on a fresh MiniCluster in this JVM."""
    return run_baseline(build, input_path, out_dir, "baseline/bank-datastream")


if __name__ == "__main__":
    result = run(sys.argv[1], sys.argv[2])
    print(json.dumps({"seconds": round(result["seconds"], 2),
                      **{k: len(v) for k, v in result["outputs"].items()}}))
