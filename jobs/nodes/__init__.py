"""Node types: one module each, holding its parameters, its compile step and its runtime side by side."""

from __future__ import annotations

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

NODE_TYPES: dict[str, ModuleType] = {
    module.TYPE: module
    for module in (filter, variables, switch, split, union, enrich, aggregate, decide, action, detected, call,
                   profile, threshold, sequence, absence, experiment, bandit)
}
COMMON_FIELDS = ("id", "type", "from", "description")
