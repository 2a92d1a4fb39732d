"""Stage 1: read a scenario YAML file into plain containers that remember where each value was written.

dbt loses positions once YAML is loaded; we keep them so every later error can say `file:line:col`.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from jobs.compiler.errors import Diagnostic, Location, ScenarioError


class YMap(dict):
    """A YAML mapping: a dict that also knows where it and each of its keys and values stand."""

    loc: Location
    key_locs: dict[str, Location]
    value_locs: dict[str, Location]

    def key_loc(self, key: str) -> Location:
        return self.key_locs.get(key, self.loc)

    def value_loc(self, key: str) -> Location:
        return self.value_locs.get(key, self.loc)


class YList(list):
    """A YAML sequence: a list that also knows where it and each item stand."""

    loc: Location
    item_locs: list[Location]

    def item_loc(self, index: int) -> Location:
        return self.item_locs[index] if index < len(self.item_locs) else self.loc


def _loc(file: str, node: yaml.Node) -> Location:
    mark = node.start_mark
    return Location(file, mark.line + 1, mark.column + 1)


def _content_loc(file: str, node: yaml.Node) -> Location:
    """Where a value's text starts: inside the quotes of a quoted scalar, so expression offsets line up."""
    loc = _loc(file, node)
    if isinstance(node, yaml.ScalarNode) and node.style in ("'", '"'):
        return Location(loc.file, loc.line, loc.col + 1)
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        return Location(loc.file, loc.line + 1, loc.col)
    return loc


def _convert(file: str, node: yaml.Node, loader: yaml.SafeLoader) -> object:
    if isinstance(node, yaml.MappingNode):
        out = YMap()
        out.loc, out.key_locs, out.value_locs = _loc(file, node), {}, {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or isinstance(key, bool):
                raise ScenarioError([Diagnostic(_loc(file, key_node), "mapping keys must be plain names")])
            key = str(key)
            if key in out:
                raise ScenarioError([Diagnostic(_loc(file, key_node), f"duplicate key '{key}'")])
            out[key] = _convert(file, value_node, loader)
            out.key_locs[key], out.value_locs[key] = _loc(file, key_node), _content_loc(file, value_node)
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = YList(_convert(file, item, loader) for item in node.value)
        seq.loc, seq.item_locs = _loc(file, node), [_content_loc(file, item) for item in node.value]
        return seq
    return loader.construct_object(node, deep=True)


def load_yaml(path: str | Path, text: str | None = None) -> object:
    """Parse one YAML document, raising ScenarioError with the position of any syntax error."""
    file = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError([Diagnostic(Location(file, 1, 1), f"cannot read file: {exc.strerror}")]) from None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise ScenarioError([Diagnostic(Location(file, 1, 1), "the file is empty")])
        return _convert(file, root, loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
        raise ScenarioError([Diagnostic(where, f"YAML syntax error: {exc.problem or exc.context}")]) from None
    finally:
        loader.dispose()
