"""Trusted user functions that `call` nodes run (the built-in aggregators live in jobs/nodes/windows/).

A `call` node reaches only the functions a module here marks with `@export`: a module's other names (its
imports, helpers, constants, `__class__` and the like) are not entry points, so reviewing what a scenario
can run means reading the exported functions, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)
EXPORT_MARK = "__kairos_export__"


def export(fn: F) -> F:
    """Make a function callable from scenarios as `function: module.name` (module: its file in udfs/)."""
    setattr(fn, EXPORT_MARK, True)
    return fn


def exported(namespace: dict) -> list[str]:
    """The names of the exported functions in a module's namespace."""
    return [name for name, value in namespace.items() if getattr(value, EXPORT_MARK, None) is True]
