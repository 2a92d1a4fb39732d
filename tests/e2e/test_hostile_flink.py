"""Issue 8 on the embedded Flink engine: the generated fraud stream with 10% hostile lines of every category
runs with the job up; per node in == out + filtered + dead_letter + held exactly; every hostile line is in
dead_letter.jsonl with its raw input; the good events' outputs equal those of a run on the good events alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.hostile import arithmetic, check_fraud_oracle, check_hostile_run, mixed_stream, write_file

REPO = Path(__file__).resolve().parents[2]
FRAUD = "scenarios/card_fraud_velocity/card_fraud_velocity.yaml"


@pytest.fixture(scope="module")
def streams(tmp_path_factory):
    stream = mixed_stream(n_good=2000, hostile_share=0.10, seed=11)
    base = tmp_path_factory.mktemp("hostile")
    write_file(stream, base / "mixed.jsonl")
    write_file([line for line in stream if not line.hostile], base / "good.jsonl")
    return stream, base


@pytest.mark.flink
def test_hostile_stream_on_embedded_flink(streams, flink_run) -> None:
    stream, base = streams
    mixed = flink_run(FRAUD, {"transactions": str(base / "mixed.jsonl")})  # raises if the job failed
    good = flink_run(FRAUD, {"transactions": str(base / "good.jsonl")})
    assert good.detected and good.actions
    counts = check_hostile_run(stream, mixed, good)
    check_fraud_oracle(stream, mixed)
    print("embedded hostile run:", arithmetic(counts))


@pytest.mark.flink
def test_a_failed_run_leaves_no_stale_outputs(tmp_path, flink_run) -> None:
    from jobs.flink.embedded import run_files
    from tests.conftest import compile_plan

    flink_run(FRAUD, {"transactions": "scenarios/card_fraud_velocity/events.jsonl"})  # the JVM is up
    out = tmp_path / "out"
    out.mkdir()
    for name in ("actions.jsonl", "detected.jsonl", "dead_letter.jsonl", "counts.json"):
        (out / name).write_text(json.dumps({"from": "the previous run"}) + "\n")
    missing = tmp_path / "gone.jsonl"  # vanishes between the check and the run: the run fails
    with pytest.raises(OSError):
        run_files(compile_plan(REPO / FRAUD), {"transactions": str(missing)}, str(out))
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == []
