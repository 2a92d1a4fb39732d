"""Node types: one module each, holding its parameters, its compile step and its runtime side by side."""

from __future__ import annotations

from enum import StrEnum
from types import ModuleType

from jobs.nodes import (
    absence,
    action,
    aggregate,
    call,
    decide,
    detected,
    enrich,
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
           threshold, sequence, absence)
# The node kinds, one per module: the vocabulary is the registry itself, so a new node type is one file plus one
# name in MODULES (a hand-kept enum beside it would be a second list to forget)
NodeKind = StrEnum("NodeKind", {module.TYPE.upper(): module.TYPE for module in MODULES})
NODE_TYPES: dict[str, ModuleType] = {NodeKind(module.TYPE): module for module in MODULES}
COMMON_FIELDS = ("id", "type", "from", "description")
