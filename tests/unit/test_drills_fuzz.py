"""The expression-fuzz drill (bench/drills/fuzz.py) in quick mode, and its detectors on things that must trip
them: the drill proves nothing if an escape or a crash would go unnoticed."""

from __future__ import annotations

import os

from bench.drills import fuzz


def test_quick_fuzz_run_is_clean() -> None:
    result = fuzz.run(200)
    assert result["expressions"] == 200
    assert result["crashes"] == 0, result["crash_samples"]
    assert result["escapes"] == 0, result["escape_samples"]
    # every kind of expression was drawn, and the typed ones mostly reach evaluation
    assert set(result["by_kind"]) == {"typed", "escape", "text", "spliced"}
    assert result["by_kind"]["typed"]["compiled"] > result["by_kind"]["typed"]["refused"]
    assert result["by_kind"]["escape"]["refused"] > 0 and result["evaluations"] > 0


def test_detectors_trip() -> None:
    stats = fuzz.Stats()
    stats.evaluate("open", lambda ctx: open(os.devnull, "w").close(), {})  # noqa: SIM115 - a write: an escape
    stats.evaluate("leak", lambda ctx: os, {})  # a module as a result: an escape
    stats.evaluate("boom", lambda ctx: {}["missing"], {})  # KeyError: not a project error type, a crash
    stats.evaluate("fine", lambda ctx: 1 / 0, {})  # ZeroDivisionError: the documented run-time error
    assert [e["expression"] for e in stats.escapes] == ["open", "leak"]
    assert [c["expression"] for c in stats.crashes] == ["boom"]
    assert stats.eval_errors == 1
