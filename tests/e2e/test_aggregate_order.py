"""aggregate `order: event_time` on embedded Flink: the same brute-force oracle as the harness test
(tests/unit/test_aggregate_order.py: for each on-time event, the aggregates over every on-time event of its key
with time in (t - size, t]) on input shuffled within the out-of-orderness plus late events, counts identity,
and the same outputs and counts as the in-process harness.
"""

from __future__ import annotations

import pytest

from tests.unit.test_aggregate_order import arrival, check, write_case


@pytest.mark.flink
def test_flink_event_time_order_equals_the_oracle(tmp_path_factory, flink_run, harness_run) -> None:
    events = arrival(2026, n=300, keys=5)
    path, events_file = write_case(tmp_path_factory.mktemp("agg_order"), events)
    flink = flink_run(path, {"pay": str(events_file)})
    check(flink.actions, flink.dead_letter, flink.counts, events)
    harness = harness_run(path, {"pay": str(events_file)})
    assert (flink.actions, flink.dead_letter, flink.counts) == (harness.actions, harness.dead_letter, harness.counts)
