"""kairos graph: every example scenario draws as valid SVG naming every node, with and without counts."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from jobs.cli import main
from jobs.compiler.validate import load
from jobs.runtime.executor import merge_counts
from jobs.sandbox import cases as sandbox_cases
from jobs.sandbox.cases import read_cases
from jobs.sandbox.graph import key_parameter, layout
from jobs.sandbox.verify import run_case

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p for p in (ROOT / "scenarios").glob("*/*.yaml") if not p.name.endswith(".tests.yaml"))
SVG = "{http://www.w3.org/2000/svg}"


def _text(path: Path) -> str:
    root = ET.parse(path).getroot()  # raises on anything that is not well-formed XML
    assert root.tag == f"{SVG}svg"
    return " ".join(t.text or "" for t in root.iter(f"{SVG}text"))


def _counts(tmp_path: Path, scenario: Path) -> Path:
    """counts.json the way `kairos run` writes it, from the harness running all the scenario's test cases."""
    graph = load(str(scenario))
    results = [run_case(graph, case) for case in read_cases(sandbox_cases.tests_file_for(scenario), graph.scenario)]
    out = tmp_path / "counts.json"
    out.write_text(json.dumps(merge_counts(r.counts for r in results)), encoding="utf-8")
    return out


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_graph_of_every_scenario(tmp_path: Path, scenario: Path, capsys) -> None:
    graph = load(str(scenario))
    plain = tmp_path / "plain.svg"
    assert main(["graph", str(scenario), "-o", str(plain)]) == 0
    text = _text(plain)
    for name in [*graph.order, *graph.scenario.sources]:
        assert name in text, name
    counts_file = _counts(tmp_path, scenario)
    counted = tmp_path / "counted.svg"
    assert main(["graph", str(scenario), "--counts", str(counts_file), "-o", str(counted)]) == 0
    text = _text(counted)
    counts = json.loads(counts_file.read_text())
    for node in graph.order:
        assert f"in {counts[node]['in']} · out {counts[node]['out']}" in text, node
        if len(graph.inputs[node]) == 1:  # the edge into it carries its `in`
            assert f">{counts[node]['in']}<" in counted.read_text() or f" {counts[node]['in']}<" in counted.read_text()
    html = tmp_path / "page.html"
    assert main(["graph", str(scenario), "--counts", str(counts_file), "-o", str(html)]) == 0
    page = html.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "legend" in page


def test_run_counts_json_and_edge_labels(tmp_path: Path) -> None:
    """counts.json as `kairos run` writes it (node -> counters): single-input edges get the target's `in`."""
    scenario = ROOT / "scenarios" / "card_fraud_velocity" / "card_fraud_velocity.yaml"
    counts = {"transactions": {"in": 11, "out": 9, "dead_letter": 2}, "card_present": {"in": 9, "out": 8,
              "filtered": 1}, "velocity": {"in": 8, "out": 7, "dead_letter": 1, "late": 1},
              "risk": {"in": 7, "out": 3, "filtered": 4}, "record": {"in": 3, "out": 3},
              "high_only": {"in": 3, "out": 2, "filtered": 1}, "alert_fraud_team": {"in": 2, "out": 2}}
    path = tmp_path / "counts.json"
    path.write_text(json.dumps(counts))
    out = tmp_path / "g.svg"
    assert main(["graph", str(scenario), "--counts", str(path), "-o", str(out)]) == 0
    text = _text(out)
    assert "in 8 · out 7 · dead 1 · late 1" in text and "amount &gt; 0" not in text and "amount > 0" in text


def test_layout_layers_and_ports() -> None:
    graph = load(str(ROOT / "scenarios" / "card_fraud_velocity" / "card_fraud_velocity.yaml"))
    boxes, edges, layers = layout(graph)
    assert boxes["transactions"].layer == 0 and boxes["card_present"].layer == 1
    assert boxes["record"].layer == boxes["high_only"].layer == 4
    assert ("risk", "out", "high_only", True) in edges
    assert key_parameter("switch", {"cases": [{"name": "push", "when": "x"}]}) == "cases: push"
    assert key_parameter("action", {"channel": "sms", "to": "phone", "delay": "5s"}) == "sms → phone after 5s"


def test_trace_json_edges(tmp_path: Path, capsys) -> None:
    """`kairos test --json` carries counts per edge, including the ports of branching nodes."""
    scenario = ROOT / "scenarios" / "card_fraud_velocity" / "card_fraud_velocity.yaml"
    assert main(["test", str(scenario), "--events", str(scenario.parent / "events.jsonl"), "--json"]) == 0
    trace = tmp_path / "trace.json"
    trace.write_text(capsys.readouterr().out)
    out = tmp_path / "g.svg"
    assert main(["graph", str(scenario), "--counts", str(trace), "-o", str(out)]) == 0
    text = _text(out)
    for edge in json.loads(trace.read_text())["edges"]:
        assert str(edge["count"]) in text
