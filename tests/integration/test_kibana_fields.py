"""The Kibana saved objects (dashboards/kibana/) name only fields of the real detections index: the index is
created by kairos's own template (jobs/connect/es_template.py) on the running Elasticsearch and fed the
detections the engine produces for a scenario that records a variant and suppresses contacts; every field
the data view, the visualisations and their queries use must be in its mapping, aggregatable.
(Kibana itself cannot run here: the import format is checked by tests/unit/test_dashboards.py.)"""

from __future__ import annotations

import json
import uuid

import pytest

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.config.naming import Naming
from jobs.config.settings import EsSettings
from jobs.connect.es_template import ensure_index_template, template_name
from jobs.runtime.harness import run_in_process
from tests.unit.test_dashboards import kibana_fields

pytestmark = pytest.mark.integration
SCENARIO = """
name: kibana_fields
policy:
  ttl: 1d
  consent: {sms: consent}
sources:
  txns:
    schema: {id: string, customer_id: string, amount: float, consent: bool, ts: timestamp}
    key: customer_id
    time: ts
    id: id
nodes:
  - id: pick
    type: decide
    rules:
      - {when: amount > 100, then: {variant: "'B'"}}
    default: {variant: "'A'"}
  - {id: flag, type: detected, kind: offer_made, fields: {variant: variant, amount: amount}}
  - {id: offer, type: action, from: pick, channel: sms, payload: {v: variant}}
"""
AGGREGATABLE = {"keyword", "date", "long", "double", "float", "boolean", "integer"}


def flatten(properties: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for name, spec in properties.items():
        if "properties" in spec:
            out.update(flatten(spec["properties"], f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = spec.get("type", "object")
    return out


def test_kibana_fields_exist_in_the_detections_index(es_url, tmp_path):
    from elasticsearch import Elasticsearch, helpers

    path = tmp_path / "kibana_fields.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    plan = make_plan(load(str(path)))
    events = [json.dumps({"id": f"e{i}", "customer_id": f"c{i % 3}", "amount": float(40 * i), "consent": i % 4 != 0,
                          "ts": f"2026-11-01T10:00:{i:02d}Z"}) for i in range(12)]
    result = run_in_process(plan, [("txns", e) for e in events])
    assert {d["kind"] for d in result.detected} == {"offer_made", "contact_suppressed"}
    naming = Naming(plan.scenario.name, prefix=f"t{uuid.uuid4().hex[:8]}.")
    index = ensure_index_template(EsSettings(es_url), naming)
    es = Elasticsearch(es_url)
    try:
        helpers.bulk(es, ({"_index": index, "_id": d["id"], "_source": d} for d in result.detected), refresh=True)
        mapping = flatten(es.indices.get_mapping(index=index)[index]["mappings"]["properties"])
    finally:
        es.indices.delete(index=index, ignore_unavailable=True)
        es.indices.delete_index_template(name=template_name(naming))
        es.close()
    used = kibana_fields()
    assert used - set(mapping) == set(), f"not in the index mapping: {sorted(used - set(mapping))}"
    assert {f: mapping[f] for f in used if mapping[f] not in AGGREGATABLE} == {}
