"""A job never runs other kairos code than it was built with (jobs/config/codeversion.py): the fingerprint
follows the files' content, and an operator built with other code fails on open() with what to do."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from jobs.config import codeversion
from jobs.config.codeversion import CodeMismatch, check, fingerprint

ROOT = Path(__file__).resolve().parents[2]


def test_fingerprint_follows_content_not_location(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "jobs", tmp_path / "b" / "jobs"
    for root in (a, b):
        (root / "sub").mkdir(parents=True)
        (root / "__init__.py").write_text("X = 1\n")
        (root / "sub" / "m.py").write_text("def f():\n    return 2\n")
        (root / "__pycache__").mkdir()
        (root / "__pycache__" / "junk.py").write_text("ignored")
    assert fingerprint([a]) == fingerprint([b])  # another checkout of the same code
    (b / "sub" / "m.py").write_text("def f():\n    return 3\n")
    assert fingerprint([a]) != fingerprint([b])  # one character of one file
    (b / "sub" / "m.py").write_text("def f():\n    return 2\n")
    (b / "sub" / "n.py").write_text("")
    assert fingerprint([a]) != fingerprint([b])  # a new module


def test_loaded_is_this_checkouts_jobs_and_udfs(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "jobs", copy / "jobs", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "udfs", copy / "udfs", ignore=shutil.ignore_patterns("__pycache__"))
    assert fingerprint([copy / "jobs", copy / "udfs"]) == codeversion.LOADED
    (copy / "udfs" / "extra_rule.py").write_text("def score(x):\n    return x\n")
    assert fingerprint([copy / "jobs", copy / "udfs"]) != codeversion.LOADED  # a changed udf counts too


def test_an_operator_built_with_other_code_fails_on_open() -> None:
    """The operators carry the client's fingerprint through pickling (what a job graph ships) and compare it
    first thing in open(), before any state or metric is touched."""
    from jobs.flink.multi_ops import MultiSegmentFunction
    from jobs.flink.operators import FusedFunction, SegmentFunction

    program = SimpleNamespace(scenario="bank")
    for function in (SegmentFunction(program), FusedFunction(program, entry=program),
                     MultiSegmentFunction(SimpleNamespace(members=[]))):
        shipped = pickle.loads(pickle.dumps(function))
        assert shipped.code_version == codeversion.LOADED
        shipped.code_version = "0123456789abcdef"  # built by another kairos than the TaskManager runs
        with pytest.raises(CodeMismatch) as raised:
            shipped.open(None)
        message = str(raised.value)
        assert type(function).__name__ in message and "0123456789abcdef" in message and codeversion.LOADED in message
        assert "Restart the session cluster's TaskManagers" in message


def test_check_without_a_fingerprint_passes() -> None:
    check(codeversion.LOADED, "same code")
    check(None, "an operator pickled before the check existed")
