"""Node types: one module each, holding its parameters, its compile step and its runtime side by side."""

from __future__ import annotations

from enum import StrEnum
from types import ModuleType

from jobs.nodes import (
    absence,
    action,
    aggregate,
    bandit,
    call,
    decide,
    detected,
    enrich,
    experiment,
    filter,
    profile,
    sequence,
    split,
    switch,
    threshold,
    union,
    variables,
)

MODULES = (filter, variables, switch, split, union, enrich, aggregate, decide, action, detected, call, profile,
           threshold, sequence, absence, experiment, bandit)
# The node kinds, one per module: the vocabulary is the registry itself, so a new node type is one file plus one
# name in MODULES (a hand-kept enum beside it would be a second list to forget)
NodeKind = StrEnum("NodeKind", {module.TYPE.upper(): module.TYPE for module in MODULES})
NODE_TYPES: dict[str, ModuleType] = {NodeKind(module.TYPE): module for module in MODULES}
COMMON_FIELDS = ("id", "type", "from", "description")


# What tools outside jobs/nodes/ (kairos graph) may ask about a node type, without naming one: each module
# declares it (jobs/nodes/base.py, NodeType); a type that does not simply has none.
def summary(node_type: str, data: dict) -> str:
    """The one thing worth reading about a node at a glance."""
    hook = getattr(NODE_TYPES.get(node_type), "summary", None)
    return hook(data) if hook else ""


def family(node_type: str) -> str:
    """How the node is coloured: its module's FAMILY, or its own type."""
    return getattr(NODE_TYPES.get(node_type), "FAMILY", node_type)


def side_inputs(node_type: str, data: dict) -> list[tuple[str, str]]:
    """(kind, name) of what the node reads besides its `from`: ("changelog", source), ("table", reference)."""
    hook = getattr(NODE_TYPES.get(node_type), "side_inputs", None)
    return hook(data) if hook else []
