"""Running test cases in the in-process harness and explaining any difference from what was expected."""

from __future__ import annotations

import difflib
import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import Graph
from jobs.lang.errors import Location
from jobs.runtime.decode import DecodeError, parse_timestamp
from jobs.runtime.files import bind_references, canonical, merged_inputs
from jobs.runtime.harness import RunResult, run_in_process
from jobs.sandbox.cases import KINDS, Case

SINGULAR = {"actions": "action", "detected": "detection", "dead_letter": "dead letter"}


@dataclass
class Failure:
    loc: Location
    message: str
    diff: str = ""

    def __str__(self) -> str:
        return f"{self.loc}: {self.message}" + (f"\n{self.diff}" if self.diff else "")


@dataclass
class CaseResult:
    case: Case
    result: RunResult
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def run_case(graph: Graph, case: Case) -> RunResult:
    """Write the case's records to temporary JSON-lines files and run them the way `kairos run` reads files."""
    plan = make_plan(graph)
    with tempfile.TemporaryDirectory(prefix="kairos-case-") as tmp:
        def write(kind: str, name: str, lines: list[str]) -> str:
            path = Path(tmp) / f"{kind}-{name}.jsonl"
            path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            return str(path)

        files = {n: write("events", n, lines) for n, lines in case.events.items()}
        files |= {n: write("changelog", n, lines) for n, lines in case.changelog.items()}
        bind_references(plan, {n: write("reference", n, rows) for n, rows in case.reference.items()})
        return run_in_process(plan, list(merged_inputs(graph.scenario, files)))


def matches(expected: Any, got: Any) -> bool:
    """A partial match: every key written must be there and equal; lists must match item by item."""
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return False
        return all(_has(got, k) and matches(v, _get(got, k)) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(got, list) and len(got) == len(expected) and all(map(matches, expected, got))
    if isinstance(expected, bool) or isinstance(got, bool):
        return expected is got
    if isinstance(expected, str) and isinstance(got, str) and expected != got and _ISO.match(expected):
        return _same_instant(expected, got)  # 10:00:05Z equals the engine's 10:00:05.000Z
    return expected == got


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _same_instant(a: str, b: str) -> bool:
    try:
        return parse_timestamp(a) == parse_timestamp(b)
    except DecodeError:
        return False


def _has(record: dict, key: str) -> bool:
    try:
        _get(record, key)
    except KeyError:
        return False
    return True


def _get(record: dict, key: str) -> Any:
    """`payload.product` reaches into nested records when no key has that literal name."""
    if key in record:
        return record[key]
    value: Any = record
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(key)
        value = value[part]
    return value


def project(expected: Any, got: Any) -> Any:
    """The part of `got` that `expected` talks about, so a diff shows only what was asked for."""
    if isinstance(expected, dict) and isinstance(got, dict):
        return {k: project(v, _get(got, k)) if _has(got, k) else "<missing>" for k, v in expected.items()}
    return got


def _dump(value: Any) -> list[str]:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


def record_diff(expected: Any, got: Any) -> str:
    lines = difflib.unified_diff(_dump(expected), _dump(project(expected, got)), "expected", "got", lineterm="", n=9)
    return "\n".join("      " + line for line in lines)


def _score(expected: dict, got: dict) -> int:
    return sum(1 for k, v in expected.items() if _has(got, k) and matches(v, _get(got, k)))


def assign(expected: list[Any], got: list[Any]) -> dict[int, int]:
    """Pair expected with got records so that as many as possible match (a partial record may fit several)."""
    fits = [[j for j in range(len(got)) if matches(e, got[j])] for e in expected]
    owner: dict[int, int] = {}  # got index -> expected index

    def take(i: int, seen: set[int]) -> bool:  # augmenting path (Kuhn's algorithm)
        for j in fits[i]:
            if j not in seen:
                seen.add(j)
                if j not in owner or take(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    for i in range(len(expected)):
        take(i, set())
    return {i: j for j, i in owner.items()}


def compare(case: Case, result: RunResult) -> list[Failure]:
    failures: list[Failure] = []
    got_by_kind = {"actions": canonical(result.actions), "detected": canonical(result.detected),
                   "dead_letter": canonical(result.dead_letter)}
    for kind in KINDS:
        expected = case.expect.get(kind, [])
        if kind not in case.expect and not case.only_listed:
            continue
        got = got_by_kind[kind]
        pairs = assign([record for record, _ in expected], got)
        missing = [item for i, item in enumerate(expected) if i not in pairs]
        left = [i for i in range(len(got)) if i not in pairs.values()]
        for record, loc in missing:
            if left:
                closest = max(left, key=lambda i: _score(record, got[i]))
                failures.append(Failure(loc, f"case '{case.name}': expected {SINGULAR[kind]} not produced; "
                                             f"closest of the {len(got)} got (#{closest + 1}):",
                                        record_diff(record, got[closest])))
            else:
                failures.append(Failure(loc, f"case '{case.name}': expected {SINGULAR[kind]} not produced "
                                             f"(got {len(got)} {kind}, all matched elsewhere or none)",
                                        "      " + json.dumps(record, ensure_ascii=False)))
        if case.only_listed and len(got) != len(expected):
            extra = "\n".join("      + " + json.dumps(got[i], ensure_ascii=False, sort_keys=True)[:300] for i in left)
            failures.append(Failure(case.loc, f"case '{case.name}': expected {len(expected)} {kind}, got {len(got)}"
                                              + (" (not listed:)" if left else ""), extra))
    return failures


def verify_cases(graph: Graph, cases: list[Case]) -> list[CaseResult]:
    results = []
    for case in cases:
        result = run_case(graph, case)
        results.append(CaseResult(case, result, compare(case, result)))
    return results
