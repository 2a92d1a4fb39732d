"""One report: read, attribute, tabulate, write (the CLI in jobs/cli/report.py only parses options)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.report.data import (
    Match,
    Progress,
    attribute,
    pick_bucket_ms,
    read_contacts,
    read_conversions,
    shares_over_time,
    tally,
)
from jobs.report.render import Table, build_tables, html_page, markdown, plots


@dataclass
class Options:
    detections_index: str
    conversions_index: str
    scenario: str | None = None
    since_ms: int | None = None
    match: Match = Match.CUSTOMER
    window_ms: int = 7 * 86_400_000
    bucket_ms: int | None = None
    key_field: str = "customer_id"
    time_field: str = "ts"
    action_field: str = "action_id"
    out_dir: str | None = None


@dataclass
class Report:
    tables: list[Table]
    markdown: str
    files: list[str]


def make_report(es: Any, opts: Options, progress: dict[str, Progress] | None = None) -> Report:
    progress = progress or {}
    contacts, bad_contacts = read_contacts(es, opts.detections_index, opts.scenario, opts.since_ms,
                                           progress.get("contacts"))
    conversions, bad_conversions = read_conversions(es, opts.conversions_index, opts.key_field, opts.time_field,
                                                    opts.action_field, opts.since_ms, progress.get("conversions"))
    converted = attribute(contacts, conversions, opts.match, opts.window_ms)
    bucket_ms = opts.bucket_ms or pick_bucket_ms(contacts)
    tables = build_tables(tally(contacts, converted), shares_over_time(contacts, bucket_ms))
    window = f"{opts.window_ms / 86_400_000:g} d" if opts.window_ms % 3_600_000 == 0 else f"{opts.window_ms} ms"
    rule = (f"a conversion counts for the customer's latest contact at most {window} before it"
            if opts.match == Match.CUSTOMER else "a conversion counts for the contact whose action id it names")
    header = [f"Contacts from `{opts.detections_index}`" + (f" (scenario {opts.scenario})" if opts.scenario else "")
              + f", conversions from `{opts.conversions_index}`: {len(contacts):,} contacts, "
              f"{len(conversions):,} conversions; {rule}."]
    if bad_contacts or bad_conversions:
        header.append(f"Not counted: {bad_contacts} contact and {bad_conversions} conversion documents without a "
                      "usable time (or experiments).")
    files: list[str] = []
    images: dict[str, list[str]] = {}
    if opts.out_dir:
        out = Path(opts.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        images = plots(tables, out)
    text = markdown(tables, header, images)
    if opts.out_dir:
        (out / "report.md").write_text(text, encoding="utf-8")
        (out / "report.html").write_text(html_page(text, out, images), encoding="utf-8")
        files = [str(out / "report.md"), str(out / "report.html"),
                 *(str(out / name) for names in images.values() for name in names)]
    return Report(tables, text, files)
