"""The one exception the expression language raises at compile time."""

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
