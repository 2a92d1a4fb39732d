"""The text of a YAML file: decoding its bytes, and mapping an offset inside a scalar back to the file.

Two jobs the YAML parser does not do for us:
  * say *where* a file stops being UTF-8 text (and what it looks like instead: UTF-16, Latin-1, binary);
  * map a character of a scalar's *value* to the line and column it was written at. A folded (`>`) or
    multi-line scalar, or a `\\n` escape in a quoted one, makes the value differ from the text, so an
    expression error at offset N of the value is not at column N of the scalar. `ScalarSpan` re-reads the
    scalar with the YAML rules (the same ones as PyYAML's scanner) and keeps the source index of each value
    character. It checks its result against the parsed value; when they differ (a case it does not model,
    e.g. an explicit block indentation indicator with deeper content) it answers None and the caller
    reports the scalar's start instead.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

import yaml

BREAKS = "\r\n\x85\u2028\u2029"
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_ESCAPES = yaml.scanner.Scanner.ESCAPE_REPLACEMENTS  # \n, \t, \\ ... -> the character
_ESCAPE_CODES = yaml.scanner.Scanner.ESCAPE_CODES  # \x, \u, \U -> how many hex digits follow
_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"), (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
         (b"\xff\xfe", "UTF-16 (little-endian)"), (b"\xfe\xff", "UTF-16 (big-endian)"))


class TextError(ValueError):
    """The bytes are not UTF-8 YAML text; `line` and `col` (1-based) say where that shows first."""

    def __init__(self, line: int, col: int, message: str):
        super().__init__(message)
        self.line, self.col, self.message = line, col, message


def _byte_position(data: bytes, index: int) -> tuple[int, int]:
    line_start = data.rfind(b"\n", 0, index) + 1
    return data.count(b"\n", 0, index) + 1, len(data[line_start:index].decode("utf-8", "replace")) + 1


def decode(data: bytes) -> str:
    """UTF-8 text of a file (a UTF-8 byte order mark is dropped), or TextError saying what was found, where."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise TextError(1, 1, f"the file is {name} text (it starts with a byte order mark); "
                                  f"kairos reads UTF-8: convert it, e.g. iconv -f {name[:6]} -t UTF-8")
    data = data.removeprefix(b"\xef\xbb\xbf")
    nul = data.find(b"\x00")
    if nul >= 0:
        head = data[:64]
        utf16 = head.count(b"\x00") * 3 >= len(head)  # ASCII as UTF-16: every other byte is 0
        what = ("the file looks like UTF-16 text without a byte order mark; kairos reads UTF-8" if utf16
                else "a NUL byte: this is a binary file, not YAML text")
        raise TextError(*_byte_position(data, nul), what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = data[exc.start]
        controls = sum(1 for b in data[:4096] if b < 0x20 and b not in (9, 10, 13))
        if controls * 20 > min(len(data), 4096):
            what = "binary data"
        elif byte >= 0xA0:
            what = f"Latin-1 or Windows-1252 text, where it means {bytes([byte]).decode('latin-1')!r}?"
        else:
            what = "the file is not UTF-8 text"
        raise TextError(*_byte_position(data, exc.start),
                        f"byte 0x{byte:02X} is not valid UTF-8 ({what}): save the file as UTF-8") from None


class SourceText:
    """A file's text with its line starts, to turn a character index into (line, col) the way YAML counts."""

    def __init__(self, text: str):
        self.text = text
        self._starts: list[int] | None = None

    def position(self, index: int) -> tuple[int, int]:
        if self._starts is None:
            self._starts = [0, *(m.end() for m in _LINE_BREAK.finditer(self.text))]
        line = bisect.bisect_right(self._starts, index) - 1
        return line + 1, index - self._starts[line] + 1


@dataclass
class ScalarSpan:
    """Where each character of one scalar's value was written. `base`: this span starts at value[base:]."""

    source: SourceText
    start: int  # index of the scalar's first character in the file (a quote or block indicator included)
    end: int
    style: str | None
    value: str
    base: int = 0
    _indices: list[int] | None = field(default=None, repr=False, compare=False)

    def tail(self, offset: int) -> ScalarSpan:
        """The span of value[base + offset:], so an offset inside a sub-expression maps too."""
        return ScalarSpan(self.source, self.start, self.end, self.style, self.value, self.base + offset,
                          self._indices)

    def covers(self, text: str) -> bool:
        """Is `text` this value (from base on), so that its offsets are offsets into the value?"""
        return self.value.startswith(text, self.base)

    def at(self, offset: int) -> tuple[int, int] | None:
        """(line, col) of value character base + offset; None when the scalar could not be re-read."""
        if self._indices is None:
            self._indices = _indices(self.source.text, self) or []
        indices = self._indices
        if not indices:
            return None
        k = self.base + max(offset, 0)
        index = indices[k] if k < len(indices) else indices[-1] + 1  # just after the end: "unexpected end"
        return self.source.position(index)


def _indices(text: str, span: ScalarSpan) -> list[int] | None:
    """The source index of every value character, or None when the re-read does not give the value."""
    out: list[tuple[str, int]] = []
    try:
        _read(text, span, out)
    except (ValueError, IndexError):  # a malformed escape: the parser has reported it already
        return None
    if "".join(c for c, _ in out) != span.value:
        return None
    return [i for _, i in out]


def _read(text: str, span: ScalarSpan, out: list[tuple[str, int]]) -> None:
    if span.style in ("|", ">"):
        _block(span.source, span.start, span.style == ">", out)
    elif span.style in ("'", '"'):
        _flow(text, span.start + 1, span.end - 1, span.style == '"', out)
    else:
        _flow(text, span.start, span.end, None, out)


def _line_break(text: str, i: int) -> tuple[str, int]:
    """The value a line break at i stands for, and the index after it (PyYAML's scan_line_break)."""
    if text.startswith("\r\n", i):
        return "\n", i + 2
    if text[i] in "\r\n\x85":
        return "\n", i + 1
    return text[i], i + 1


def _fold(text: str, i: int, end: int, blanks: str, out: list[tuple[str, int]]) -> int:
    """A line break inside a plain or quoted scalar: one break is a space, n breaks are n-1 newlines."""
    first, j = _line_break(text, i)
    breaks = []
    while j < end and text[j] in blanks + BREAKS:
        if text[j] in BREAKS:
            value, after = _line_break(text, j)
            breaks.append((value, j))
            j = after
        else:
            j += 1
    if first != "\n":
        out.append((first, i))
    elif not breaks:
        out.append((" ", i))
    out.extend(breaks)
    return j


def _flow(text: str, i: int, end: int, double: bool | None, out: list[tuple[str, int]]) -> None:
    """Plain (double None), single- or double-quoted scalar between i and end (quotes excluded)."""
    blanks = " " if double is None else " \t"
    while i < end:
        ch = text[i]
        if ch in " \t":
            j = i
            while j < end and text[j] in " \t":
                j += 1
            if j < end and text[j] in BREAKS:  # trailing blanks of a line are dropped
                i = j
                continue
            out.extend((text[k], k) for k in range(i, j))
            i = j
        elif ch in BREAKS:
            i = _fold(text, i, end, blanks, out)
        elif double is False and ch == "'" and text.startswith("''", i):
            out.append(("'", i))
            i += 2
        elif double and ch == "\\":
            code = text[i + 1] if i + 1 < end else ""
            if code in _ESCAPE_CODES:
                digits = text[i + 2:i + 2 + _ESCAPE_CODES[code]]
                out.append((chr(int(digits, 16)), i))
                i += 2 + len(digits)
            elif code and code in BREAKS:
                i = _line_break(text, i + 1)[1]
                while i < end and text[i] in " \t" + BREAKS:
                    if text[i] in BREAKS:
                        value, after = _line_break(text, i)
                        out.append((value, i))
                        i = after
                    else:
                        i += 1
            elif code in _ESCAPES:
                out.append((_ESCAPES[code], i))
                i += 2
            else:
                return
        else:
            out.append((ch, i))
            i += 1


def block_content_start(text: str, indicator: int) -> int:
    """Index of the first character of a block scalar's content: past its header line and blank lines."""
    i = indicator
    while i < len(text) and text[i] not in BREAKS:
        i += 1
    while i < len(text) and text[i] in " " + BREAKS:
        i += 1
    return i


def _block(source: SourceText, i: int, folded: bool, out: list[tuple[str, int]]) -> None:
    """A literal (|) or folded (>) block scalar whose indicator is at i (PyYAML's scan_block_scalar)."""
    text = source.text

    def column(index: int) -> int:
        return source.position(index)[1] - 1

    i += 1
    chomping = None
    while i < len(text) and text[i] in "+-123456789":
        if text[i] in "+-":
            chomping = text[i] == "+"
        i += 1
    while i < len(text) and text[i] not in BREAKS:  # spaces and a comment up to the end of the header
        i += 1
    if i >= len(text):
        return
    i = _line_break(text, i)[1]
    breaks: list[tuple[str, int]] = []
    indent = 0
    while i < len(text) and text[i] in " " + BREAKS:  # leading empty lines; the first content line sets the indent
        if text[i] == " ":
            i += 1
            indent = max(indent, column(i))
        else:
            value, after = _line_break(text, i)
            breaks.append((value, i))
            i = after
    indent = max(indent, 1)
    line_break: tuple[str, int] | None = None
    while i < len(text) and column(i) == indent:
        out.extend(breaks)
        leading_non_space = text[i] not in " \t"
        line_end = i
        while line_end < len(text) and text[line_end] not in BREAKS:
            line_end += 1
        out.extend(zip(text[i:line_end], range(i, line_end), strict=True))
        i, line_break = line_end, None
        if i < len(text):
            line_break = (_line_break(text, i)[0], i)
            i = _line_break(text, i)[1]
        breaks, i = _block_breaks(text, i, indent, column)
        if i < len(text) and column(i) == indent:
            if folded and line_break and line_break[0] == "\n" and leading_non_space and text[i] not in " \t":
                if not breaks:
                    out.append((" ", line_break[1]))
            elif line_break:
                out.append(line_break)
        else:
            break
    if chomping is not False and line_break:
        out.append(line_break)
    if chomping is True:
        out.extend(breaks)


def _block_breaks(text: str, i: int, indent: int, column) -> tuple[list[tuple[str, int]], int]:
    breaks = []
    while i < len(text) and text[i] == " " and column(i) < indent:
        i += 1
    while i < len(text) and text[i] in BREAKS:
        value, after = _line_break(text, i)
        breaks.append((value, i))
        i = after
        while i < len(text) and text[i] == " " and column(i) < indent:
            i += 1
    return breaks, i
