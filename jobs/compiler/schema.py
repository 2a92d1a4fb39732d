"""The JSON Schema of scenario files, generated from the same parameter definitions the compiler reads.

Editors use it (yaml-language-server modeline) to complete fields, show their docs and flag mistakes.
"""

from __future__ import annotations

from typing import Any

from jobs.lang.model import REFERENCE_PARAMS, SCENARIO_PARAMS, SOURCE_PARAMS
from jobs.lang.parameters import DECLARATION_PARAMS
from jobs.lang.params import Param, json_schema_for
from jobs.lang.policy import CAP_PARAMS, POLICY_PARAMS, QUIET_PARAMS
from jobs.nodes import NODE_TYPES

TYPE_SCHEMA: dict[str, Any] = {
    "description": "A type: string, int, float, bool, timestamp, any, list<T>, map<T>, or a mapping of fields.",
    "anyOf": [{"type": "string"}, {"type": "object"}],
}


SCENARIO_POLICY_DOC = next(p.doc for p in SCENARIO_PARAMS if p.name == "policy")


def _object(params: list[Param], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    properties = {p.name: json_schema_for(p) for p in params}
    properties.update(extra or {})
    return {"type": "object", "properties": properties, "additionalProperties": False,
            "required": [p.name for p in params if p.required]}


def scenario_schema() -> dict[str, Any]:
    common = {
        "id": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]*$", "description": "Unique node id."},
        "type": {"enum": list(NODE_TYPES), "description": "The node type."},
        "from": {"description": "Input: a node id, 'node.port', a source name, or a list (union).",
                 "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "description": {"type": "string", "description": "What this node is for."},
    }
    node_variants = []
    for name, module in NODE_TYPES.items():
        variant = _object(module.PARAMS, common)
        variant["properties"]["type"] = {"const": name, "description": module.DOC}
        variant["required"] = ["id", "type", *variant["required"]]
        variant["title"] = f"{name} node"
        node_variants.append({"if": {"properties": {"type": {"const": name}}, "required": ["type"]}, "then": variant})
    source = _object(SOURCE_PARAMS, {"schema": {"type": "object", "additionalProperties": TYPE_SCHEMA,
                                                "description": "Field names and their types."}})
    reference = _object(REFERENCE_PARAMS, {"schema": {"type": "object", "additionalProperties": TYPE_SCHEMA,
                                                      "description": "Column names and their types."}})
    root = _object(SCENARIO_PARAMS)
    root["properties"]["sources"] = {"type": "object", "minProperties": 1, "additionalProperties": source,
                                     "description": "Input streams by name."}
    root["properties"]["references"] = {"type": "object", "additionalProperties": reference,
                                        "description": "Static reference tables by name."}
    root["properties"]["nodes"] = {
        "type": "array", "minItems": 1, "description": "The graph, as a list of nodes.",
        "items": {"type": "object", "required": ["id", "type"], "allOf": node_variants},
    }
    root["properties"]["parameters"] = {
        "type": "object", "propertyNames": {"pattern": "^[A-Za-z][A-Za-z0-9_]*$"},
        "additionalProperties": _object(DECLARATION_PARAMS),
        "description": next(p.doc for p in SCENARIO_PARAMS if p.name == "parameters")}
    policy = _object(POLICY_PARAMS, {
        "caps": {"type": "array", "items": _object(CAP_PARAMS), "description": "Frequency caps."},
        "quiet_hours": _object(QUIET_PARAMS),
        "consent": {"type": "object", "additionalProperties": {"type": ["string", "boolean"]},
                    "description": "Per channel, a bool expression, e.g. {sms: profile.sms_consent}."}})
    root["properties"]["policy"] = {"description": SCENARIO_POLICY_DOC,
                                    "anyOf": [{"type": "string", "description": "The path of a policy file."}, policy]}
    root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    root["$id"] = "https://kairos.dev/schema/scenario.json"
    root["title"] = "kairos scenario"
    return root
