"""The generated fraud stream with 10% hostile lines of every category, on the in-process harness (the same
executor the Flink job runs): counts exact, every hostile line a dead letter, the good events' outputs equal
to those of a run on the good events alone. tests/e2e/test_hostile_flink.py runs it on embedded Flink."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.hostile import MAKERS, arithmetic, check_fraud_oracle, check_hostile_run, mixed_stream, run_lines

FRAUD = Path(__file__).resolve().parents[2] / "scenarios" / "card_fraud_velocity" / "card_fraud_velocity.yaml"


def normalised(result):
    import json

    from jobs.runtime.files import canonical

    for kind in ("actions", "detected", "dead_letter"):
        setattr(result, kind, json.loads(json.dumps(canonical(getattr(result, kind)))))
    return result


def test_hostile_stream_on_the_harness(tmp_path) -> None:
    stream = mixed_stream(n_good=2000, hostile_share=0.10, seed=7)
    kinds = Counter(line.category for line in stream)
    assert set(kinds) == {"good", *MAKERS}, "every category is in the stream"
    assert abs(sum(line.hostile for line in stream) / len(stream) - 0.10) < 0.005
    (tmp_path / "mixed").mkdir()
    (tmp_path / "good").mkdir()
    mixed = normalised(run_lines(tmp_path / "mixed", [line.data for line in stream], FRAUD))
    good = normalised(run_lines(tmp_path / "good", [line.data for line in stream if not line.hostile], FRAUD))
    assert good.detected and good.actions, "the oracle run has outputs to compare"
    counts = check_hostile_run(stream, mixed, good)
    check_fraud_oracle(stream, mixed)  # and both are right, by a brute-force reading of the scenario
    print(arithmetic(counts))
