"""Text helpers for the compiler: name suggestions and a linear-time SQL LIKE matcher."""

from __future__ import annotations

import difflib
import re

from .errors import ExprError


def suggest(word: str, candidates: list[str]) -> str:
    """' (did you mean 'x'?)' for close matches, else ''."""
    lowered = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(f"'{lowered[c]}'" for c in close) + "?)"


class _Segment:
    """A run of pattern characters between two `%`: literals and `_`, so of a fixed length."""

    def __init__(self, chars: list[str | None]) -> None:  # None stands for `_`
        self.size = len(chars)
        self.literal = "".join(c for c in chars if c is not None) if None not in chars else None
        # Only literals and `.`: no quantifier, so one attempt costs at most `size` steps (no backtracking).
        self.regex = re.compile("".join("." if c is None else re.escape(c) for c in chars), re.DOTALL)

    def at(self, s: str, pos: int) -> bool:
        if self.literal is not None:
            return s.startswith(self.literal, pos)
        return self.regex.match(s, pos) is not None

    def find(self, s: str, pos: int) -> int:
        if self.literal is not None:
            return s.find(self.literal, pos)
        m = self.regex.search(s, pos)
        return -1 if m is None else m.start()


class Like:
    """SQL LIKE without backtracking: `%` any run, `_` one character, `\\` escapes the next one.

    The pattern splits at `%` into fixed-length segments; the first must match at the start, the last at the
    end, the middle ones are taken leftmost-first (correct for fixed-length segments). The cost is at most
    O(len(text) * len(pattern)) and usually one str.find per segment — where the regex this replaces was
    cubic for `%a%a%b` (47 s per event on an 8 KB field; this takes microseconds, tests/unit/test_expr_limits.py).
    """

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        parts: list[list[str | None]] = [[]]
        i = 0
        while i < len(pattern):
            ch = pattern[i]
            if ch == "\\":
                if i + 1 == len(pattern):
                    raise ExprError("a 'like' pattern cannot end with a lone '\\' (write '\\\\' for a backslash)")
                i += 1
                parts[-1].append(pattern[i])
            elif ch == "%":
                parts.append([])
            else:
                parts[-1].append(None if ch == "_" else ch)
            i += 1
        self.wild = len(parts) > 1
        self.segments = [_Segment(p) for p in parts]
        self.min_size = sum(s.size for s in self.segments)

    def regex(self) -> re.Pattern[str]:
        """The same test as a regex; linear only while there is at most one `%` (the caller checks)."""
        return re.compile(".*".join(s.regex.pattern for s in self.segments), re.DOTALL)

    def __call__(self, s: str) -> bool:
        segs = self.segments
        if not self.wild:
            return len(s) == segs[0].size and segs[0].at(s, 0)
        n = len(s)
        if n < self.min_size:
            return False
        first, last = segs[0], segs[-1]
        if not first.at(s, 0):
            return False
        pos, end = first.size, n - last.size
        for seg in segs[1:-1]:
            found = seg.find(s, pos)
            if found < 0 or found + seg.size > end:
                return False
            pos = found + seg.size
        return pos <= end and last.at(s, end)

    def __repr__(self) -> str:
        return f"Like({self.pattern!r})"
