"""Node types: one module each, holding its parameters, its compile step and its runtime side by side."""

from __future__ import annotations

from types import ModuleType

from jobs.nodes import (  # noqa: I001 - a line per node-type branch keeps merges apart
    action,
    aggregate,
    call,
    decide,
    detected,
    enrich,
    filter,
    profile,
    split,
    switch,
    threshold,
    union,
    variables,
)

NODE_TYPES: dict[str, ModuleType] = {
    module.TYPE: module
    for module in (filter, variables, switch, split, union, enrich, aggregate, decide, action, detected, call)
    + (profile, threshold)
}
COMMON_FIELDS = ("id", "type", "from", "description")
