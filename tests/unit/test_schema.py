"""The JSON Schema editors use is generated from the model, committed, and accepts every example."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from jobs.compiler.schema import scenario_schema

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in ROOT.glob("scenarios/*/*.yaml") if not p.name.endswith(".tests.yaml"))


def test_committed_schema_is_up_to_date():
    committed = json.loads((ROOT / "docs" / "scenario.schema.json").read_text())
    assert committed == scenario_schema(), "run: kairos schema -o docs/scenario.schema.json"


def test_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(scenario_schema())


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_matches_the_schema(path):
    jsonschema.validate(yaml.safe_load(path.read_text()), scenario_schema())


def test_schema_rejects_an_unknown_node_field():
    scenario = yaml.safe_load((ROOT / "scenarios/card_fraud_velocity/card_fraud_velocity.yaml").read_text())
    scenario["nodes"][0]["conditon"] = "amount > 1"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scenario, scenario_schema())
