"""Text helpers for the compiler: name suggestions and SQL LIKE -> regex."""

from __future__ import annotations

import difflib
import re


def suggest(word: str, candidates: list[str]) -> str:
    """' (did you mean 'x'?)' for close matches, else ''."""
    lowered = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(f"'{lowered[c]}'" for c in close) + "?)"


def like_to_regex(pattern: str) -> re.Pattern[str]:
    """SQL LIKE -> anchored regex: % any run, _ one char, backslash escapes; everything else literal."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)
