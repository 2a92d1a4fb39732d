"""`kairos report`: conversion rates per experiment variant and bandit arm, from Elasticsearch.

  kairos report --es URL [--scenario S] [--since 7d | 2026-11-01T00:00:00Z] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import time

from jobs.cli.registry import command, console


def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--es", metavar="URL", required=True, help="Elasticsearch URL")
    p.add_argument("--scenario", help="only this scenario (default: every scenario's detections index)")
    p.add_argument("--since", metavar="WHEN", help="only contacts and conversions from then on: an ISO time or a "
                   "duration back from now (7d, 12h)")
    p.add_argument("--conversions", default="conversions", metavar="INDEX", help="the conversions index")
    p.add_argument("--conversion-key", default="customer_id", metavar="FIELD", help="its customer field")
    p.add_argument("--conversion-time", default="ts", metavar="FIELD", help="its time field")
    p.add_argument("--conversion-action", default="action_id", metavar="FIELD", help="its action id field")
    p.add_argument("--match", choices=("customer", "action_id"), default="customer",
                   help="attribute a conversion to the customer's latest contact (default; the only way for a "
                        "control group) or to the action whose id it names")
    p.add_argument("--window", default="7d", help="customer matching: how long after a contact a conversion counts")
    p.add_argument("--bucket", help="time step of the shares over time (default: at most 24 steps)")
    p.add_argument("--index", help="the detections index (default: from --scenario and --prefix)")
    p.add_argument("--prefix", default="", help="the name prefix the job ran with (--prefix of run / submit)")
    p.add_argument("--secrets", action="append", metavar="FILE", help="KAIROS_ES_* credentials file")
    p.add_argument("--out", default="report", metavar="DIR", help="where report.md, report.html and the PNGs go")


def _when(text: str | None, now_ms: int) -> int | None:
    from jobs.lang.params import parse_duration_ms
    from jobs.runtime.decode import parse_time_value

    if text is None:
        return None
    back = parse_duration_ms(text)
    return now_ms - back if back is not None else parse_time_value(text)


def _report(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from jobs.config.naming import Naming
    from jobs.config.settings import SettingsError, load_connections
    from jobs.lang.params import parse_duration_ms
    from jobs.report.build import Options, make_report
    from jobs.report.data import Match

    try:
        since_ms = _when(args.since, int(time.time() * 1000))
    except Exception as exc:  # noqa: BLE001
        print(f"kairos report: --since: {exc}", file=sys.stderr)
        return 2
    window_ms, bucket_ms = parse_duration_ms(args.window), parse_duration_ms(args.bucket) if args.bucket else None
    if not window_ms or (args.bucket and not bucket_ms):
        print("kairos report: --window and --bucket take a duration like 30m, 12h or 7d", file=sys.stderr)
        return 2
    try:
        conns = load_connections(None, args.es, args.secrets)
    except SettingsError as exc:
        print(f"kairos report: {exc}", file=sys.stderr)
        return 2
    naming = Naming(args.scenario or "", args.prefix)
    index = args.index or (naming.index if args.scenario else naming.index_pattern)
    opts = Options(index, args.prefix + args.conversions, args.scenario, since_ms, Match(args.match), window_ms,
                   bucket_ms, args.conversion_key, args.conversion_time, args.conversion_action, args.out)
    es = conns.es.client()
    out = console()
    try:
        with Progress(console=out, transient=True) as bar:
            tasks = {name: bar.add_task(f"reading {name}", total=None) for name in ("contacts", "conversions")}
            progress = {name: (lambda done, total, t=task: bar.update(t, completed=done, total=total))
                        for name, task in tasks.items()}
            report = make_report(es, opts, progress)
    finally:
        es.close()
    out.print(report.markdown, markup=False)
    for path in report.files:
        out.print(f"wrote {path}", markup=False)
    return 0


command("report", "conversion rates per experiment variant and bandit arm, from Elasticsearch")((_report_args, _report))
