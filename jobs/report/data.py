"""What the report counts, read from Elasticsearch, and how conversions are attributed to contacts.

Contacts are detections: actions go to Kafka only, so an action under an experiment or bandit also leaves a
`contact` detection (same id as the action) and a held-out customer a `holdout` detection (jobs/nodes/
variants.py); both carry `experiments: {experiment: variant}`. Conversions are documents of an index of
their own (the conversion topic indexed into Elasticsearch, e.g. by a Kafka Connect sink), each with the
customer, the time and optionally the action id.

Attribution (`customer`, the default, the only one that works for a control group, which got no message
to cite): a conversion goes to the customer's latest contact in the same scenario at or before it and at
most `window` before it; `action_id`: a conversion goes to the contact whose id it names. A contact has
converted when at least one conversion went to it.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from jobs.nodes.outputs import CONTROL_VARIANT as CONTROL
from jobs.nodes.outputs import ContactKind
from jobs.runtime.decode import parse_time_value

CONTACT_KINDS = tuple(ContactKind)
PAGE = 1000
Progress = Callable[[int, int], None]  # (documents read so far, total)


class Match(StrEnum):
    CUSTOMER = "customer"
    ACTION_ID = "action_id"


@dataclass(frozen=True)
class Contact:
    scenario: str
    id: str
    kind: str  # contact (sent) or holdout (would have been sent)
    key: str
    time_ms: int
    experiments: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Conversion:
    key: str | None
    time_ms: int
    action_id: str | None = None


def scan(es: Any, index: str, query: dict, source: list[str], progress: Progress | None) -> Iterator[dict]:
    """Every matching document, in pages, telling `progress` how far it got."""
    from elasticsearch import helpers

    total = es.count(index=index, query=query, ignore_unavailable=True, allow_no_indices=True)["count"]
    done = 0
    if progress:
        progress(0, total)
    for hit in helpers.scan(es, index=index, query={"query": query}, _source=source, size=PAGE,
                            ignore_unavailable=True, allow_no_indices=True, preserve_order=False):
        done += 1
        if progress and (done % PAGE == 0 or done == total):
            progress(done, total)
        yield hit["_source"]
    if progress:
        progress(done, max(total, done))


def _time(value: Any) -> int | None:
    try:
        return parse_time_value(value)
    except Exception:  # noqa: BLE001 - a document without a usable time is not counted (said in the summary)
        return None


def read_contacts(es: Any, index: str, scenario: str | None, since_ms: int | None,
                  progress: Progress | None = None) -> tuple[list[Contact], int]:
    """(contacts, documents skipped for lack of a time or of experiments)."""
    filters: list[dict] = [{"terms": {"kind": list(CONTACT_KINDS)}}]
    if scenario:
        filters.append({"term": {"scenario": scenario}})
    if since_ms is not None:
        filters.append({"range": {"time": {"gte": since_ms}}})
    found, skipped = [], 0
    fields = ["scenario", "id", "kind", "key", "time", "experiments"]
    for doc in scan(es, index, {"bool": {"filter": filters}}, fields, progress):
        ts, experiments = _time(doc.get("time")), doc.get("experiments")
        if ts is None or not isinstance(experiments, dict) or not experiments:
            skipped += 1
            continue
        found.append(Contact(str(doc.get("scenario")), str(doc.get("id")), str(doc.get("kind")), str(doc.get("key")),
                             ts, {str(k): str(v) for k, v in experiments.items()}))
    return found, skipped


def read_conversions(es: Any, index: str, key_field: str, time_field: str, action_field: str,
                     since_ms: int | None, progress: Progress | None = None) -> tuple[list[Conversion], int]:
    query: dict = {"match_all": {}}
    if since_ms is not None:
        query = {"bool": {"filter": [{"range": {time_field: {"gte": since_ms}}}]}}
    found, skipped = [], 0
    for doc in scan(es, index, query, [key_field, time_field, action_field], progress):
        ts = _time(doc.get(time_field))
        if ts is None:
            skipped += 1
            continue
        key, action = doc.get(key_field), doc.get(action_field)
        found.append(Conversion(None if key is None else str(key), ts, None if action is None else str(action)))
    return found, skipped


def attribute(contacts: list[Contact], conversions: list[Conversion], match: Match, window_ms: int) -> set[str]:
    """The ids of the contacts that converted (see the module doc for the rule)."""
    if match == Match.ACTION_ID:
        named = {c.action_id for c in conversions if c.action_id is not None}
        return {c.id for c in contacts if c.id in named}
    by_key: dict[str, list[tuple[int, str, str]]] = defaultdict(list)  # key -> [(time, id, scenario)]
    for c in contacts:
        by_key[c.key].append((c.time_ms, c.id, c.scenario))
    for timeline in by_key.values():
        timeline.sort()
    converted: set[str] = set()
    for conv in conversions:
        timeline = by_key.get(conv.key) if conv.key is not None else None
        if not timeline:
            continue
        at = bisect.bisect_right(timeline, (conv.time_ms, "\U0010ffff", "\U0010ffff"))
        latest: set[str] = set()  # the latest contact of each scenario at or before the conversion
        for t, contact_id, scenario in reversed(timeline[:at]):
            if conv.time_ms - t > window_ms:
                break
            if scenario not in latest:
                latest.add(scenario)
                converted.add(contact_id)
    return converted


@dataclass
class Group:
    contacts: int = 0
    conversions: int = 0


def tally(contacts: list[Contact], converted: set[str]) -> dict[tuple[str, str], dict[str, Group]]:
    """(scenario, experiment) -> variant -> counts. A hold-out counts only in the experiment that held it out
    (its `control` variant): in every other experiment on its path it was not contacted at all."""
    table: dict[tuple[str, str], dict[str, Group]] = defaultdict(lambda: defaultdict(Group))
    for c in contacts:
        for experiment, variant in c.experiments.items():
            if c.kind == ContactKind.HOLDOUT and variant != CONTROL:
                continue
            group = table[(c.scenario, experiment)][variant]
            group.contacts += 1
            group.conversions += c.id in converted
    return table


def shares_over_time(contacts: list[Contact], bucket_ms: int) -> dict[tuple[str, str], dict[int, dict[str, int]]]:
    """(scenario, experiment) -> bucket start (epoch ms) -> variant -> contacts sent in that bucket."""
    out: dict[tuple[str, str], dict[int, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for c in contacts:
        if c.kind != ContactKind.CONTACT:
            continue
        start = c.time_ms - c.time_ms % bucket_ms
        for experiment, variant in c.experiments.items():
            out[(c.scenario, experiment)][start][variant] += 1
    return out


def pick_bucket_ms(contacts: list[Contact], buckets: int = 24) -> int:
    """The smallest of 1 min, 5 min, 15 min, 1 h, 6 h, 1 d, 7 d that cuts the contacts' span into <= buckets."""
    if not contacts:
        return 3_600_000
    span = max(c.time_ms for c in contacts) - min(c.time_ms for c in contacts)
    for size in (60_000, 300_000, 900_000, 3_600_000, 21_600_000, 86_400_000):
        if span / size < buckets:
            return size
    return 7 * 86_400_000
