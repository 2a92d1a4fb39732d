"""`kairos run`'s progress: the embedded job's entry reports the lines it has read (every 0.5 s and at the end),
so the bar's count only grows, never passes the input, and ends at exactly the number of input lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.flink.embedded import run_files

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "scenarios" / "card_fraud_velocity" / "card_fraud_velocity.yaml"


@pytest.mark.flink
def test_progress_counts_every_line(tmp_path):
    events = tmp_path / "events.jsonl"
    with events.open("w") as handle:
        for i in range(3000):
            handle.write(json.dumps({"txn_id": f"t{i}", "card_id": f"card-{i % 40}", "customer_id": "c1",
                                     "amount": float(i % 300), "merchant": "m", "country": "PL",
                                     "ts": f"2026-11-02T10:{i // 60 % 60:02d}:{i % 60:02d}Z"}) + "\n")
        handle.write("not json\n")
    seen: list[tuple[int, int]] = []
    summary = run_files(make_plan(load(str(SCENARIO))), {"transactions": str(events)}, str(tmp_path / "out"),
                        on_lines=lambda read, total, seconds: seen.append((read, total)))
    reads = [r for r, _ in seen]
    assert reads == sorted(reads) and all(total == 3001 for _, total in seen)
    assert seen[-1] == (3001, 3001) == (summary.input_lines, summary.counts["transactions"]["in"])
