"""Node types: one module each, holding its parameters, its compile step and its runtime side by side."""

from __future__ import annotations

from types import ModuleType

from jobs.nodes import action, aggregate, call, decide, detected, enrich, filter, split, switch, union, variables

NODE_TYPES: dict[str, ModuleType] = {
    module.TYPE: module
    for module in (filter, variables, switch, split, union, enrich, aggregate, decide, action, detected, call)
}
COMMON_FIELDS = ("id", "type", "from", "description")
from jobs.nodes import absence, sequence  # noqa: E402  (patterns: kept apart so parallel additions merge cleanly)

NODE_TYPES.update({module.TYPE: module for module in (sequence, absence)})
