"""Raw input records as one line of text each, losslessly: how lines travel from files and Kafka to the entry.

Raw input travels as "source<TAB>line" text through Flink (a file read by its line reader, or a Kafka value
mapped to text). A line that is not valid UTF-8, holds a \r (Flink's line reader would split it) or a NUL,
or starts with the marker, travels as MARK + "b64:" + base64 of its bytes; a record without a value (Kafka
tombstone) as MARK + "null". The entry (executor.accept_raw) turns both back into bytes / None.
"""

from __future__ import annotations

import base64

MARK = "\x01"
_B64 = MARK + "b64:"
_NULL = MARK + "null"


def wrap_line(raw: bytes | None) -> str:
    """Raw bytes of one input record as transport text (see MARK above): lossless, one line."""
    if raw is None:
        return _NULL
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _B64 + base64.b64encode(raw).decode("ascii")
    if text.startswith(MARK) or "\r" in text or "\x00" in text:
        return _B64 + base64.b64encode(raw).decode("ascii")
    return text


def wrap_latin1(value: str | None) -> str:
    """A Kafka value read as ISO-8859-1 (one char per byte, so lossless) as transport text."""
    if value is None:
        return _NULL
    if value.isascii() and not value.startswith(MARK) and "\r" not in value and "\x00" not in value:
        return value  # the common case: no copy
    return wrap_line(value.encode("latin-1"))


def unwrap_line(line: str | bytes) -> str | bytes | None:
    """Transport text back to the record: text, bytes (not valid UTF-8 ...) or None (no value)."""
    if isinstance(line, str) and line.startswith(MARK):
        if line == _NULL:
            return None
        if line.startswith(_B64):
            try:
                return base64.b64decode(line[len(_B64):], validate=True)
            except ValueError:
                pass
        return line.encode("utf-8", "surrogatepass")
    return line
