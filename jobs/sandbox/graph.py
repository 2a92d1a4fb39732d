"""A picture of a scenario: SVG drawn here (no graphviz), layered left to right by longest path from a source.

Boxes show the node id, its type and its key parameter; edges show the port (when not the default) and,
given counts from `kairos run` (counts.json) or `kairos test --json`, how many events went along them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape

from jobs.compiler.validate import Graph
from jobs.lang.model import SourceKind
from jobs.nodes import family, side_inputs, summary
from jobs.nodes.base import Family

W, H, H_COUNTS = 230, 62, 80
COL, ROW, MARGIN = W + 120, 34, 30
COLORS = {  # fill, stroke by box kind (sources, tables) or node family (jobs.nodes.base.Family)
    "source": ("#e3eefc", "#3b73c4"), "changelog": ("#e3eefc", "#3b73c4"), "reference": ("#eef2f6", "#6b7c93"),
    Family.FILTER: ("#fff6db", "#c79a1a"), Family.DECIDE: ("#f1e9fb", "#7d53b8"),
    Family.ENRICH: ("#e2f5f2", "#23897a"), Family.AGGREGATE: ("#fdebdd", "#c4661f"),
    Family.ACTION: ("#e4f6e4", "#2e8b3a"), Family.DETECTED: ("#fbe5e5", "#b83b3b"),
    Family.SPLIT: ("#f0f0f0", "#777777"),
}
LEGEND = [("source / changelog", "source"), ("reference table", "reference"), ("filter, switch", "filter"),
          ("variables, decide, call", "decide"), ("enrich", "enrich"), ("aggregate", "aggregate"),
          ("action", "action"), ("detected", "detected"), ("split, union", "split")]


@dataclass
class Box:
    id: str
    kind: str
    detail: str
    layer: int = 0
    x: float = 0
    y: float = 0


def key_parameter(node_type: str, data: dict) -> str:
    """The one thing worth reading about a node at a glance: each node module says it (`summary`)."""
    return summary(node_type, data)


def _boxes(graph: Graph) -> tuple[dict[str, Box], list[tuple[str, str, str, bool]]]:
    """Boxes and edges (upstream, port, target, is_data_edge) with longest-path layers."""
    scenario = graph.scenario
    boxes: dict[str, Box] = {}
    edges: list[tuple[str, str, str, bool]] = []
    for name, source in scenario.sources.items():
        kind = "source" if source.kind == SourceKind.EVENTS else "changelog"
        boxes[name] = Box(name, kind, f"{source.kind} · key {source.key}")
    for node_id in graph.order:
        spec = graph.specs[node_id]
        boxes[node_id] = Box(node_id, spec.type, key_parameter(spec.type, spec.data))
        layer = 0
        for edge in graph.inputs[node_id]:
            edges.append((edge.upstream, edge.port, node_id, True))
            layer = max(layer, boxes[edge.upstream].layer + 1)
        boxes[node_id].layer = layer
        for what, name in side_inputs(spec.type, spec.data):
            if what == "changelog" and name in scenario.sources:
                edges.append((name, "changelog", node_id, False))
            elif what == "table" and name in scenario.references:
                if name not in boxes:
                    boxes[name] = Box(name, "reference", f"reference · key {scenario.references[name].key}")
                edges.append((name, "lookup", node_id, False))
    for up, _, target, data_edge in edges:  # side inputs sit one layer before their first user
        if not data_edge:
            boxes[up].layer = max(0, min(boxes[up].layer or 99, boxes[target].layer - 1))
    return boxes, edges


def layout(graph: Graph) -> tuple[dict[str, Box], list[tuple[str, str, str, bool]], dict[int, list[str]]]:
    """Boxes, edges, and each layer's boxes in drawing order (top to bottom)."""
    boxes, edges = _boxes(graph)
    layers: dict[int, list[str]] = {}
    for name, box in boxes.items():
        layers.setdefault(box.layer, []).append(name)
    ups: dict[str, list[str]] = {}
    for up, _, target, _ in edges:
        ups.setdefault(target, []).append(up)
    position = {n: float(i) for layer in layers.values() for i, n in enumerate(layer)}
    for _ in range(3):  # barycentre sweeps: put each node near the nodes it reads from
        for index in sorted(layers)[1:]:
            layer = layers[index]
            bary = {n: sum(position[u] for u in ups[n]) / len(ups[n]) if ups.get(n) else position[n] for n in layer}
            layer.sort(key=lambda n: (bary[n], position[n]))
            for i, n in enumerate(layer):
                position[n] = float(i)
    return boxes, edges, layers


def read_counts(path: str) -> tuple[dict[str, dict[str, int]], dict[tuple[str, str, str], int] | None]:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if isinstance(data, dict) and isinstance(data.get("counts"), dict):  # kairos test --json
        edges = {(e["from"], e["port"], e["to"]): int(e["count"]) for e in data.get("edges", [])}
        return data["counts"], edges
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object of node -> counts")
    return data, None


def _edge_count(up: str, port: str, target: str, graph: Graph, counts: dict | None, edges: dict | None) -> int | None:
    if edges is not None:
        return edges.get((up, port, target), 0)
    if counts is not None and len(graph.inputs.get(target, [])) == 1 and target in counts:
        return counts[target].get("in", 0)  # one input: everything the target saw came along this edge
    return None


def _count_line(c: dict[str, int]) -> str:
    parts = [f"in {c.get('in', 0)}", f"out {c.get('out', 0)}"]
    parts += [f"{label} {c[k]}" for k, label in (("filtered", "filtered"), ("held", "held"), ("emitted", "emitted"),
                                                   ("dead_letter", "dead"), ("late", "late")) if c.get(k)]
    return " · ".join(parts)


def render_svg(graph: Graph, counts: dict[str, dict[str, int]] | None = None,
               edge_counts: dict[tuple[str, str, str], int] | None = None) -> str:
    boxes, edges, layers = layout(graph)
    h = H_COUNTS if counts is not None else H
    tallest = max(len(v) for v in layers.values())
    for index, layer in layers.items():
        offset = (tallest - len(layer)) * (h + ROW) / 2  # centre short layers
        for i, name in enumerate(layer):
            boxes[name].x = MARGIN + index * COL
            boxes[name].y = MARGIN + 26 + offset + i * (h + ROW)
    width = MARGIN * 2 + max(layers) * COL + W
    height = MARGIN * 2 + 26 + tallest * (h + ROW) - ROW
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="{MARGIN}" y="{MARGIN + 4}" font-size="15" font-weight="bold" fill="#222">'
           f'{escape(graph.name)}</text>']
    ports_of: dict[str, list[str]] = {}
    for up, port, _, _ in edges:
        ports_of.setdefault(up, [])
        if port not in ports_of[up]:
            ports_of[up].append(port)
    labels = []
    for up, port, target, data_edge in edges:
        a, b = boxes[up], boxes[target]
        ports = ports_of[up]
        spread = (ports.index(port) - (len(ports) - 1) / 2) * 12
        x1, y1 = a.x + W, a.y + h / 2 + spread
        x2, y2 = b.x, b.y + h / 2
        mid = (x1 + x2) / 2
        dash = "" if data_edge else ' stroke-dasharray="5,4"'
        out.append(f'<path class="edge" data-from="{escape(up)}" data-to="{escape(target)}" '
                   f'd="M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2 - 2:.1f},{y2:.1f}" '
                   f'fill="none" stroke="#555" stroke-width="1.4"{dash} marker-end="url(#arrow)"/>')
        count = _edge_count(up, port, target, graph, counts, edge_counts) if data_edge else None
        text = " · ".join(t for t in ((port if port != "out" else ""), (str(count) if count is not None else "")) if t)
        if text:
            # several ports leave one box close together: label them where they arrive, apart
            lx, ly = (x2 - 10, y2 - 6) if len(ports) > 1 else (mid, (y1 + y2) / 2 - 5)
            anchor = "end" if len(ports) > 1 else "middle"
            labels.append(f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="{anchor}" font-size="11" fill="#333" '
                          f'stroke="#fff" stroke-width="3" paint-order="stroke">{escape(text)}</text>')
    for box in boxes.values():
        # a node type without a colour of its own is drawn in its module's FAMILY (e.g. a new pattern node
        # declares FAMILY = "aggregate"): graph.py needs no change per node type
        fill, stroke = COLORS.get(box.kind) or COLORS.get(family(box.kind), ("#f6f6f6", "#888"))
        detail = box.detail if len(box.detail) <= 34 else box.detail[:33] + "…"
        out.append(f'<g class="node" id="node-{escape(box.id)}"><title>{escape(box.id)} ({box.kind}): '
                   f'{escape(box.detail)}</title>')
        out.append(f'<rect x="{box.x}" y="{box.y}" width="{W}" height="{h}" rx="7" fill="{fill}" stroke="{stroke}" '
                   f'stroke-width="1.6"/>')
        out.append(f'<text x="{box.x + 10}" y="{box.y + 19}" font-weight="bold" fill="#111">{escape(box.id)}</text>')
        out.append(f'<text x="{box.x + W - 10}" y="{box.y + 19}" text-anchor="end" font-size="11" fill="{stroke}">'
                   f'{escape(box.kind)}</text>')
        out.append(f'<text x="{box.x + 10}" y="{box.y + 39}" font-size="11.5" fill="#333">{escape(detail)}</text>')
        if counts is not None and box.id in counts:
            c = counts[box.id]
            color = "#b83b3b" if c.get("dead_letter") else "#222"
            out.append(f'<text class="counts" x="{box.x + 10}" y="{box.y + 62}" font-size="11.5" fill="{color}">'
                       f'{escape(_count_line(c))}</text>')
        out.append("</g>")
    out.extend(labels)  # last, so labels sit on top of edges and boxes
    out.append("</svg>")
    return "\n".join(out) + "\n"


def render_html(graph: Graph, svg: str, with_counts: bool) -> str:
    legend = "".join(f'<span class="key"><i style="background:{COLORS[k][0]};border-color:{COLORS[k][1]}"></i>'
                     f"{escape(label)}</span>" for label, k in LEGEND)
    counts_note = ("<p>Counts: <b>in</b> events reaching the node, <b>out</b> passed on, <b>filtered</b> stopped "
                   "(condition false, no rule), <b>held</b> waiting in state, <b>dead</b> sent to the dead-letter "
                   "output. Numbers on edges: events that went along them.</p>" if with_counts else "")
    description = escape(graph.scenario.description or "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(graph.name)} — kairos</title>
<style>
body {{ font-family: Helvetica, Arial, sans-serif; margin: 24px; color: #222; }}
.legend {{ margin: 8px 0 16px; font-size: 13px; }}
.key {{ margin-right: 16px; white-space: nowrap; }}
.key i {{ display: inline-block; width: 14px; height: 14px; border: 1.5px solid; border-radius: 3px;
  vertical-align: -2px; margin-right: 5px; }}
.figure {{ overflow-x: auto; border: 1px solid #ddd; border-radius: 6px; padding: 8px; }}
p {{ max-width: 900px; font-size: 13px; }}
</style></head><body>
<h1>{escape(graph.name)}</h1>
<p>{description}</p>
<div class="legend">{legend} <span class="key">- - - side input (changelog, reference)</span></div>
{counts_note}
<div class="figure">
{svg}</div>
</body></html>
"""
