"""Which kairos code a Python interpreter runs, so a job never runs other code than it was built with.

In thread mode every job of a TaskManager shares that TaskManager's one CPython interpreter, and Python
imports a module once: the first job that imports `jobs` (or `udfs`) decides the code every later job of
that TaskManager runs, whatever files the later job ships with `--pyFiles`. After an upgrade of kairos or an
edit of a trusted udf, a long-running session cluster therefore kept running the old code, silently (seen in
this repo: a counter fix submitted to the shared cluster scraped 0 everywhere, because its TaskManager still
ran the code of the morning). So each operator carries the fingerprint of the code the job was built with
(`LOADED`, taken on the client) and compares it on open() with the fingerprint of the code the TaskManager
imported: a difference fails the job at once with what to do, instead of running the wrong code.

The fingerprint is a hash of the `.py` files of the `jobs` and `udfs` packages as they are loaded, taken at
the first import (the shipped files of an earlier job may be gone by the time a later job opens).
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path


class CodeMismatch(RuntimeError):
    """The TaskManager's interpreter runs other kairos code than the job was built with."""


def fingerprint(roots: list[Path]) -> str:
    """sha256 over (path relative to its root, content) of every .py file below `roots`, in a fixed order."""
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            digest.update(f"{root.name}/{path.relative_to(root).as_posix()}\0".encode())
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()[:16]


def _package_roots() -> list[Path]:
    roots = [Path(__file__).resolve().parents[1]]  # jobs/
    spec = importlib.util.find_spec("udfs")
    if spec is not None and spec.submodule_search_locations:
        roots.append(Path(next(iter(spec.submodule_search_locations))).resolve())
    return roots


LOADED = fingerprint(_package_roots())


def check(built_with: str | None, what: str) -> None:
    """Raise CodeMismatch when the job's operator `what` was built with other code than this interpreter runs
    (None: an operator pickled by a kairos without this check: nothing to compare)."""
    if built_with is None or built_with == LOADED:
        return
    raise CodeMismatch(
        f"{what}: this job was built with kairos code {built_with}, but this TaskManager's Python already runs "
        f"kairos code {LOADED}, imported by an earlier job (in thread mode a TaskManager imports jobs/ and udfs/ "
        "once, and every later job runs that code). Restart the session cluster's TaskManagers after upgrading "
        "kairos or changing udfs/ (here: services/flink-cluster.sh stop && services/flink-cluster.sh start), or "
        "run the job on a cluster of its own (application mode, `kairos k8s`).")
