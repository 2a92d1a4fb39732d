"""A generator of hostile input for the fraud example (scenarios/card_fraud_velocity), mixed into good events.

Every category of issue 8 is here, each line built by hand so a test knows what it is: `Line.hostile` says
whether it must become a dead letter of the source, and `expected_raw` how that dead letter shows it.

    stream = mixed_stream(n_good=2000, hostile_share=0.10, seed=7)
    good_only = [line for line in stream if not line.hostile]
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

START_MS = 1_793_613_600_000  # 2026-11-02T10:00:00Z, the examples' day
COUNTRIES = ("PL", "PL", "PL", "DE", "FR", "CZ")
SOURCE = "transactions"
MAX_RAW_CHARS = 65_536  # jobs/nodes/outputs.py: what a dead letter keeps of its raw input


@dataclass(frozen=True)
class Line:
    data: bytes | None  # None: a record without a value (Kafka only)
    category: str  # "good" or the hostile category
    hostile: bool


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


def good_event(rng: random.Random, i: int, ts: int) -> dict:
    card = rng.randrange(40)  # few cards, so windows fill up and detections happen
    amount = -round(rng.uniform(1, 50), 2) if rng.random() < 0.03 else round(rng.expovariate(1 / 300), 2)
    return {"txn_id": f"t{i}", "card_id": f"card-{card}", "customer_id": f"c{card}", "amount": amount,
            "merchant": f"m{rng.randrange(50)}", "country": rng.choice(COUNTRIES), "ts": iso(ts)}


def _dump(record: dict) -> bytes:
    return json.dumps(record).encode()


def _with(base: dict, **fields) -> dict:
    return {**base, **fields}


def _raw_field(base: dict, field: str, raw: str) -> bytes:
    """The event with one field's JSON text replaced by `raw` (NaN, 1e400, an escape ...)."""
    record = _with(base, **{field: "@@"})
    return json.dumps(record).replace('"@@"', raw).encode()


# each maker: (rng, a good event to corrupt) -> the hostile line's bytes
MAKERS: dict[str, Callable[[random.Random, dict], bytes | None]] = {
    "malformed_json": lambda rng, e: rng.choice([
        b'{"txn_id": "x", "amount": ', b"not json at all", b"[1, 2", b'{"a": 1}}', _dump(e)[:-1]]),
    "not_an_object": lambda rng, e: rng.choice([b"[1, 2, 3]", b'"text"', b"42", b"null", b"true"]),
    "wrong_type": lambda rng, e: rng.choice([
        _dump(_with(e, amount="n/a")), _dump(_with(e, card_id={"id": 1})), _dump(_with(e, ts=True)),
        _dump(_with(e, amount=[1])), _dump(_with(e, country=7))]),
    "missing_key_or_time": lambda rng, e: rng.choice([
        _dump(_with(e, card_id=None)), _dump({k: v for k, v in e.items() if k != "ts"})]),
    "non_finite": lambda rng, e: _raw_field(e, rng.choice(["amount", "ts"]),
                                            rng.choice(["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])),
    "out_of_range_time": lambda rng, e: _raw_field(e, "ts", rng.choice([
        "-99999999999999999", "10000000000000000000", '"9999-12-31T00:00:00Z"', '"\\u00b2"', "-1",
        '"1969-12-31T23:59:59Z"', '"2262-04-12T00:00:00Z"', "1" + "0" * 30])),
    "far_future_time": lambda rng, e: _dump(_with(e, ts=rng.choice(
        ["2100-01-01T00:00:00Z", "2199-06-30T12:00:00.000Z", "4102444800000"]))),
    "invalid_utf8": lambda rng, e: rng.choice([
        _dump(e).replace(b'"m', b'"\xff\xfe', 1), _dump(e) + b"\x80", b"\xc3\x28" + _dump(e),
        _dump(e).replace(b'"txn_id"', b'"txn\xed\xa0\x80id"')]),  # a surrogate encoded in UTF-8: invalid
    "control_bytes": lambda rng, e: rng.choice([
        _dump(e).replace(b'"m', b'"\x00m', 1), _dump(e).replace(b'"m', b'"\rm', 1),  # raw \r in a string
        b"\x01b64:" + base64.b64encode(_dump(e))]),  # looks like the transport marker: must stay a dead letter
    "blank": lambda rng, e: rng.choice([b"", b"   ", b"\t", b" \t "]),
    "lone_surrogate": lambda rng, e: _raw_field(e, rng.choice(["merchant", "country", "customer_id"]),
                                                rng.choice(['"\\ud800"', '"ab\\udfffcd"', '"\\udc00\\ud800"'])),
    "deep_nesting": lambda rng, e: rng.choice([
        b"[" * 100_000 + b"]" * 100_000, b'{"txn_id": "d", "amount": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"]),
    "oversized": lambda rng, e: rng.choice([
        _dump(_with(e, merchant="x" * 300_000)),  # a line over the 256 KiB limit (Kafka takes up to 1 MiB)
        _raw_field(e, "amount", "1" + "0" * 5000),  # over Python's 4300-digit int limit
        _raw_field(e, "amount", "1" + "0" * 400)]),  # a float field given an integer beyond float range
}
KAFKA_ONLY = {"tombstone": lambda rng, e: None}


def mixed_stream(n_good: int = 2000, hostile_share: float = 0.10, seed: int = 7,
                 kafka: bool = False) -> list[Line]:
    """Good events in time order (a few out of order within the 30 s bound, a few late, a few refunds that
    the filter drops, some lines with a raw \\r as JSON whitespace) with hostile lines making up `hostile_share` of the
    stream, every category at least once, round-robin then at random."""
    rng = random.Random(seed)
    makers = {**MAKERS, **(KAFKA_ONLY if kafka else {})}
    categories = list(makers)
    n_hostile = max(len(categories), round(n_good * hostile_share / (1 - hostile_share)))
    kinds = categories + [rng.choice(categories) for _ in range(n_hostile - len(categories))]
    rng.shuffle(kinds)
    good: list[Line] = []
    ts = START_MS
    for i in range(n_good):
        ts += rng.randint(0, 4000)
        draw = rng.random()
        # 3% out of order within the 30 s bound; 0.5% beyond it: late at `velocity` (a dead letter of that node)
        late = draw < 0.035 and not kafka  # on Kafka, lateness depends on when Flink's periodic watermark came
        when = ts - rng.randint(1, 20_000) if draw < 0.03 else ts - rng.randint(60_000, 120_000) if late else ts
        data = _dump(good_event(rng, i, when))
        if rng.random() < 0.01:
            data = data.replace(b", ", b",\r ", 1)  # a raw \r between tokens: valid JSON, one event
        good.append(Line(data, "good", False))
    slots = sorted(rng.randrange(n_good + 1) for _ in kinds)
    stream: list[Line] = []
    last = 0
    for slot, kind in zip(slots, kinds, strict=True):
        stream.extend(good[last:slot])
        last = slot
        base = good_event(rng, 10_000_000 + len(stream), START_MS)
        stream.append(Line(makers[kind](rng, base), kind, True))
    stream.extend(good[last:])
    return stream


def write_file(lines: list[Line], path) -> None:
    with open(path, "wb") as out:
        for line in lines:
            assert line.data is not None, "a record without a value only exists on Kafka"
            out.write(line.data + b"\n")


def expected_raw(line: Line) -> tuple[str, str]:
    """How the source's dead letter for this line shows its raw input: a (field, value) pair to look for."""
    data = line.data
    if data is None:
        return "raw", None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "raw_base64", base64.b64encode(data[:MAX_RAW_CHARS]).decode()
    if len(text) > MAX_RAW_CHARS:
        return "sha256", hashlib.sha256(data).hexdigest()
    return "raw", text


def dead_letter_raw(record: dict) -> tuple[str, str]:
    """The same (field, value) pair read from a dead letter."""
    if "raw_base64" in record:
        return "raw_base64", record["raw_base64"]
    if "raw_truncated" in record:
        return "sha256", record["raw_truncated"]["sha256"]
    return "raw", record["raw"]


def run_lines(tmp_path: Path, lines: list[bytes], scenario: Path, source: str = SOURCE):
    """The in-process harness on the file-run input path: bytes on disk, merged, transported, decoded."""
    from jobs.compiler.plan import make_plan
    from jobs.compiler.validate import load
    from jobs.runtime.files import bind_references, merged_inputs
    from jobs.runtime.harness import run_in_process

    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    plan = make_plan(load(str(scenario)))
    bind_references(plan, {})
    return run_in_process(plan, merged_inputs(plan.scenario, {source: str(path)}))


def balanced(counts: dict) -> None:
    """Per node and source: in == out + filtered + dead_letter + held."""
    for name, c in counts.items():
        assert c["in"] == c["out"] + c["filtered"] + c["dead_letter"] + c["held"], (name, c)


def check_hostile_run(stream: list[Line], mixed, good_only) -> dict:
    """The acceptance checks of issue 8 for a run on `stream` (mixed) against a run on its good lines alone
    (the oracle). Both are RunResult-like (actions, detected, dead_letter, counts). Returns the arithmetic."""
    hostile = [line for line in stream if line.hostile]
    balanced(mixed.counts)
    source = mixed.counts[SOURCE]
    assert source["in"] == len(stream), "every line, blank ones too, is counted"
    assert source["dead_letter"] == len(hostile) + good_only.counts[SOURCE]["dead_letter"]
    # every hostile line is in dead_letter.jsonl, at the source, with its raw input
    from collections import Counter

    got = Counter(dead_letter_raw(d) for d in mixed.dead_letter if d["node"] == SOURCE)
    want = Counter(expected_raw(line) for line in hostile)
    want.update(dead_letter_raw(d) for d in good_only.dead_letter if d["node"] == SOURCE)
    assert got == want, f"missing: {list((want - got).items())[:3]} unexpected: {list((got - want).items())[:3]}"
    assert all(d["error"] for d in mixed.dead_letter)
    # the good events' outputs are exactly what a run on the good events alone gives
    assert mixed.actions == good_only.actions
    assert mixed.detected == good_only.detected
    assert [d for d in mixed.dead_letter if d["node"] != SOURCE] == \
        [d for d in good_only.dead_letter if d["node"] != SOURCE]
    for name, c in good_only.counts.items():
        if name != SOURCE:
            assert mixed.counts[name] == c, name
    return {name: {k: c[k] for k in ("in", "out", "filtered", "dead_letter", "held")}
            for name, c in mixed.counts.items()}


def arithmetic(counts: dict) -> str:
    return "; ".join(f"{n}: {c['in']} = {c['out']} + {c['filtered']} + {c['dead_letter']} + {c['held']}"
                     for n, c in counts.items())


def fraud_oracle(stream: list[Line], out_of_orderness_ms: int = 30_000, window_ms: int = 600_000) -> dict:
    """An independent brute-force reading of scenarios/card_fraud_velocity over the good lines, in input
    order: {txn_id: (risk, txn_count, spent)} for detections and the set of txn_ids alerted, plus the late
    ones. Written from the scenario text, not from the engine: a sliding window (t - 10 min, t] over the
    card's earlier-arrived, on-time events with amount > 0; late = at or before (max time seen - 30 s - 1)."""
    from decimal import ROUND_HALF_UP, Decimal

    seen: dict[str, list[tuple[int, float, str]]] = {}
    max_ts = None
    detections, alerts, late = {}, set(), set()
    for line in stream:
        if line.hostile:
            continue
        e = json.loads(line.data)
        ts = int((datetime.fromisoformat(e["ts"].replace("Z", "+00:00"))
                  - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds() * 1000 + 0.5)
        watermark = None if max_ts is None else max_ts - out_of_orderness_ms - 1
        max_ts = ts if max_ts is None else max(max_ts, ts)
        if not e["amount"] > 0:
            continue
        if watermark is not None and ts <= watermark:
            late.add(e["txn_id"])
            continue
        card = seen.setdefault(e["card_id"], [])
        card.append((ts, e["amount"], e["country"]))
        window = [(t, a, c) for t, a, c in card if ts - window_ms < t <= ts]
        count, spent, countries = len(window), sum(a for _, a, _ in window), len({c for _, _, c in window})
        risk = "high" if count > 3 and countries > 1 else "medium" if count > 3 or spent > 2000 else None
        if risk:
            rounded = float(Decimal(repr(spent)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
            detections[e["txn_id"]] = (risk, count, rounded)
            if risk == "high":
                alerts.add(e["txn_id"])
    return {"detections": detections, "alerts": alerts, "late": late}


def check_fraud_oracle(stream: list[Line], result) -> None:
    oracle = fraud_oracle(stream)
    got = {d["event_id"]: (d["fields"]["risk"], d["fields"]["txn_count"], d["fields"]["spent"])
           for d in result.detected}
    assert got.keys() == oracle["detections"].keys()
    for txn_id, (risk, count, spent) in oracle["detections"].items():
        assert got[txn_id][:2] == (risk, count), txn_id
        assert abs(got[txn_id][2] - spent) <= 0.011, txn_id  # summation order may differ by one ulp
    assert {a["event_id"] for a in result.actions} == oracle["alerts"]
    assert {d["raw"]["txn_id"] for d in result.dead_letter if d["node"] == "velocity"} == oracle["late"]
