"""The dashboards use only what exists: every metric name in a Grafana PromQL expression was seen on a
TaskManager by tests/integration/test_metrics_scrape.py (which checks that tests/unit/scraped_metric_names.txt
lists nothing it did not see), and the Kibana saved objects follow the saved-objects ndjson rules (the fields
they name are checked against the real index mapping in tests/integration/test_kibana_fields.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "dashboards" / "grafana" / "kairos.json"
KIBANA = REPO / "dashboards" / "kibana" / "kairos-detections.ndjson"
SCRAPED = {line for line in (REPO / "tests" / "unit" / "scraped_metric_names.txt").read_text().splitlines()
           if line and not line.startswith("#")}
PROMQL_WORDS = {"sum", "max", "min", "avg", "count", "rate", "irate", "increase", "by", "without", "on", "ignoring",
                "time", "histogram_quantile", "label_values", "and", "or", "unless", "offset", "topk", "bottomk"}


def metric_names(expr: str) -> set[str]:
    """The metric names of a PromQL expression: what is left after strings, label matchers, ranges and
    grouping lists are taken out, minus functions and keywords."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"label_values\(([^,]+),[^)]*\)", r"\1", expr)
    return {w for w in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", expr) if w not in PROMQL_WORDS}


def grafana_exprs() -> list[str]:
    dash = json.loads(GRAFANA.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    exprs += [v["query"]["query"] for v in dash["templating"]["list"] if v["type"] == "query"]
    return exprs


def test_metric_names_extraction_is_strict():
    assert metric_names('sum by (scenario, node) (rate(a_b{x="y", q=~"$s"}[5m])) - max(c) / 1000') == {"a_b", "c"}
    assert metric_names("label_values(flink_x_in, scenario)") == {"flink_x_in"}


def test_every_grafana_query_uses_scraped_names_only():
    exprs = grafana_exprs()
    used = set().union(*(metric_names(e) for e in exprs))
    assert used - SCRAPED == set(), f"not seen in the scrape: {sorted(used - SCRAPED)}"
    # the four views are there: throughput, dead letters, latency percentiles, actions per channel
    for name in ("node_in", "node_dead_letter", "latency_event_ms", "latency_ingestion_ms", "node_channel_actions",
                 "node_reason_suppressed"):
        assert any(f"kairos_scenario_{name}" in e for e in exprs), name
    assert any('quantile="0.99"' in e for e in exprs)


def test_grafana_dashboard_shape():
    dash = json.loads(GRAFANA.read_text())
    assert dash["uid"] and dash["title"] and dash["schemaVersion"] >= 36
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for p in dash["panels"]:
        assert p["datasource"]["uid"] == "${datasource}" and p["targets"], p["title"]
        assert [t["refId"] for t in p["targets"]] == [chr(65 + i) for i in range(len(p["targets"]))]


def kibana_objects() -> list[dict]:
    return [json.loads(line) for line in KIBANA.read_text().splitlines() if line.strip()]


def kibana_fields() -> set[str]:
    """Every index field the saved objects name: the data view's time field, aggregation fields, KQL fields."""
    fields = set()
    for o in kibana_objects():
        attrs = o["attributes"]
        if o["type"] == "index-pattern":
            fields.add(attrs["timeFieldName"])
        if o["type"] == "visualization":
            fields |= {a["params"]["field"] for a in json.loads(attrs["visState"])["aggs"] if "field" in a["params"]}
        query = json.loads(attrs.get("kibanaSavedObjectMeta", {}).get("searchSourceJSON", "{}")).get("query", {})
        fields |= set(re.findall(r"([A-Za-z_][\w.]*)\s*:", query.get("query", "")))
    return fields


def test_kibana_saved_objects_follow_the_ndjson_rules():
    objects = kibana_objects()
    by_key = {(o["type"], o["id"]) for o in objects}
    assert len(by_key) == len(objects)  # ids unique per type
    assert {o["type"] for o in objects} == {"index-pattern", "visualization", "dashboard"}
    for o in objects:
        assert set(o) >= {"type", "id", "attributes", "references"} and o["attributes"]["title"]
        for ref in o["references"]:  # every reference resolves inside the file
            assert (ref["type"], ref["id"]) in by_key, ref
        meta = o["attributes"].get("kibanaSavedObjectMeta")
        if meta:
            source = json.loads(meta["searchSourceJSON"])
            if "indexRefName" in source:
                assert source["indexRefName"] in {r["name"] for r in o["references"]}
        if o["type"] == "visualization":
            state = json.loads(o["attributes"]["visState"])
            assert state["title"] == o["attributes"]["title"] and state["aggs"]
        if o["type"] == "dashboard":
            panels = json.loads(o["attributes"]["panelsJSON"])
            assert {p["panelRefName"] for p in panels} == {r["name"] for r in o["references"]}
    assert kibana_fields() >= {"time", "scenario", "node", "kind", "fields.variant", "fields.reason"}
