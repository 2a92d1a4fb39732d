"""Fast checks of the fused streaming path's pure parts (jobs/flink/kafka_table.py); the SQL itself runs in
tests/e2e/test_kafka_table_time.py and tests/integration/test_kafka_fused.py."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.flink.kafka_table import CHANGELOG_IDLENESS_CAP_MS, _unescape, fusable, idleness_ms

REPO = Path(__file__).resolve().parents[2]


def _sql_escape(key: str) -> str:
    """What the SQL REPLACE chain in KafkaTableSources does, written out by hand."""
    return key.replace("\\", "\\\\").replace("\t", "\\t")


@pytest.mark.parametrize("key", ["card-1", "", "a\tb", "a\\tb", "\\", "\\\\t\t", 'q"\\n', "zoë 😀", "\t\t\\"])
def test_the_payload_key_escape_round_trips(key: str) -> None:
    escaped = _sql_escape(key)
    assert "\t" not in escaped
    assert _unescape(escaped) == key


EXAMPLES = sorted(p for p in glob.glob(str(REPO / "scenarios" / "*" / "*.yaml")) if not p.endswith(".tests.yaml"))


@pytest.mark.parametrize("path", EXAMPLES)
def test_an_example_fuses_on_kafka_wherever_its_plan_fuses(path: str) -> None:
    plan = make_plan(load(path))  # every example's keys are strings: only the plan's shape decides
    assert fusable(plan) == (plan.fused_entry() is not None)


def test_the_bank_and_fraud_examples_fuse_on_kafka() -> None:
    for name in ("low_balance_offer", "card_fraud_velocity"):
        assert fusable(make_plan(load(str(REPO / "scenarios" / name / f"{name}.yaml"))))


def _write(tmp_path: Path, key_type: str, idleness: str = "", mode: str = "latest") -> str:
    path = tmp_path / "s.yaml"
    path.write_text(f"""
name: s
sources:
  ev:
    schema: {{id: {key_type}, ts: timestamp}}
    key: id
    time: ts
  ref:
    kind: changelog
    schema: {{id: {key_type}, ts: timestamp, v: int}}
    key: id
    time: ts
    {idleness}
nodes:
  - {{id: e, type: enrich, changelog: ref, as: r, mode: {mode}}}
  - {{id: d, type: detected, kind: k, fields: {{v: r.v}}}}
""", encoding="utf-8")
    return str(path)


def test_numeric_keys_take_the_two_operator_path(tmp_path: Path) -> None:
    # JSON_VALUE gives "42.0" where the decoded int key is "42": Java could not place the event by its key
    assert fusable(make_plan(load(_write(tmp_path, "string"))))
    assert not fusable(make_plan(load(_write(tmp_path, "int"))))


def test_a_changelog_that_no_event_time_join_reads_holds_time_back_at_most_a_second(tmp_path: Path) -> None:
    plan = make_plan(load(_write(tmp_path, "string")))  # model default: 60 s for every source
    assert idleness_ms(plan, plan.scenario.sources["ref"]) == CHANGELOG_IDLENESS_CAP_MS
    assert idleness_ms(plan, plan.scenario.sources["ev"]) == 60_000
    plan = make_plan(load(_write(tmp_path, "string", "idleness: 200ms")))
    assert idleness_ms(plan, plan.scenario.sources["ref"]) == 200


def test_a_changelog_read_by_an_event_time_join_keeps_its_idleness(tmp_path: Path) -> None:
    plan = make_plan(load(_write(tmp_path, "string", "idleness: 20s", mode="event_time")))
    assert idleness_ms(plan, plan.scenario.sources["ref"]) == 20_000
