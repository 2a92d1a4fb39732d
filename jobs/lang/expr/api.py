"""The public entry points: compile_expression, check_condition and the picklable CompiledExpr."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

from ..types import ANY, BOOL, NULL, Type, assignable
from .codegen import CodeGen
from .errors import ExprError
from .grammar import parse


class CompiledExpr:
    """A type-checked expression compiled to one Python function `fn(ctx) -> value`."""

    source: str
    type: Type
    names: frozenset[str]
    fn: Callable[[dict[str, Any]], Any]
    code: str  # the generated Python source, for debugging and tests

    def __init__(self, source: str, env: Mapping[str, Type], expected: Type | None = None) -> None:
        self._env = dict(env)
        self._expected = expected
        self.source = source
        self.type, self.names, self.fn, self.code = _build(source, self._env, expected)

    def __call__(self, ctx: dict[str, Any]) -> Any:
        return self.fn(ctx)

    def __repr__(self) -> str:
        return f"CompiledExpr({self.source!r}: {self.type})"

    # Functions made by exec() can't be pickled: ship the inputs and recompile on the worker.
    def __getstate__(self) -> tuple[str, dict[str, Type], Type | None]:
        return (self.source, self._env, self._expected)

    def __setstate__(self, state: tuple[str, dict[str, Type], Type | None]) -> None:
        self.__init__(*state)  # type: ignore[misc]


def _build(
    source: str, env: dict[str, Type], expected: Type | None
) -> tuple[Type, frozenset[str], Callable[[dict[str, Any]], Any], str]:
    if not isinstance(source, str):
        raise ExprError(f"an expression must be text, not {type(source).__name__}", 0)
    cg = CodeGen(source, env)
    value = cg.gen(parse(source))
    code, result = value.code, value.type
    if expected is not None:
        if not assignable(result, expected):
            what = "condition" if expected == BOOL else "expression"
            raise ExprError(f"{what} must be {expected}, got {result}", 0)
        if expected == BOOL:
            # Conditions get a real bool: True only when the value is TRUE (SQL WHERE); false and null drop.
            code = cg.truth(value, "condition")
            result = BOOL
        elif result in (ANY, NULL):
            result = expected
    py = f"def _expr(ctx):\n    return {code}\n"
    scope: dict[str, Any] = {"__builtins__": {}, **cg.globals}
    try:
        with warnings.catch_warnings():  # e.g. SyntaxWarning for `'a' is True` on an `any`-typed literal branch
            warnings.simplefilter("ignore")
            exec(compile(py, "<expr>", "exec"), scope)
    except (SyntaxError, RecursionError, MemoryError):  # pragma: no cover - bounded by the depth limits
        raise ExprError("expression is too complex", 0) from None
    return result, frozenset(cg.names), scope["_expr"], py


def compile_expression(source: str, env: Mapping[str, Type], *, expected: Type | None = None) -> CompiledExpr:
    """Parse, type-check and compile `source` against `env` (name -> type); raise ExprError if invalid."""
    return CompiledExpr(source, env, expected)


def check_condition(source: str, env: Mapping[str, Type]) -> CompiledExpr:
    """Compile a filter condition: must be bool; True exactly when it is TRUE (false and null give False)."""
    return CompiledExpr(source, env, BOOL)
