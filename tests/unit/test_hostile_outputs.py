"""Issue 8, writing: the dead-letter writer cannot fail, JSON out is always valid JSON, an action or detection
that cannot be written is a dead letter of its node (counted there), and aggregators never raise."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from jobs.flink.files_io import write_jsonl
from jobs.nodes.outputs import dead_letter, encode_output, iso_ms
from jobs.nodes.windows.aggregators import AGGREGATORS
from tests.hostile import balanced, run_lines


def strict_json(text: str):
    """Parse as a strict JSON reader would: NaN / Infinity are not JSON."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("ts, shown", [
    (1_793_613_600_123, "2026-11-02T10:00:00.123Z"), (0, "1970-01-01T00:00:00.000Z"),
    (-62_135_596_800_000, "0001-01-01T00:00:00.000Z"), (-99999999999999999, "-99999999999999999"),
    (10**30, str(10**30)), (float("nan"), "nan"), ("x", "x"), (None, "None"),
])
def test_time_formatting_cannot_raise(ts, shown) -> None:
    assert iso_ms(ts) == shown


def test_dead_letter_of_anything_is_valid_json() -> None:
    letter = dead_letter("s", "n", "boom", {"a": float("inf"), "b": float("nan"), "c": 7 ** 6000, "d": "\ud800",
                                            "e": {1, 2}, "f": object()}, -99999999999999999)
    kind, text = encode_output("dead", letter)
    assert kind == "dead_letter" and text.isascii()
    got = strict_json(text)
    assert got["raw"]["a"] == "Infinity" and got["raw"]["b"] == "NaN" and got["raw"]["d"] == "\ud800"
    assert got["raw"]["c"] == f"int:{7 ** 6000:#x}"  # lossless: the digits in hex
    assert got["time"] == "-99999999999999999"


def test_dead_letter_keeps_bytes_losslessly_and_bounds_its_size() -> None:
    letter = dead_letter("s", "n", "bad", b"ab\xffcd", None)
    assert letter["raw"] == "ab\\xffcd" and letter["raw_base64"] == "YWL/Y2Q="
    big = dead_letter("s", "n", "bad", "y" * 200_000, None)
    assert len(big["raw"]) == 65_536 and big["raw_truncated"]["chars"] == 200_000


@pytest.mark.parametrize("value, why", [(float("inf"), "Out of range float"), (float("nan"), "Out of range float"),
                                        ("huge", "Exceeds the limit")], ids=["inf", "nan", "huge-int"])
def test_an_unwritable_action_becomes_a_dead_letter_of_its_node(value, why) -> None:
    """Before: a 3,000-digit int squared in a payload made json.dumps raise outside the executor's try."""
    value = 3 ** 10_000 if value == "huge" else value
    counts = {"alert": {"in": 1, "out": 1, "filtered": 0, "dead_letter": 0, "held": 0}}
    action = {"id": "s:alert:e1", "scenario": "s", "node": "alert", "channel": "sms", "to": "c1",
              "event_id": "e1", "time": "2026-11-02T10:00:00.000Z", "payload": {"x": value}}
    kind, text = encode_output("action", action, counts)
    letter = strict_json(text)
    assert kind == "dead_letter" and letter["node"] == "alert" and why in letter["error"]
    assert letter["raw"]["id"] == "s:alert:e1" and letter["time"] == "2026-11-02T10:00:00.000Z"
    assert counts["alert"] == {"in": 1, "out": 0, "filtered": 0, "dead_letter": 1, "held": 0}


def test_file_writer_survives_a_lone_surrogate(tmp_path) -> None:
    """Before: detected.jsonl was cut off at the record, exit 3, no dead_letter.jsonl, no counts.json."""
    path = tmp_path / "detected.jsonl"
    write_jsonl(str(path), [{"a": "ok é"}, {"a": "\ud800x"}, {"a": float("inf")}, {"a": "after"}])
    lines = path.read_bytes().decode("utf-8").splitlines()  # valid UTF-8
    assert [strict_json(line)["a"] for line in lines] == ["ok é", "\ud800x", "Infinity", "after"]
    assert "\\ud800x" in lines[1]  # the surrogate as its JSON escape
    assert not (tmp_path / "detected.jsonl.tmp").exists()


SCENARIO = """
name: overflowing
sources:
  events:
    schema: {id: string, x: float, ts: timestamp}
    key: id
    time: ts
nodes:
  - {id: alert, type: action, channel: sms, payload: {big: x * 1e300}}
"""


def test_an_overflowing_payload_is_a_dead_letter_and_the_counts_stay_exact(tmp_path) -> None:
    scenario = tmp_path / "overflowing.yaml"
    scenario.write_text(SCENARIO)
    lines = [json.dumps({"id": f"e{i}", "x": x, "ts": 1000 + i}).encode() for i, x in enumerate([1.0, 1e10, 2.0])]
    result = run_lines(tmp_path, lines, scenario, "events")
    assert [a["payload"]["big"] for a in result.actions] == [1e300, 2e300]
    [dead] = result.dead_letter  # 1e10 * 1e300 is Infinity: whichever stage refuses it, it is one dead letter
    assert dead["node"] == "alert"
    assert result.counts["alert"]["dead_letter"] == 1 and result.counts["alert"]["out"] == 2
    balanced(result.counts)


def test_sums_saturate_instead_of_becoming_infinite() -> None:
    total = AGGREGATORS["sum"]
    acc = total.create()
    for v in (1e308, 1e308, 5.0):
        acc = total.add(acc, v, 0)
    assert acc == pytest.approx(1.7976931348623157e308) and math.isfinite(acc)
    assert total.add(2**62, 2**62, 0) == 2**63 - 1 and total.add(-(2**62), -(2**62) - 1, 0) == -(2**63)
    assert total.merge(1e308, 1e308) == 1.7976931348623157e308
    avg = AGGREGATORS["avg"]
    assert math.isfinite(avg.result(avg.add(avg.add(avg.create(), 1e308, 0), 1e308, 0)))


def test_aggregators_never_raise_on_decoded_values() -> None:
    values = [1, 2.5, "a", None, [1, 2], {"k": [1]}, True, -3]
    for agg in AGGREGATORS.values():
        acc = agg.create()
        for ts, v in enumerate(values):
            if v is not None:
                acc = agg.add(acc, v, ts)
        agg.result(agg.merge(acc, acc))  # no TypeError, whatever `any` mixes
    acc = AGGREGATORS["count_distinct"].create()
    for v in ([1, 2], [1, 2], {"a": 1}):
        acc = AGGREGATORS["count_distinct"].add(acc, v, 0)
    assert AGGREGATORS["count_distinct"].result(acc) == 2
    assert AGGREGATORS["min"].add(AGGREGATORS["min"].add(None, 3, 0), 1, 0) == 1
    assert AGGREGATORS["max"].add(AGGREGATORS["max"].add(None, 3, 0), 1, 0) == 3


def test_examples_doc_runs(tmp_path: Path) -> None:  # the docs section's example, kept runnable here too
    assert encode_output("detected", {"node": "n", "v": 1}) == ("detected", '{"node": "n", "v": 1}')


def test_an_output_too_big_for_kafka_is_a_dead_letter_that_fits() -> None:
    counts = {"record": {"in": 1, "out": 1, "filtered": 0, "dead_letter": 0, "held": 0}}
    detection = {"id": "s:record:e1", "scenario": "s", "node": "record", "time": "2026-11-02T10:00:00.000Z",
                 "event": {"merchant": "x" * 250_000}, "fields": {"a": "é" * 200_000}}  # 1.45 M chars escaped
    kind, text = encode_output("detected", detection, counts)
    assert kind == "dead_letter" and len(text) <= 1_000_000 and "more than 1000000" in strict_json(text)["error"]
    assert counts["record"]["dead_letter"] == 1 and counts["record"]["out"] == 0


def test_a_run_that_fails_before_its_job_starts_leaves_no_stale_outputs(tmp_path):
    """A scenario error (exit 1) or a missing input file (exit 2) still clears a previous run's outputs."""
    from jobs.cli import main

    out = tmp_path / "out"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsources: {}\nnodes: []\n", encoding="utf-8")
    good = "scenarios/card_fraud_velocity/card_fraud_velocity.yaml"
    for argv, code in (([str(bad), "--events", "x.jsonl"], 1), ([good, "--events", str(tmp_path / "none.jsonl")], 2)):
        out.mkdir(exist_ok=True)
        for name in ("actions.jsonl", "detected.jsonl", "dead_letter.jsonl", "counts.json"):
            (out / name).write_text("from an earlier run\n", encoding="utf-8")
        assert main(["run", *argv, "--out", str(out), "--quiet"]) == code
        assert sorted(p.name for p in out.iterdir()) == []
