"""Showing a traced run: rich tables and trees for people, one JSON document for tools."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from jobs.sandbox.trace import EventTrace, Step, TraceResult

COUNT_COLUMNS = ("in", "out", "filtered", "dead_letter", "held")
STYLE = {"out": "green", "emitted": "green", "filtered": "yellow", "held": "cyan", "dead_letter": "red",
         "late": "red"}


def _short(value: Any, width: int = 70) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def shown_events(result: TraceResult, limit: int | None) -> list[EventTrace]:
    return result.events if limit is None else result.events[:limit]


def to_json(result: TraceResult, limit: int | None) -> dict[str, Any]:
    """Everything `kairos test --json` prints; `counts` has the shape of the counts.json `kairos run` writes."""
    def trace(t: EventTrace) -> dict[str, Any]:
        return {"index": t.index, "source": t.source, "id": t.id, "event": t.event,
                "path": [_step(s) for s in t.steps], "actions": t.actions, "detected": t.detected,
                "dead_letter": t.dead_letter}

    return {
        "scenario": result.scenario, "seconds": round(result.seconds, 4), "input_lines": len(result.events),
        "counts": result.counts,
        "edges": [{"from": u, "port": p, "to": v, "count": n} for (u, p, v), n in sorted(result.edges.items())],
        "events": [trace(t) for t in shown_events(result, limit)],
        "emitted": [trace(t) for t in result.emitted.values()],
        "totals": {"actions": len(result.actions), "detected": len(result.detected),
                   "dead_letter": len(result.dead_letter)},
    }


def _step(s: Step) -> dict[str, Any]:
    out: dict[str, Any] = {"node": s.node, "type": s.type, "outcome": s.outcome, "ports": s.ports, "vars": s.vars}
    if s.error:
        out["error"] = s.error
    if s.timer:
        out["timer"] = True
    return out


def counts_table(result: TraceResult, order: list[str]) -> Table:
    table = Table(title=f"{result.scenario}: {len(result.events)} input lines in {result.seconds * 1000:.0f} ms")
    table.add_column("node")
    for column in COUNT_COLUMNS:
        table.add_column(column.replace("_", " "), justify="right")
    for name in [n for n in order if n in result.counts]:
        c = result.counts[name]
        cells = [str(c.get(k, 0)) if c.get(k, 0) else "[dim]0[/dim]" for k in COUNT_COLUMNS]
        if c.get("late"):
            cells[3] += f" ({c['late']} late)"
        table.add_row(escape(name), *cells)
    return table


def _step_label(step: Step, previous: dict[str, Any]) -> str:
    style = STYLE.get(step.outcome, "white")
    ports = [p for p in step.ports if p != "out"]
    label = f"[bold]{escape(step.node)}[/bold] [dim]{step.type}[/dim] → [{style}]{step.outcome}[/{style}]"
    if ports:
        label += f" [magenta]port {escape(', '.join(ports))}[/magenta]"
    if step.timer:
        label += " [dim](on timer)[/dim]"
    changed = {k: v for k, v in step.vars.items() if k not in previous or previous[k] != v}
    if changed and step.outcome in ("out", "emitted", "held"):
        label += "\n" + "\n".join(f"  [cyan]{escape(k)}[/cyan] = {escape(_short(v))}" for k, v in changed.items())
    if step.error:
        label += f"\n  [red]{escape(step.error)}[/red]"
    return label


def event_tree(trace: EventTrace) -> Tree:
    head = f"[bold]#{trace.index}[/bold] {escape(trace.source)}"
    head += f" id={escape(trace.id)}" if trace.id else ""
    tree = Tree(head + "  " + escape(_short(trace.event, 110)))
    event = trace.event if isinstance(trace.event, dict) else {}
    previous: dict[str, Any] | None = None
    for step in trace.steps:
        if previous is None:  # decoded fields (e.g. ISO times now epoch ms) are not news: show new names only
            previous = {k: v for k, v in step.vars.items() if k in event}
        tree.add(_step_label(step, previous))
        if step.outcome in ("out", "emitted"):
            previous = step.vars
    for kind, records, style in (("action", trace.actions, "green"), ("detected", trace.detected, "blue"),
                                 ("dead letter", trace.dead_letter, "red")):
        for record in records:
            brief = record if kind != "dead letter" else {"node": record.get("node"), "error": record.get("error")}
            if kind == "action":
                brief = {k: record.get(k) for k in ("channel", "to", "time", "payload")}
            elif kind == "detected":
                brief = {k: record.get(k) for k in ("kind", "key", "fields")}
            tree.add(f"[{style}]{kind}[/{style}] {escape(_short(brief, 140))}")
    return tree


def render(console: Console, result: TraceResult, limit: int | None, order: list[str], changelogs: set[str]) -> None:
    console.print(counts_table(result, order))
    events = shown_events(result, limit)
    for trace in events:
        if trace.source in changelogs and not trace.dead_letter:  # an update only changes state: one line
            console.print(f"[dim]#{trace.index} {escape(trace.source)} update {escape(_short(trace.event, 100))}[/dim]")
            continue
        console.print(event_tree(trace))
    for trace in result.emitted.values():
        if trace.steps or trace.actions or trace.detected:
            tree = event_tree(trace)
            tree.label = f"[bold]timer[/bold] {escape(trace.id or '')}"
            console.print(tree)
    hidden = len(result.events) - len(events)
    if hidden > 0:
        console.print(f"[dim]… {hidden} more input lines not shown (use --all or --limit N)[/dim]")
    console.print(f"[bold]totals[/bold]: {len(result.actions)} actions, {len(result.detected)} detected, "
                  f"{len(result.dead_letter)} dead letters")

