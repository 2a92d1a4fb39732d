"""The pieces that let a file run skip Python hops (decision 0009): stamps, keys in the input, fusion, eviction."""

from __future__ import annotations

import json
from pathlib import Path

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.nodes.aggregate import window_runtime
from jobs.runtime.executor import MIN_TS, Stamps, escape_key, unescape_key
from jobs.runtime.files import timed_inputs
from jobs.runtime.harness import MemoryRuntime

ROOT = Path(__file__).resolve().parents[2]


def test_stamp_is_the_watermark_as_of_the_line() -> None:
    # out of orderness 10 ms: each line gets max(time of the lines before it) - 10 - 1
    stamps = Stamps(10)
    times = [100, 90, MIN_TS, 130, 120, 131]
    assert [stamps.next(t) for t in times] == [MIN_TS, 89, 89, 89, 119, 119]
    assert stamps.max_ts == 131


def test_keys_with_separators_survive_the_line_format() -> None:
    for key in ["card-1", "a\tb", 'quo"te', "back\\slash", "new\nline", "zażółć"]:
        escaped = escape_key(key)
        assert "\t" not in escaped and "\n" not in escaped
        assert unescape_key(escaped) == key
    assert escape_key("card-1") == "card-1"  # the common case is the identity
    assert len({escape_key(k) for k in ["a\\tb", "a\tb"]}) == 2  # injective


def test_timed_inputs_give_the_decoded_time_and_key(tmp_path: Path) -> None:
    plan = make_plan(load(str(ROOT / "scenarios/card_fraud_velocity/card_fraud_velocity.yaml")))
    events = tmp_path / "e.jsonl"
    events.write_text("\n".join([
        json.dumps({"card_id": "c1", "ts": "2026-11-02T10:00:01Z"}),
        "{broken",
        json.dumps({"card_id": 7, "ts": 5}),  # a number where the schema says string: no key
        json.dumps({"card_id": "c2"}),  # no time
    ]) + "\n")
    rows = [(ts, key) for _, _, ts, key in timed_inputs(plan.scenario, {"transactions": str(events)})]
    # the merge puts lines without a time first (they go out at once); otherwise file order
    assert sorted(rows) == sorted([(1793613601000, "c1"), (MIN_TS, ""), (5, ""), (MIN_TS, "c2")])


def test_examples_fuse_the_entry_into_their_one_keyed_segment() -> None:
    for name in ("card_fraud_velocity", "low_balance_offer", "telco_topup_offer"):
        plan = make_plan(load(str(ROOT / f"scenarios/{name}/{name}.yaml")))
        assert plan.fused_entry() == 1, name
    windows = make_plan(load(str(ROOT / "tests/e2e/scenarios/windows/windows.yaml")))
    assert windows.fused_entry() is None  # two keyed segments read the entry


def test_sliding_window_keeps_one_pending_timer_and_evicts() -> None:
    node = window_runtime("w", "sliding", 100, "on_event", None, [("n", "count", None)])
    rt = MemoryRuntime("s", 0)
    rt.key = "k"
    state = (rt.segment, "k", "w", "windows")

    def event(t: int, watermark: int) -> int:
        rt.current_watermark = watermark
        return node.process({"_ts": t}, t, rt)[0][1]["n"]

    assert [event(10, 0), event(50, 5), event(120, 30)] == [1, 2, 2]  # 120 sees (20, 120]: 50 and 120
    assert sorted(rt.values[state][1]) == [10, 50, 120]  # 10 is still reachable by an event at 31..109
    assert event(130, 115) == 3  # (30, 130]; the watermark passed 10 + 100: 10 evicted on the way
    assert sorted(rt.values[state][1]) == [50, 120, 130]
    assert [t[0] for t in rt.timers] == [310]  # one cleanup timer, SLIDE_CLEANUP windows after the first
    assert list(node.on_timer(310, rt)) == []  # all buckets ended by 310: the quiet key leaves no state
    assert state not in rt.values
