"""Stage 1: read a scenario YAML file into plain containers that remember where each value was written.

dbt loses positions once YAML is loaded; we keep them so every later error can say `file:line:col`.

A scenario file may come from anyone, so reading one is bounded: at most MAX_FILE_BYTES of UTF-8 text,
values nested at most MAX_DEPTH deep, and at most MAX_VALUES values once aliases are expanded (a 718-byte
"billion laughs" file expands to 10^9 values: it is stopped at the alias that crosses the limit, having
expanded nothing). The example scenarios and their test files hold 80-481 values, 6-7 levels deep, in at
most 4.4 KB: the limits are 100x above them, and within them loading costs at most about 1.5 s of CPU
and 80 MB (50,000 one-character values, measured; 1 MiB of text costs about 1 s).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NoReturn

import yaml

from jobs.lang import yaml_text
from jobs.lang.errors import Diagnostic, Location, ScenarioError

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_VALUES = 50_000
_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")  # a tag on a mapping or list is refused
_SURROGATE = re.compile("[\ud800-\udfff]")  # a "\\ud800" escape: a str that no UTF-8 writer can write


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


class _Refused(Exception):
    """The file breaks one of the limits, or an alias names the value it is part of."""

    def __init__(self, mark: yaml.Mark, message: str):
        super().__init__(message)
        self.mark, self.message = mark, message


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, composing with a depth limit and counting values as aliases will expand them."""

    def __init__(self, text: str):
        super().__init__(text)
        self._values = 0  # values of the document so far, each alias counted as the values it stands for
        self._open: list[str | None] = []  # anchors of the values being composed, outermost first
        self._children: list[list[int]] = [[0, 0]]  # per open value: [values, height] of its children so far
        self._anchored: dict[str, tuple[int, int]] = {}  # anchor -> (values, height) of the value it names

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open:
                raise _Refused(event.start_mark, f"alias *{event.anchor} is used inside the value it names: "
                                                 "a value cannot contain itself")
            self._add(*self._anchored.get(event.anchor, (1, 1)), event.start_mark)
            return super().compose_node(parent, index)
        if len(self._open) >= MAX_DEPTH:
            raise _Refused(event.start_mark, f"values are nested more than {MAX_DEPTH} deep")
        self._open.append(event.anchor)
        self._children.append([0, 0])
        node = super().compose_node(parent, index)
        self._open.pop()
        values, height = self._children.pop()
        if event.anchor is not None:
            self._anchored[event.anchor] = (values + 1, height + 1)
        self._add(values + 1, height + 1, event.start_mark, composed=values)
        return node

    def _add(self, values: int, height: int, mark: yaml.Mark, composed: int = 0) -> None:
        """A child of `values` values and `height` levels (aliases expanded) for the open value.

        `composed`: how many of those values are already counted (they were composed one by one).
        """
        children = self._children[-1]
        children[0] += values
        children[1] = max(children[1], height)
        self._values += values - composed
        if self._values > MAX_VALUES:
            raise _Refused(mark, f"the file expands to more than {MAX_VALUES:,} values (aliases are expanded "
                                 "where they are used): a scenario needs far fewer")
        if len(self._open) + height > MAX_DEPTH:
            raise _Refused(mark, f"values are nested more than {MAX_DEPTH} deep (aliases are expanded where "
                                 "they are used)")


def _fail(location: Location, message: str) -> NoReturn:
    raise ScenarioError([Diagnostic(location, message)]) from None  # the position says it all: no YAML chain


def _loc(file: str, node: yaml.Node) -> Location:
    mark = node.start_mark
    return Location(file, mark.line + 1, mark.column + 1)


def _content_loc(file: str, node: yaml.Node, source: yaml_text.SourceText) -> Location:
    """Where a value's text starts: inside the quotes of a quoted scalar, so expression offsets line up."""
    loc = _loc(file, node)
    if not isinstance(node, yaml.ScalarNode):
        return loc
    span = yaml_text.ScalarSpan(source, node.start_mark.index, node.end_mark.index, node.style, node.value)
    if node.style in ("'", '"'):
        return Location(loc.file, loc.line, loc.col + 1, span)
    if node.style in ("|", ">"):
        start = yaml_text.block_content_start(source.text, node.start_mark.index)
        return Location(loc.file, *source.position(start), span)
    return Location(loc.file, loc.line, loc.col, span)


def _scalar(file: str, node: yaml.Node, loader: yaml.SafeLoader) -> object:
    try:
        value = loader.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:  # a tag PyYAML's safe constructor does not know
        _fail(_loc(file, node), f"YAML tags are not used in scenarios: {node.tag}" if exc.problem.startswith(
            "could not determine a constructor") else f"cannot read this value: {exc.problem}")
    except Exception as exc:  # noqa: BLE001 - a tagged or oversized scalar PyYAML cannot build, e.g. !!int x
        text = node.value if len(node.value) <= 40 else node.value[:30] + "..."
        _fail(_loc(file, node), f"cannot read {text!r} as {node.tag.rpartition(':')[2]}: {exc}")
    if isinstance(value, str) and _SURROGATE.search(value):
        _fail(_loc(file, node), "a lone surrogate escape (\\ud800-\\udfff) is not text")
    return value


def _convert(file: str, node: yaml.Node, loader: yaml.SafeLoader, source: yaml_text.SourceText) -> object:
    if isinstance(node, yaml.CollectionNode) and node.tag not in _PLAIN_TAGS:
        _fail(_loc(file, node), f"YAML tags are not used in scenarios: {node.tag}")
    if isinstance(node, yaml.MappingNode):
        out = YMap()
        out.loc, out.key_locs, out.value_locs = _loc(file, node), {}, {}
        for key_node, value_node in node.value:
            key = _scalar(file, key_node, loader) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, (str, int, float, bool)) or isinstance(key, bool):
                _fail(_loc(file, key_node), "mapping keys must be plain names")
            key = str(key)
            if key in out:
                _fail(_loc(file, key_node), f"duplicate key '{key}'")
            out[key] = _convert(file, value_node, loader, source)
            out.key_locs[key], out.value_locs[key] = _loc(file, key_node), _content_loc(file, value_node, source)
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = YList(_convert(file, item, loader, source) for item in node.value)
        seq.loc, seq.item_locs = _loc(file, node), [_content_loc(file, item, source) for item in node.value]
        return seq
    return _scalar(file, node, loader)


def read_text(path: str | Path) -> str:
    """A file's text: UTF-8, at most MAX_FILE_BYTES, or ScenarioError saying what is wrong and where."""
    file = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        _fail(Location(file, 1, 1), f"cannot read file: {exc.strerror}")
    if len(data) > MAX_FILE_BYTES:
        _fail(Location(file, 1, 1), f"the file is larger than {MAX_FILE_BYTES:,} bytes")
    try:
        return yaml_text.decode(data)
    except yaml_text.TextError as exc:
        _fail(Location(file, exc.line, exc.col), exc.message)


def load_yaml(path: str | Path, text: str | None = None) -> object:
    """Parse one YAML document, raising ScenarioError with the position of any syntax error."""
    file = str(path)
    text = read_text(path) if text is None else text
    if len(text) > MAX_FILE_BYTES:
        _fail(Location(file, 1, 1), f"the text is longer than {MAX_FILE_BYTES:,} bytes")
    source = yaml_text.SourceText(text)
    loader = None
    try:
        loader = _BoundedLoader(text)  # refuses control characters (ReaderError) right away
        root = loader.get_single_node()
        if root is None:
            _fail(Location(file, 1, 1), "the file is empty")
        return _convert(file, root, loader, source)
    except _Refused as exc:
        _fail(Location(file, exc.mark.line + 1, exc.mark.column + 1), exc.message)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
        _fail(where, f"YAML syntax error: {exc.problem or exc.context}")
    except yaml.reader.ReaderError as exc:
        name = "NUL" if exc.character == 0 else f"U+{exc.character:04X}"
        where = Location(file, *source.position(exc.position))
        _fail(where, f"character {name} is not allowed in YAML text")
    finally:
        if loader is not None:
            loader.dispose()
