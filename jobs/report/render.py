"""The report's tables, its Markdown summary, PNG plots and one HTML page."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from jobs.nodes.outputs import CONTROL_VARIANT as CONTROL
from jobs.report.data import Group
from jobs.report.stats import Interval, difference, wilson


@dataclass
class Row:
    variant: str
    contacts: int
    conversions: int
    rate: Interval | None
    uplift: Interval | None  # rate - control rate (None: no control group, or this is it)


@dataclass
class Table:
    scenario: str
    experiment: str
    rows: list[Row]
    shares: dict[int, dict[str, int]]  # bucket start -> variant -> contacts sent


def build_tables(tally: dict[tuple[str, str], dict[str, Group]],
                 shares: dict[tuple[str, str], dict[int, dict[str, int]]]) -> list[Table]:
    tables = []
    for (scenario, experiment), groups in sorted(tally.items()):
        control = groups.get(CONTROL)
        rows = []
        for variant in sorted(groups, key=lambda v: (v == CONTROL, v)):
            g = groups[variant]
            uplift = None
            if control is not None and variant != CONTROL:
                uplift = difference(g.conversions, g.contacts, control.conversions, control.contacts)
            rows.append(Row(variant, g.contacts, g.conversions, wilson(g.conversions, g.contacts), uplift))
        tables.append(Table(scenario, experiment, rows, dict(shares.get((scenario, experiment), {}))))
    return tables


def pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _interval(i: Interval | None, points: bool = False) -> str:
    if i is None:
        return "–"
    if points:  # a difference of rates, in percentage points
        return f"{100 * i.estimate:+.2f} pp [{100 * i.low:+.2f}, {100 * i.high:+.2f}]"
    return f"{pct(i.estimate)} [{pct(i.low)}, {pct(i.high)}]"


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def slug(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", "-".join(parts))


def markdown(tables: list[Table], header: list[str], images: dict[str, list[str]] | None = None) -> str:
    lines = ["# Outcome report", "", *header, ""]
    if not tables:
        lines.append("No contacts under an experiment or bandit were found.")
    for t in tables:
        lines += [f"## {t.scenario} / {t.experiment}", "",
                  "| variant | contacts | conversions | rate [95% CI] | uplift over control [95% CI] |",
                  "|---|---:|---:|---|---|"]
        for r in t.rows:
            lines.append(f"| {r.variant} | {r.contacts:,} | {r.conversions:,} | {_interval(r.rate)} | "
                         f"{_interval(r.uplift, points=True)} |")
        if len(t.shares) > 1:
            variants = sorted({v for counts in t.shares.values() for v in counts})
            lines += ["", "Shares of the contacts sent, over time:", "",
                      "| from (UTC) | " + " | ".join(variants) + " | contacts |",
                      "|---|" + "---:|" * (len(variants) + 1)]
            for start in sorted(t.shares):
                counts = t.shares[start]
                total = sum(counts.values())
                lines.append(f"| {_when(start)} | " + " | ".join(f"{100 * counts.get(v, 0) / total:.0f}%"
                                                                  for v in variants) + f" | {total:,} |")
        for image in (images or {}).get(slug(t.scenario, t.experiment), []):
            lines += ["", f"![{t.scenario} / {t.experiment}]({image})"]
        lines.append("")
    lines += ["Rates: Wilson score intervals; uplift: the difference to the control group's rate with Newcombe's "
              "hybrid score interval (95%)."]
    return "\n".join(lines) + "\n"


def plots(tables: list[Table], out_dir: Path) -> dict[str, list[str]]:
    """rates-*.png (bars with intervals) and shares-*.png (share of contacts per bucket) per table."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, and the same output on every machine
    import matplotlib.pyplot as plt

    made: dict[str, list[str]] = {}
    for t in tables:
        name = slug(t.scenario, t.experiment)
        rated = [r for r in t.rows if r.rate is not None]
        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.bar([r.variant for r in rated], [100 * r.rate.estimate for r in rated],
               yerr=[[100 * (r.rate.estimate - r.rate.low) for r in rated],
                     [100 * (r.rate.high - r.rate.estimate) for r in rated]], capsize=4,
               color=["#9aa5b1" if r.variant == CONTROL else "#3b82c4" for r in rated])
        ax.set_ylabel("conversion rate (%)")
        ax.set_title(f"{t.scenario} / {t.experiment}")
        fig.tight_layout()
        fig.savefig(out_dir / f"rates-{name}.png", dpi=100)
        plt.close(fig)
        made[name] = [f"rates-{name}.png"]
        if len(t.shares) > 1:
            starts = sorted(t.shares)
            variants = sorted({v for counts in t.shares.values() for v in counts})
            totals = [sum(t.shares[s].values()) for s in starts]
            fig, ax = plt.subplots(figsize=(7, 3.2))
            ax.stackplot([datetime.fromtimestamp(s / 1000, tz=timezone.utc) for s in starts],
                         *[[100 * t.shares[s].get(v, 0) / n for s, n in zip(starts, totals, strict=True)]
                           for v in variants], labels=variants)
            ax.set_ylabel("share of contacts (%)")
            ax.set_ylim(0, 100)
            ax.legend(loc="upper left", fontsize="small")
            ax.set_title(f"{t.experiment}: shares over time")
            fig.autofmt_xdate()
            fig.tight_layout()
            fig.savefig(out_dir / f"shares-{name}.png", dpi=100)
            plt.close(fig)
            made[name].append(f"shares-{name}.png")
    return made


def html_page(markdown_text: str, out_dir: Path, images: dict[str, list[str]]) -> str:
    """A self-contained page: the summary's tables as HTML, the plots inline (no files to carry along)."""
    body, in_table = [], False
    for line in markdown_text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set("".join(cells)) <= set("-:"):
                continue
            tag = "th" if not in_table else "td"
            body.append(("<table>" if not in_table else "") + "<tr>" +
                        "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>")
            in_table = True
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        match = re.match(r"!\[(.*)\]\((.*)\)", line)
        if match:
            data = base64.b64encode((out_dir / match.group(2)).read_bytes()).decode("ascii")
            body.append(f'<img alt="{html.escape(match.group(1))}" src="data:image/png;base64,{data}">')
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line.lstrip('# '))}</h{level}>")
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    if in_table:
        body.append("</table>")
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}td:first-child{text-align:left}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>kairos report</title><style>{style}"
            f"</style></head><body>{''.join(body)}</body></html>\n")
