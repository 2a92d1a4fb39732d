"""What each node type and option means, asserted record by record on both engines.

The exact expected files (test_expected.py) pin every byte; these tests say WHY the records are what
they are, so a regenerated expected file that changed meaning fails here with a readable message.
Each scenario runs once per engine per session (Flink through the session-scoped `flink_run`).
"""

from __future__ import annotations

import pytest

from jobs.runtime.harness import RunResult

from .cases import BY_NAME

ENGINES = ["harness", pytest.param("flink", marks=pytest.mark.flink)]


@pytest.fixture(params=ENGINES)
def run(request, harness_run, flink_run):
    def go(name: str) -> RunResult:
        case = BY_NAME[name]
        engine = harness_run if request.param == "harness" else flink_run
        return engine(case.scenario, case.files, case.references)

    return go


def by_event(records: list[dict], node: str) -> dict[str, dict]:
    return {r["event_id"]: r for r in records if r["node"] == node}


# -- routing: filter, variables, enrich tables, switch, union, call, split, decide, action, detected --------
def test_filter_false_branch_and_variables(run) -> None:
    r = run("routing")
    assert list(by_event(r.detected, "rejected")) == ["o6"]  # amount 0 leaves on the false port
    assert by_event(r.detected, "big_review")["o2"]["fields"] == {"gross": 1107.0, "category": "home"}  # 900 + vat
    assert r.counts["valid"] == {**r.counts["valid"], "in": 7, "out": 7, "filtered": 0}  # false port has a reader


def test_enrich_from_csv_and_jsonl_tables(run) -> None:
    logs = by_event(run("routing").detected, "segment_log")
    assert logs["o1"]["fields"]["customer"] == "Ada"  # customers.csv, keyed by the event key
    assert logs["o1"]["fields"]["segment"] == "vip"  # CSV 'true' is a bool
    assert logs["o5"]["fields"]["customer"] is None  # not in the table: null, not an error
    notify = by_event(run("routing").actions, "notify")
    assert notify["o3"]["payload"]["product"] == "Flink in Action"  # products.jsonl, key: sku


def test_switch_cases_default_union_and_split(run) -> None:
    r = run("routing")
    assert r.counts["route"]["out"] == 6 and r.counts["big_review"]["in"] == 1  # first true case wins
    assert r.counts["regular"]["in"] == 5  # foreign (o3, o4, o7) + default (o1, o5)
    assert r.counts["fan"]["out"] == 4 and r.counts["promo"]["in"] == r.counts["segment"]["in"] == 4


def test_call_failure_goes_to_dead_letter_and_the_job_goes_on(run) -> None:
    r = run("routing")
    assert [(d["node"], d["error"], d["raw"]["order_id"]) for d in r.dead_letter] == [
        ("points", "unknown loyalty tier 'platinum'", "o4")]
    assert by_event(r.detected, "segment_log")["o7"]["fields"]["points"] == 30  # later events still scored


def test_decide_rules_without_default_and_table_with_default(run) -> None:
    r = run("routing")
    promos = {e: a["payload"]["promo"] for e, a in by_event(r.actions, "notify").items()}
    assert promos == {"o1": "free_shipping", "o3": "book_voucher", "o7": "free_shipping"}
    assert r.counts["promo"]["filtered"] == 1  # o5 matches no rule and has no default: it stops
    segments = {e: d["fields"]["segment"] for e, d in by_event(r.detected, "segment_log").items()}
    assert segments == {"o1": "vip", "o3": "standard", "o5": "standard", "o7": "eu_spender"}


# -- changelog joins ---------------------------------------------------------------------------------------
def test_enrich_changelog_latest_and_event_time(run) -> None:
    r = run("changelog_joins")
    logs = {e: d["fields"] for e, d in by_event(r.detected, "log").items()}
    # p1 (t=5s): latest knew only the 1s version (100); event_time also sees the 3s version (200) that
    # arrived AFTER p1 but is earlier, and not the 6s version (300) that arrived before p1 was released
    assert (logs["p1"]["limit_now"], logs["p1"]["limit_then"]) == (100.0, 200.0)
    # p4 (t=20s): latest = the last ARRIVED update (3s, 200); event_time = the newest by time (6s, 300)
    assert (logs["p4"]["limit_now"], logs["p4"]["limit_then"]) == (200.0, 300.0)
    assert logs["p2"]["limit_then"] == 50.0 and logs["p3"]["verdict"] == "no_limit"  # B deleted at 8s
    assert logs["p6"]["verdict"] == "no_limit"  # an account never seen
    assert [(d["node"], d["error"].split(":")[0]) for d in r.dead_letter] == [("then_limit", "late event")]


def test_action_with_delay(run) -> None:
    actions = run("changelog_joins").actions
    assert [(a["event_id"], a["time"], a["payload"]) for a in actions] == [
        ("p4", "1970-01-01T00:01:20.000Z", {"amount": 350.0, "limit": 300.0})]  # 20 s + 1 min


# -- windows -----------------------------------------------------------------------------------------------
def window(r: RunResult, key: str, start: int) -> dict:
    return by_event(r.detected, "window_log")[f"{key}@{start}"]["fields"]


def test_tumbling_on_event_boundaries_and_out_of_order(run) -> None:
    r = run("windows")
    seen = {e: (d["fields"]["n"], d["fields"]["total"]) for e, d in by_event(r.detected, "t_event_log").items()}
    # c02 at 9.999 s is the last ms of [0, 10 s); c03 at exactly 10 s opens the next window;
    # c04 (7 s) arrives after c03 but within out_of_orderness: it joins [0, 10 s) with c01 and c02
    assert seen == {"c01": (1, 1), "c02": (2, 3), "c03": (1, 4), "c04": (3, 11), "c05": (1, 16), "c15": (1, 32)}


def test_tumbling_on_close_and_keyed_by_another_field(run) -> None:
    r = run("windows")
    assert window(r, "u1", 0) == {"key": "u1", "n": 3, "total": 11, "start": 0, "end": 10000}
    assert window(r, "u1", 10000)["n"] == 1  # the boundary event alone
    assert window(r, "eu", 10000)["total"] == 20  # by region: u1's 4 + u2's 16
    closes = by_event(r.detected, "window_log")
    assert closes["u1@0"]["time"] == "1970-01-01T00:00:09.999Z"  # a window's result is timed at its end - 1 ms


def test_sliding_boundary(run) -> None:
    seen = {e: d["fields"]["n"] for e, d in by_event(run("windows").detected, "slide_log").items()}
    # c07 (21.999 s) still sees c06 (12 s); c08 at 22 s, exactly `size` after c06, does not
    assert seen == {"c06": 1, "c07": 2, "c08": 2}


def test_session_merge_and_gap_boundary(run) -> None:
    r = run("windows")
    # 20 s and 25 s are two sessions until 22.5 s bridges them; 28 s, exactly `gap` after the merged
    # session's last event (25 s), starts a new one
    assert window(r, "u4", 20000) == {"key": "u4", "n": 3, "total": 7, "start": 20000, "end": 28000}
    assert window(r, "u4", 28000) == {"key": "u4", "n": 1, "total": 8, "start": 28000, "end": 31000}


def test_late_event_goes_to_dead_letter_at_each_window(run) -> None:
    r = run("windows")
    late = sorted((d["node"], d["raw"]["click_id"]) for d in r.dead_letter if d["error"].startswith("late event"))
    assert late == [("by_region", "c13"), ("t_close", "c13"), ("t_event", "c13")]
    assert sum(c["late"] for c in r.counts.values()) == 3
