"""`kairos validate NEW --against OLD.yaml`: can a job of NEW continue the state of a savepoint of OLD?

Hand-worked cases: compatible edits (a filter and an action added; a stateful node added in front of the
segment's first node, which renamed the operator under the former uid rule) and incompatible ones, each
reported as file:line:col of the place to look at."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from jobs.compiler.compat import check_upgrade
from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load

REPO = Path(__file__).resolve().parents[2]
OLD = """\
name: upgrade_unit
sources:
  txns:
    schema: {id: string, customer_id: string, amount: float, ts: timestamp}
    key: customer_id
    time: ts
    id: id
nodes:
  - id: spend
    type: aggregate
    window: tumbling
    size: 1m
    emit: on_close
    aggregations: {n: count(), total: sum(amount)}
  - {id: report, type: action, channel: crm, payload: {n: n, total: total}}
"""


def plans(tmp_path: Path, new_text: str, old_text: str = OLD):
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(old_text, encoding="utf-8")
    new.write_text(new_text, encoding="utf-8")
    return make_plan(load(str(old))), make_plan(load(str(new))), str(old), str(new)


def problems(tmp_path: Path, new_text: str, old_text: str = OLD) -> list[str]:
    old, new, _, _ = plans(tmp_path, new_text, old_text)
    return [str(d) for d in check_upgrade(old, new)]


def uid_of(plan, node: str) -> str:
    return plan.segments[plan.segment_of[node]].uid


def test_a_new_filter_and_action_keep_every_uid(tmp_path):
    new_text = OLD + """\
  - {id: big, type: filter, from: spend, condition: total > 100}
  - {id: alert, type: action, channel: sms, payload: {total: total}}
"""
    old, new, _, _ = plans(tmp_path, new_text)
    assert check_upgrade(old, new) == []
    assert uid_of(new, "spend") == uid_of(old, "spend") == "keyed-_key"


def test_a_stateful_node_in_front_of_the_segment_keeps_its_uid(tmp_path):
    # `recent` comes first in the topological order and joins the same keyed segment: under the former rule
    # (a segment is named after its first node) the operator holding `spend` was renamed keyed-recent
    new_text = OLD.replace("nodes:\n", """nodes:
  - id: recent
    type: aggregate
    from: txns
    window: sliding
    size: 5m
    aggregations: {recent_n: count()}
  - {id: recent_log, type: detected, from: recent, fields: {recent_n: recent_n}}
""").replace("  - id: spend\n", "  - id: spend\n    from: txns\n")
    old, new, _, _ = plans(tmp_path, new_text)
    assert new.segments[new.segment_of["spend"]].nodes[0] == "recent"
    assert uid_of(new, "spend") == uid_of(old, "spend")
    assert check_upgrade(old, new) == []


def test_a_changed_window_points_at_the_changed_parameter(tmp_path):
    new_text = OLD.replace("size: 1m", "size: 5m")
    found = problems(tmp_path, new_text)
    assert len(found) == 1
    line = next(i for i, text in enumerate(new_text.splitlines(), 1) if "size: 5m" in text)
    assert found[0].startswith(f"{tmp_path / 'new.yaml'}:{line}:5: stateful node 'spend' changes size")


def test_a_changed_type_and_a_changed_key(tmp_path):
    new_text = OLD.replace("type: aggregate", "type: threshold").replace(
        "    window: tumbling\n    size: 1m\n    emit: on_close\n    aggregations: {n: count(), total: sum(amount)}\n",
        "    condition: amount > 10\n").replace("{n: n, total: total}", "{a: amount}")
    found = problems(tmp_path, new_text)
    line = next(i for i, text in enumerate(new_text.splitlines(), 1) if "type: threshold" in text)
    assert len(found) == 1 and found[0].startswith(f"{tmp_path / 'new.yaml'}:{line}:11: node 'spend' was a "
                                                   "aggregate"), found
    keyed = OLD.replace("    window: tumbling\n", "    key: id\n    window: tumbling\n")
    found = problems(tmp_path, keyed)
    assert any("keeps its state in operator 'keyed-_key' in the old job and would be in 'keyed-id'" in p
               for p in found), found
    assert any("changes key" in p for p in found), found


def test_renamed_scenario_and_removed_stateful_node(tmp_path):
    found = problems(tmp_path, OLD.replace("name: upgrade_unit", "name: upgrade_unit_v2"))
    assert found == [f"{tmp_path / 'new.yaml'}:1:7: the scenario was 'upgrade_unit' in {tmp_path / 'old.yaml'}: "
                     "every operator uid starts with the scenario name, so a savepoint of the old job restores "
                     "nothing into this one (keep the name)"]
    stateless = OLD.split("nodes:")[0] + "nodes:\n  - {id: report, type: action, channel: crm, payload: {a: amount}}\n"
    found = problems(tmp_path, stateless)
    assert len(found) == 1 and found[0].startswith(f"{tmp_path / 'old.yaml'}:9:5: stateful node 'spend' was "
                                                   "removed with its operator")


@pytest.mark.parametrize("compatible", [True, False])
def test_cli_validate_against(tmp_path, compatible):
    new_text = OLD + "  - {id: big, type: filter, from: spend, condition: total > 100}\n" if compatible \
        else OLD.replace("size: 1m", "size: 2m")
    _, _, old, new = plans(tmp_path, new_text)
    done = subprocess.run([sys.executable, "-m", "jobs.cli", "validate", new, "--against", old], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    if compatible:
        assert done.returncode == 0 and "compatible with a savepoint of" in done.stdout, done.stderr
    else:
        assert done.returncode == 1
        assert done.stderr.startswith(f"{new}:12:5: stateful node 'spend' changes size"), done.stderr
        assert "Traceback" not in done.stderr
