"""Many scenarios in one embedded Flink job: each scenario's outputs and counters equal its run alone.

The oracle is the in-process harness running each scenario by itself (no shared decoding, no slots, no
bundles: the code under test is not on its path). The input is generated (seeded): 40 cards of 15 customers
over two hours, shuffled within the 30 s out-of-orderness, a few events far behind (late), malformed lines
(not JSON, no key, a text amount) and amounts of exactly 150, on which `multi_poison`'s condition divides by
zero. Two sets: one whose entries feed segments with different keys (the general path: an entry slot, keyed
slots shared by key, a chain of two keyed segments) and one where every scenario's entry feeds one segment
keyed by the event key (the fused path: one Python operator for all of them).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.flink.multi import MultiPlanError, plan_many
from jobs.flink.multi_files import file_input_id
from jobs.runtime.files import canonical, merged_inputs
from jobs.runtime.harness import run_in_process

HERE = Path(__file__).resolve().parent / "scenarios" / "multi"
BASE_MS = 1_793_613_600_000  # 2026-11-02T10:00:00Z
SETS = {
    "mixed": ["velocity", "spender", "poison"],  # entry + keyed(card) + keyed(customer) -> keyed(card)
    "fused": ["velocity", "windows", "velocity_copy"],  # all keyed by the event key, a poison in windows
}


def _iso(ms: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make_events(path: Path, n: int = 1500, seed: int = 11, late: bool = True) -> None:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        ts = BASE_MS + i * 4_000 + rng.randint(0, 3_000)
        card = rng.randrange(40)
        amount = rng.choice([150.0, 150.0, 10.0, 99.5, 420.0, 1300.0, -5.0, 2600.0])
        rows.append((ts + rng.randint(-25_000, 0), {
            "txn_id": f"t{i}", "card_id": f"card-{card}", "customer_id": f"c{card % 15}", "amount": amount,
            "country": rng.choice(["PL", "DE", "FR"]), "ts": _iso(ts)}))
    rows.sort(key=lambda r: r[0])  # arrival order: times shuffled within 25 s
    lines = [json.dumps(r) for _, r in rows]
    for at in range(100, n, 300) if late else ():  # far behind the watermark: late where time matters
        late = dict(rows[at][1], txn_id=f"late{at}", ts=_iso(BASE_MS + at * 4_000 - 600_000))
        lines.insert(at, json.dumps(late))
    lines.insert(50, "{not json")
    lines.insert(70, json.dumps({"txn_id": "nokey", "amount": 1.0, "ts": _iso(BASE_MS)}))
    lines.insert(90, json.dumps(dict(rows[3][1], txn_id="textamount", amount="a lot")))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _plans(tmp_path: Path, names: list[str]):
    plans = []
    for name in names:
        if name == "velocity_copy":  # a renamed copy: shares every slot with multi_velocity
            text = (HERE / "velocity.yaml").read_text().replace("name: multi_velocity", "name: multi_velocity_2")
            copy = tmp_path / "velocity_copy.yaml"
            copy.write_text(text)
            plans.append(make_plan(load(str(copy))))
        else:
            plans.append(make_plan(load(str(HERE / f"{name}.yaml"))))
    return plans


def test_slots_share_decoding_and_keys(tmp_path):
    """The layout, without Flink: one decode per input, one operator per distinct (key, upstream)."""
    plans = _plans(tmp_path, SETS["mixed"])
    multi = plan_many(plans, file_input_id({}), fuse=True)
    [group] = multi.groups
    assert [s.kind for s in group.slots] == ["entry", "keyed", "keyed", "keyed"]
    entry = group.slots[0]
    assert [len(g) for g in entry.inputs["transactions"]] == [3]  # one decode for the three scenarios
    fused = plan_many(_plans(tmp_path, SETS["fused"]), file_input_id({}), fuse=True)
    assert [s.kind for s in fused.groups[0].slots] == ["fused"]
    assert len(fused.groups[0].slots[0].members) == 3


def test_same_name_twice_is_refused(tmp_path):
    plans = _plans(tmp_path, ["velocity", "velocity"])
    with pytest.raises(MultiPlanError, match="names must differ"):
        plan_many(plans, file_input_id({}))


@pytest.mark.flink
@pytest.mark.parametrize("which", sorted(SETS))
def test_many_scenarios_one_job_equal_each_alone(tmp_path, which):
    from jobs.flink.multi_files import run_many_files

    events = tmp_path / "events.jsonl"
    make_events(events)
    files = {"transactions": str(events)}
    plans = _plans(tmp_path, SETS[which])
    summary = run_many_files(plans, files, str(tmp_path / "out"))
    assert summary.operators == (1 if which == "fused" else 4)
    poisoned = 0
    for plan in plans:
        name = plan.scenario.name
        alone = run_in_process(plan, merged_inputs(plan.scenario, files))
        got = summary.outputs[name]
        assert got["actions"] == canonical(json.loads(json.dumps(alone.actions))), name
        assert got["detected"] == canonical(json.loads(json.dumps(alone.detected))), name
        assert got["dead_letter"] == canonical(json.loads(json.dumps(alone.dead_letter))), name
        assert summary.counts[name] == alone.counts, name
        assert all(r["scenario"] == name for kind in got.values() for r in kind)
        written = [json.loads(x) for x in (tmp_path / "out" / name / "detected.jsonl").read_text().splitlines()]
        assert written == got["detected"]
        poisoned += sum(1 for d in got["dead_letter"] if "division by zero" in d["error"])
        assert sum(1 for d in got["dead_letter"] if d["node"] == "transactions") == 3  # the malformed lines
    assert poisoned > 10  # the poison fired, and only its own scenario has those dead letters
    if which == "mixed":
        assert summary.outputs["multi_velocity"]["detected"] and summary.outputs["multi_spender"]["actions"]
