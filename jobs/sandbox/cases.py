"""Scenario test cases: `NAME.tests.yaml` beside `NAME.yaml`, read with positions so mistakes say file:line:col.

A file is a list of cases:

  - name: big spender is flagged
    events: [{txn_id: t1, ...}, ...]            # or [{source: atm, event: {...}}, ...] with several sources
    changelog: {profiles: [{...}]}              # optional
    reference: {branches: [{...}]}              # optional: rows of a reference table
    expect:
      actions: [{channel: sms, payload: {product: personal_loan}}]   # partial records: listed keys must match
      detected: []
      dead_letter: [{node: velocity}]
      only_listed: true                         # default: counts must match exactly; absent kinds mean none
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from jobs.lang import params as P
from jobs.lang.errors import Collector, Location
from jobs.lang.loader import YList, YMap, load_yaml
from jobs.lang.model import Scenario, SourceKind

KINDS = ("actions", "detected", "dead_letter")
CASE_KEYS = ("name", "description", "events", "changelog", "reference", "expect")
EXPECT_KEYS = (*KINDS, "only_listed")


@dataclass
class Case:
    name: str
    loc: Location
    events: dict[str, list[str]] = field(default_factory=dict)  # source -> JSON lines, in the order written
    changelog: dict[str, list[str]] = field(default_factory=dict)
    reference: dict[str, list[str]] = field(default_factory=dict)
    expect: dict[str, list[tuple[Any, Location]]] = field(default_factory=dict)
    only_listed: bool = True


def tests_file_for(scenario_path: str | Path) -> Path:
    path = Path(scenario_path)
    return path.with_name(path.name.removesuffix(".yaml").removesuffix(".yml") + ".tests.yaml")


def scenario_file_for(tests_path: str | Path) -> Path:
    path = Path(tests_path)
    return path.with_name(path.name.removesuffix(".tests.yaml") + ".yaml")


def plain(value: Any) -> Any:
    """YAML values as JSON would carry them: unquoted timestamps become ISO-8601 text."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _line(item: Any) -> str:
    # a string item is sent as written, so a case can feed broken JSON to test the dead-letter path
    return item if isinstance(item, str) else json.dumps(plain(item), ensure_ascii=False)


def _records(raw: Any, loc: Location, errors: Collector, what: str) -> YList | None:
    if not isinstance(raw, YList):
        errors.error(loc, f"{what} must be a list")
        return None
    return raw


def _read_events(raw: Any, loc: Location, scenario: Scenario, case: Case, errors: Collector) -> None:
    items = _records(raw, loc, errors, "'events'")
    if items is None:
        return
    sources = [n for n, s in scenario.sources.items() if s.kind == SourceKind.EVENTS]
    for i, item in enumerate(items):
        where = items.item_loc(i)
        if isinstance(item, YMap) and set(item) == {"source", "event"}:
            source = item["source"]
            if source not in sources:
                errors.error(item.value_loc("source"), f"'{source}' is not an events source of scenario "
                             f"'{scenario.name}'{P.did_you_mean(str(source), sources)}")
                continue
            event = item["event"]
        elif len(sources) == 1:
            source, event = sources[0], item
        else:
            errors.error(where, f"scenario '{scenario.name}' has several event sources ({', '.join(sources)}): "
                         "write each event as {source: NAME, event: {...}}")
            continue
        if not isinstance(event, (YMap, str)):
            errors.error(where, "an event must be a mapping (or a string: a raw input line)")
            continue
        case.events.setdefault(source, []).append(_line(event))


def _read_tables(raw: Any, loc: Location, names: list[str], what: str, errors: Collector) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if not isinstance(raw, YMap):
        errors.error(loc, f"'{what}' must be a mapping of names to lists of records")
        return out
    for name, rows in raw.items():
        if name not in names:
            errors.error(raw.key_loc(name), f"'{name}' is not a {what} of this scenario"
                         f"{P.did_you_mean(name, names) or (' (it has: ' + ', '.join(names) + ')' if names else '')}")
            continue
        items = _records(rows, raw.value_loc(name), errors, f"'{what}.{name}'")
        if items is not None:
            out[name] = [_line(item) for item in items]
    return out


def _read_expect(raw: Any, loc: Location, case: Case, errors: Collector) -> None:
    if not isinstance(raw, YMap):
        errors.error(loc, "'expect' must be a mapping with actions, detected and/or dead_letter")
        return
    for key in raw:
        if key not in EXPECT_KEYS:
            errors.error(raw.key_loc(key), f"unknown key '{key}' in expect{P.did_you_mean(key, list(EXPECT_KEYS))}")
    if "only_listed" in raw:
        if not isinstance(raw["only_listed"], bool):
            errors.error(raw.value_loc("only_listed"), "'only_listed' must be true or false")
        else:
            case.only_listed = raw["only_listed"]
    for kind in KINDS:
        if kind not in raw:
            continue
        items = _records(raw[kind], raw.value_loc(kind), errors, f"'expect.{kind}'")
        if items is None:
            continue
        for i, item in enumerate(items):
            if not isinstance(item, YMap):
                errors.error(items.item_loc(i), f"each expected {kind} record must be a mapping of keys to values")
        case.expect[kind] = [(plain(item), items.item_loc(i)) for i, item in enumerate(items)]


def read_cases(path: str | Path, scenario: Scenario) -> list[Case]:
    """Parse a tests.yaml file against its scenario; raises ScenarioError listing every problem."""
    errors = Collector()
    root = load_yaml(path)
    if not isinstance(root, YList):
        errors.error(getattr(root, "loc", Location(str(path), 1, 1)), "a tests file must be a list of cases")
        errors.raise_if_any()
    cases, names = [], set()
    changelogs = [n for n, s in scenario.sources.items() if s.kind == SourceKind.CHANGELOG]
    for i, raw in enumerate(root):
        where = root.item_loc(i)
        if not isinstance(raw, YMap):
            errors.error(where, "each case must be a mapping with name, events and expect")
            continue
        for key in raw:
            if key not in CASE_KEYS:
                errors.error(raw.key_loc(key), f"unknown key '{key}' in a case{P.did_you_mean(key, list(CASE_KEYS))}")
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            errors.error(raw.value_loc("name") if "name" in raw else raw.loc, "a case needs a 'name'")
            name = f"case {i + 1}"
        elif name in names:
            errors.error(raw.value_loc("name"), f"case name '{name}' is used twice")
        names.add(name)
        case = Case(name, raw.loc)
        for key in ("events", "expect"):
            if key not in raw:
                errors.error(raw.loc, f"case '{name}' needs '{key}'")
        if "events" in raw:
            _read_events(raw["events"], raw.value_loc("events"), scenario, case, errors)
        if "changelog" in raw:
            case.changelog = _read_tables(raw["changelog"], raw.value_loc("changelog"), changelogs, "changelog",
                                          errors)
        if "reference" in raw:
            case.reference = _read_tables(raw["reference"], raw.value_loc("reference"),
                                          list(scenario.references), "reference", errors)
        if "expect" in raw:
            _read_expect(raw["expect"], raw.value_loc("expect"), case, errors)
        cases.append(case)
    errors.raise_if_any()
    return cases
