"""Issue 8, event path: each reproducer is one line among good ones; it becomes exactly one dead letter of the
source with a useful message and its raw input, and the good events around it come out as if it were not there.

Runs the in-process harness on the file-run input path (bytes read, merged, transported, decoded), which is
the same executor code the Flink job runs (tests/e2e/test_hostile_flink.py runs the job itself).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.runtime import decode, rawline
from jobs.runtime.decode import DecodeError, parse_json, parse_time_value, parse_timestamp
from jobs.runtime.files import merged_inputs
from jobs.runtime.rawline import unwrap_line, wrap_line
from tests.hostile import balanced, run_lines

REPO = Path(__file__).resolve().parents[2]
FRAUD = REPO / "scenarios" / "card_fraud_velocity" / "card_fraud_velocity.yaml"


def txn(i: int, minute: int, amount: object = 1500.0, card: str = "card-1", **extra) -> dict:
    return {"txn_id": f"t{i}", "card_id": card, "customer_id": "c1", "amount": amount, "merchant": "m",
            "country": "PL", "ts": f"2026-11-02T10:{minute:02d}:00Z", **extra}


def raw_txn(i: int, minute: int, field: str, raw: str) -> bytes:
    return json.dumps(txn(i, minute, **{field: "@@"})).replace('"@@"', raw).encode()


GOOD = [json.dumps(txn(1, 0)).encode(), json.dumps(txn(2, 1)).encode()]
AFTER = [json.dumps(txn(3, 2)).encode()]


@pytest.mark.parametrize("bad, message", [
    (raw_txn(9, 1, "ts", "Infinity"), "is not a timestamp"),
    (raw_txn(9, 1, "ts", "NaN"), "is not a timestamp"),
    (raw_txn(9, 1, "ts", '"\\u00b2"'), "is not a timestamp"),
    (raw_txn(9, 1, "ts", "10000000000000000000"), "outside the years 0001..9999"),
    (raw_txn(9, 1, "ts", "-99999999999999999"), "outside the years 0001..9999"),
    (raw_txn(9, 1, "ts", '"9999-12-31T00:00:00Z"'), "outside the event-time range"),
    (raw_txn(9, 1, "ts", '"1969-12-31T23:59:59Z"'), "outside the event-time range"),
    (raw_txn(9, 1, "ts", '"2100-01-01T00:00:00Z"'), "after the current time"),
    (raw_txn(9, 1, "amount", "NaN"), "field 'amount': NaN is not a finite number"),
    (raw_txn(9, 1, "amount", "Infinity"), "field 'amount': Infinity"),
    (raw_txn(9, 1, "amount", "1e400"), "field 'amount': Infinity (or a number like 1e400)"),
    (raw_txn(9, 1, "amount", "1" + "0" * 400), "field 'amount': an integer of about 40"),
    (raw_txn(9, 1, "amount", "1" + "0" * 5000), "malformed JSON"),
    (raw_txn(9, 1, "merchant", '"\\ud800"'), "field 'merchant': text with an unpaired UTF-16 surrogate"),
    (json.dumps(txn(9, 1)).encode().replace(b'"m"', b'"\xffm"'), "not valid UTF-8: byte"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deep"),
    (b"", "blank line"),
    (b"   \t", "blank line"),
    (json.dumps(txn(9, 1)).encode().replace(b'"m"', b'"\rm"'), "malformed JSON: Invalid control character"),
    (json.dumps(txn(9, 1, merchant="x" * 300_000)).encode(), "more than the limit of 262144"),
])
def test_one_hostile_line_is_one_dead_letter_and_poisons_nothing(tmp_path, bad, message) -> None:
    result = run_lines(tmp_path, GOOD + [bad] + AFTER, FRAUD)
    [dead] = result.dead_letter
    assert dead["node"] == "transactions" and dead["scenario"] == "card_fraud_velocity"
    assert message in dead["error"], dead["error"]
    try:
        text = bad.decode("utf-8")
    except UnicodeDecodeError:
        assert base64.b64decode(dead["raw_base64"]) == bad  # lossless
        assert "\\xff" in dead["raw"]  # and readable
    else:
        if len(text) > 65_536:
            assert dead["raw"] == text[:65_536] and dead["raw_truncated"]["chars"] == len(text)
        else:
            assert dead["raw"] == text
    c = result.counts["transactions"]
    assert (c["in"], c["out"], c["dead_letter"]) == (4, 3, 1)
    balanced(result.counts)
    # hand-worked: three 1500.0 transactions of card-1 at 10:00, 10:01, 10:02 in one 10-minute window; spent
    # 1500 is no risk, 3000 and 4500 are > 2000: medium
    assert [(d["fields"]["txn_count"], d["fields"]["spent"]) for d in result.detected] == [(2, 3000.0), (3, 4500.0)]
    assert not result.actions


def test_infinite_amount_no_longer_poisons_the_cards_window(tmp_path) -> None:
    """Before: `Infinity` / `1e400` were accepted, and every later good event of the card failed in
    round(spent) with decimal.InvalidOperation."""
    lines = [json.dumps(txn(1, 0, 2500.0)).encode(), raw_txn(2, 1, "amount", "Infinity"),
             raw_txn(3, 2, "amount", "1e400"), json.dumps(txn(4, 3, 50.5)).encode()]
    result = run_lines(tmp_path, lines, FRAUD)
    assert [d["fields"]["spent"] for d in result.detected] == [2500.0, 2550.5]
    assert len(result.dead_letter) == 2 and all(d["node"] == "transactions" for d in result.dead_letter)


def test_one_far_future_event_does_not_make_later_events_late(tmp_path) -> None:
    lines = [json.dumps(txn(1, 0)).encode(), json.dumps(txn(2, 1, ts="9999-01-01T00:00:00Z")).encode(),
             json.dumps(txn(3, 1, ts="2100-01-01T00:00:00Z")).encode(), json.dumps(txn(4, 2)).encode()]
    result = run_lines(tmp_path, lines, FRAUD)
    assert result.counts["velocity"]["late"] == 0
    assert [(d["event_id"], d["fields"]["txn_count"]) for d in result.detected] == [("t4", 2)]


def test_a_raw_carriage_return_does_not_split_a_line(tmp_path) -> None:
    line = json.dumps(txn(1, 0)).encode().replace(b", ", b",\r ", 2)  # JSON whitespace: a good event
    result = run_lines(tmp_path, [line, *AFTER], FRAUD)
    assert result.counts["transactions"] == {**result.counts["transactions"], "in": 2, "out": 2, "dead_letter": 0}
    assert [(d["event_id"], d["fields"]["txn_count"]) for d in result.detected] == [("t3", 2)]


def test_crlf_line_endings_are_line_endings(tmp_path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(json.dumps(txn(i, i)).encode() + b"\r\n" for i in range(3)))
    plan = make_plan(load(str(FRAUD)))
    assert [line for _, line in merged_inputs(plan.scenario, {"transactions": str(path)})] == \
        [json.dumps(txn(i, i)) for i in range(3)]


SCHEMA_SCENARIO = """
name: hostile_ints
sources:
  events:
    schema: {id: string, n: int, tags: "list<string>", extra: any, ts: timestamp}
    key: id
    time: ts
nodes:
  - {id: out, type: detected, fields: {n: n}}
"""


@pytest.mark.parametrize("field, raw, message", [
    ("n", "9223372036854775808", "field 'n': 9223372036854775808 does not fit in a 64-bit integer"),
    ("n", "-9223372036854775809", "does not fit in a 64-bit integer"),
    ("n", "1" + "0" * 3000, "field 'n': an integer of about"),
    ("n", "NaN", "field 'n': expected int, got float NaN"),
    ("tags", '["a", "\\udc00"]', "field 'tags[1]': text with an unpaired"),
    ("extra", '{"a": [1, 2, Infinity]}', "field 'extra.a[2]': Infinity"),
    ("extra", '{"a": 99999999999999999999}', "field 'extra.a': 99999999999999999999 does not fit"),
    ("extra", "[" * 80 + "]" * 80, "nested deeper than 64 levels"),
])
def test_declared_values_are_checked_where_they_are_declared(tmp_path, field, raw, message) -> None:
    scenario = tmp_path / "hostile_ints.yaml"
    scenario.write_text(SCHEMA_SCENARIO)
    good = {"id": "a", "n": 2**63 - 1, "tags": ["x"], "extra": {"k": [1.5]}, "ts": 1_000}
    bad = json.dumps({**good, field: "@@"}).replace('"@@"', raw).encode()
    result = run_lines(tmp_path, [json.dumps(good).encode(), bad], scenario, "events")
    [dead] = result.dead_letter
    assert message in dead["error"], dead["error"]
    assert [d["fields"]["n"] for d in result.detected] == [2**63 - 1]  # the largest int64 is fine


def test_timestamps_parse_exactly_and_within_range() -> None:
    # 2026-11-02T10:00:00.123Z: timestamp() * 1000 gives ...122.99999 and int() made it ...122
    assert parse_time_value("2026-11-02T10:00:00.123Z") == 1_793_613_600_123
    assert parse_time_value("1960-01-01T00:00:00Z") == -315_619_200_000  # a birth date: fine for a field
    with pytest.raises(DecodeError, match="outside the event-time range"):
        parse_timestamp("1960-01-01T00:00:00Z")  # but not as an event time
    assert parse_time_value("2262-04-11T23:47:16.854Z") == decode.MAX_EVENT_MS
    for bad in (float("nan"), float("inf"), "²", "1" * 30, True, [1], "x" * 10_000):
        with pytest.raises(DecodeError):
            parse_time_value(bad)


def test_future_skew_follows_the_wall_clock(monkeypatch) -> None:
    now_ms = 1_900_000_000_000
    monkeypatch.setattr(decode.time, "time", lambda: now_ms / 1000)
    monkeypatch.setattr(decode, "_bound", [0])
    assert parse_timestamp(now_ms + decode.MAX_FUTURE_SKEW_MS) == now_ms + decode.MAX_FUTURE_SKEW_MS
    with pytest.raises(DecodeError, match="more than 60 minutes after the current time"):
        parse_timestamp(now_ms + decode.MAX_FUTURE_SKEW_MS + 1)


@pytest.mark.parametrize("raw", [b'{"a": 1}', b"\xff\xfe", b"a\rb", b"\x00", b"\x01null", b"\x01b64:AAAA", b""])
def test_transport_is_lossless(raw) -> None:
    line = wrap_line(raw)
    assert "\n" not in line and "\r" not in line and "\x00" not in line
    line.encode("utf-8")  # always valid text for Flink's line reader
    assert unwrap_line(line) in (raw, raw.decode("utf-8", "replace"))
    assert (unwrap_line(line).encode() if isinstance(unwrap_line(line), str) else unwrap_line(line)) == raw


def test_kafka_values_read_as_latin1_come_back_as_their_bytes() -> None:
    for raw in (b'{"a": "\xc3\xa9"}', b"\xff{", b"plain"):
        assert unwrap_line(rawline.wrap_latin1(raw.decode("latin-1"))) in (raw, raw.decode("utf-8", "ignore"))
        got = unwrap_line(rawline.wrap_latin1(raw.decode("latin-1")))
        assert (got.encode() if isinstance(got, str) else got) == raw
    assert unwrap_line(rawline.wrap_latin1(None)) is None
    with pytest.raises(DecodeError, match="no value"):
        parse_json(None)
