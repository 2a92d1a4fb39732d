"""File inputs and outputs of embedded runs: reference tables, merged input order, canonical output order."""

from __future__ import annotations

import csv
import heapq
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jobs.compiler.plan import Plan, make_plan
from jobs.compiler.validate import load
from jobs.lang.model import Reference, Scenario, SourceKind
from jobs.lang.paths import ReferenceFileError
from jobs.lang.types import ANY
from jobs.runtime.decode import (
    MAX_EVENT_CHARS,
    MIN_TS,
    DecodeError,
    cell,
    coerce,
    decode_record,
    parse_json,
    parse_timestamp,
)
from jobs.runtime.rawline import unwrap_line, wrap_line


class InputError(Exception):
    """A problem with the files given on the command line (not with the scenario)."""


def load_reference(reference: Reference, path: str | Path) -> dict[str, dict[str, Any]]:
    """Rows of a reference table by key. CSV needs a header row; anything else is read as JSON lines.

    Any problem with the file is an InputError naming the file and line: it is the user's data, not a bug.
    """
    path = Path(path)
    where = f"reference '{reference.name}': {path}"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{where}: cannot read it: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{where}:{line}: byte 0x{data[exc.start]:02X} is not valid UTF-8 "
                         "(save the file as UTF-8)") from None
    rows: dict[str, dict[str, Any]] = {}
    number = 1
    try:
        if path.suffix.lower() == ".csv":
            reader = csv.DictReader(text.splitlines())
            for number, row in enumerate(reader, start=2):
                record = {name: cell(t, row.get(name) or "", name) for name, t in reference.schema.fields.items()}
                _add_row(rows, reference, record, f"{path}:{number}")
        else:
            for number, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    _add_row(rows, reference, decode_record(reference.schema, parse_json(line)), f"{path}:{number}")
    except (DecodeError, csv.Error, ValueError, TypeError, RecursionError) as exc:
        raise InputError(f"{where}:{number}: {exc}") from None
    return rows


def _add_row(rows: dict, reference: Reference, record: dict, where: str) -> None:
    key = record.get(reference.key)
    if key is None:
        raise InputError(f"{where}: reference '{reference.name}' row without key '{reference.key}'")
    rows[str(key)] = record


def bind_references(plan: Plan, paths: dict[str, str]) -> None:
    """Put each reference table's rows into the nodes that use it (`tables()`; shipped with the job).

    `paths` (--reference NAME=FILE, a test case's rows) are read as given: the user chose them. A table's
    own `file:` is checked again here, as at validation: it must be inside the scenario's directory tree.
    """
    scenario = plan.scenario
    for node in plan.runtimes.values():
        for table in node.tables():
            reference = scenario.references[table]
            path = paths.get(table)  # given by the user (or a test case): read as given
            if path is None and reference.file is not None:
                try:
                    path = scenario.reference_file(reference)
                except ReferenceFileError as exc:
                    raise InputError(f"reference '{table}': {exc}") from None
            if path is None:
                raise InputError(f"reference '{table}' needs a file: --reference {table}=FILE")
            node.bind_table(table, load_reference(reference, path))


def parse_pairs(options: list[str], what: str) -> dict[str, str]:
    """`NAME=FILE` options (`--reference`) to {name: file}."""
    pairs = {}
    for option in options:
        name, sep, path = option.partition("=")
        if not sep:
            raise InputError(f"--{what} needs NAME=FILE, got '{option}'")
        pairs[name] = path
    return pairs


def load_plan(scenario: str, events: list[str], changelogs: list[str], references: list[str]) -> tuple[Plan, dict]:
    """What a file run does first (kairos run / test / verify / graph, the cluster entry point): the compiled
    plan, with its reference tables bound, and {source: file} from the `--events` / `--changelog` options.
    Raises ScenarioError (the scenario: exit 1) or InputError (the options and files: exit 2)."""
    given = parse_pairs(references, "reference")
    graph = load(scenario, given_references=given)
    plan = make_plan(graph)
    files = resolve_event_files(graph.scenario, events, changelogs)
    bind_references(plan, given)
    return plan, files


def resolve_event_files(scenario: Scenario, events: list[str], changelogs: list[str]) -> dict[str, str]:
    """`[SOURCE=]FILE` options to {source: file}; the source may be left out when there is one events source."""
    event_sources = [n for n, s in scenario.sources.items() if s.kind == SourceKind.EVENTS]
    files: dict[str, str] = {}
    for option, kind in [(e, SourceKind.EVENTS) for e in events] + [(c, SourceKind.CHANGELOG) for c in changelogs]:
        name, sep, path = option.partition("=")
        if not sep:
            if kind != SourceKind.EVENTS or len(event_sources) != 1:
                raise InputError(f"'{option}': say which source, as NAME=FILE (sources: {', '.join(scenario.sources)})")
            name, path = event_sources[0], option
        source = scenario.sources.get(name)
        if source is None or source.kind != kind:
            raise InputError(f"'{name}' is not a {kind} source of scenario '{scenario.name}'")
        if not Path(path).is_file():
            raise InputError(f"no such file: {path}")
        files[name] = path
    missing = [n for n in event_sources if n not in files]
    if missing:
        raise InputError(f"no events file for source(s): {', '.join(missing)} (use --events NAME=FILE)")
    return files


def _line_facts(scenario: Scenario, source: str, line: str | bytes | None) -> tuple[int, str]:
    """(time, key) of a raw line as the entry will decode them: the minimum time when it has none (a broken
    line goes out at once, to the dead-letter output), "" when it has no key."""
    if line is None or len(line) > MAX_EVENT_CHARS:
        return MIN_TS, ""
    spec = scenario.sources[source]
    try:
        data = json.loads(line)
    except Exception:  # noqa: BLE001 - not UTF-8, not JSON, nested too deep: the entry says which
        return MIN_TS, ""
    if not isinstance(data, dict):
        return MIN_TS, ""
    try:
        value = data.get(spec.time)
        ts = parse_timestamp(value) if value is not None else MIN_TS
    except Exception:  # noqa: BLE001
        ts = MIN_TS
    try:
        key = coerce(spec.schema.fields.get(spec.key, ANY), data.get(spec.key), spec.key)
    except Exception:  # noqa: BLE001
        key = None
    return ts, "" if key is None else str(key)


def merged_inputs(scenario: Scenario, files: dict[str, str]) -> Iterator[tuple[str, str]]:
    """All input lines in one deterministic order: a merge by time that keeps each file's own order.

    At each step the file whose next line has the smallest time goes first (changelogs before events on a
    tie), so out-of-order events stay out of order, and a changelog update is seen by later events only.
    Files are read as bytes and split on \n (or \r\n) only: a raw \r stays inside its line, a line that is not UTF-8
    is one dead letter, a blank line too (it is counted, never skipped). Lines come as transport text
    (rawline.wrap_line): the entry turns them back into the exact bytes.
    """
    for name, line, _, _ in timed_inputs(scenario, files):
        yield name, line


def line_time(scenario: Scenario, source: str, line: str) -> int:
    """The event time of a line as merged_inputs gives it (transport text), or the minimum for a line that has
    none: the file-run watermark stamp, the same as timed_inputs computes from the raw bytes."""
    return _line_facts(scenario, source, unwrap_line(line))[0]


def timed_inputs(scenario: Scenario, files: dict[str, str]) -> Iterator[tuple[str, str, int, str]]:
    """merged_inputs with each line's time (the minimum when it has none) and key ("" when it has none)."""
    def lines(name: str, path: str) -> Iterator[tuple[int, int, str, int, str, str]]:
        rank = 0 if scenario.sources[name].kind == SourceKind.CHANGELOG else 1
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle):
                raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1] if raw.endswith(b"\n") else raw
                ts, key = _line_facts(scenario, name, raw)
                yield ts, rank, name, number, wrap_line(raw), key

    streams = [lines(name, path) for name, path in sorted(files.items())]
    for ts, _, name, _, line, key in heapq.merge(*streams, key=lambda item: item[:4]):
        yield name, line, ts, key


def canonical(records: list[dict]) -> list[dict]:
    """Outputs in a stable order whatever the engine's interleaving: by time, then the whole record."""
    return sorted(records, key=lambda r: (str(r.get("time")), json.dumps(r, sort_keys=True)))
