"""The two exceptions of the expression language: ExprError at compile time, EvalError per event."""

from __future__ import annotations


class ExprError(Exception):
    """A syntax, type or sandbox problem, at 0-based character `offset` of the expression source."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[type, tuple[str, int]]:
        return (ExprError, (self.message, self.offset))


class EvalError(ValueError):
    """One event's data is outside what an expression can compute (overflow, a size limit, a function's domain).

    The message names the operator or function and the value; the engine dead-letters the event. A ValueError
    so that callers catching the historical ValueError keep working.
    """
