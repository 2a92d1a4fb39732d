"""Diagnostics: every problem in a scenario is reported as `file:line:col: message`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Location:
    """Where something was written: 1-based line and column in a scenario file.

    `span` (a yaml_text.ScalarSpan, set by the loader on scalar values) knows where each character of the
    value was written, so offsets inside folded, multi-line or escaped scalars map to the right place.
    """

    file: str
    line: int
    col: int
    span: Any = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def shifted(self, offset: int, text: str) -> Location:
        """Location of character `offset` inside `text`, the value written at self.

        Exact through the scalar's span when `text` is its value (or the rest of it); the scalar's start
        when the span cannot map it; otherwise `text` is taken as written verbatim from self on.
        """
        if self.span is not None and self.span.covers(text):
            where = self.span.at(offset)
            return self if where is None else Location(self.file, *where, span=self.span.tail(offset))
        before = text[:offset]
        newlines = before.count("\n")
        if newlines:
            return Location(self.file, self.line + newlines, offset - before.rfind("\n"))
        return Location(self.file, self.line, self.col + offset)


UNKNOWN = Location("<unknown>", 0, 0)


@dataclass(frozen=True)
class Diagnostic:
    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class ScenarioError(Exception):
    """One or more diagnostics; raised once a stage has collected everything it can find."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.location.file, d.location.line, d.location.col))
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class Collector:
    """Gathers diagnostics so that a stage reports every error at once, not just the first."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []

    def error(self, location: Location, message: str) -> None:
        self.diagnostics.append(Diagnostic(location, message))

    def raise_if_any(self) -> None:
        if self.diagnostics:
            raise ScenarioError(self.diagnostics)
