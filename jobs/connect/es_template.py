"""The Elasticsearch index template for detections, created by kairos before a job starts.

Explicit mapping for the detection record (jobs/nodes/detected.py): ids and names are keywords, `time` a date;
`event` and `fields` hold whatever the scenario declares, mapped dynamically (strings as keywords, so they can be
aggregated). Only core field types: the integ-test-zip used locally has no mapper plugins (decision 0003).
"""

from __future__ import annotations

from typing import Any

from jobs.config.naming import TEMPLATE_NAME, Naming
from jobs.config.settings import EsSettings

_KEYWORD = {"type": "keyword", "ignore_above": 1024}
_STRINGS_AS_KEYWORDS = [
    {"strings_as_keywords": {"match_mapping_type": "string", "mapping": _KEYWORD}},
]


def detection_mapping() -> dict[str, Any]:
    return {
        "dynamic": True,
        "dynamic_templates": _STRINGS_AS_KEYWORDS,
        "properties": {
            "id": {"type": "keyword"},
            "scenario": {"type": "keyword"},
            "node": {"type": "keyword"},
            "kind": {"type": "keyword"},
            "key": {"type": "keyword"},
            "event_id": {"type": "keyword"},
            "time": {"type": "date", "format": "strict_date_optional_time||epoch_millis"},
            "event": {"type": "object", "dynamic": True},
            "fields": {"type": "object", "dynamic": True},
        },
    }


def template_body(naming: Naming) -> dict[str, Any]:
    return {
        "index_patterns": [naming.index_pattern],
        "priority": 200,
        "template": {"settings": {"number_of_shards": 1}, "mappings": detection_mapping()},
        "_meta": {"managed_by": "kairos"},
    }


def template_name(naming: Naming) -> str:
    return f"{naming.prefix.lower()}{TEMPLATE_NAME}".lstrip("-_.")


def ensure_index_template(settings: EsSettings, naming: Naming) -> str:
    """Create or update the template, then the index itself, so the mapping is there before the first write."""
    es = settings.client()
    try:
        body = template_body(naming)
        es.indices.put_index_template(name=template_name(naming), index_patterns=body["index_patterns"],
                                      priority=body["priority"], template=body["template"], meta=body["_meta"])
        if not es.indices.exists(index=naming.index):
            es.indices.create(index=naming.index)
    finally:
        es.close()
    return naming.index
