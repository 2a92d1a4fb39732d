"""The value types of scenario data: what a schema declares and what expressions are checked against.

Every value may be null. At run time values are plain Python objects:
string -> str, int -> int, float -> float, bool -> bool, timestamp -> int (epoch milliseconds, UTC),
list -> list, map -> dict with str keys, record -> dict with the declared field names.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Type:
    """Base of all types. `name` is how the type is written in a scenario and in messages."""

    @property
    def name(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Primitive(Type):
    kind: str

    @property
    def name(self) -> str:
        return self.kind


STRING = Primitive("string")
INT = Primitive("int")
FLOAT = Primitive("float")
BOOL = Primitive("bool")
TIMESTAMP = Primitive("timestamp")
# ANY: a value whose type is not known at compile time (e.g. results of a trusted udf without a declared type).
ANY = Primitive("any")
# NULL: the type of the literal `null`; assignable to everything.
NULL = Primitive("null")

PRIMITIVES = {t.kind: t for t in (STRING, INT, FLOAT, BOOL, TIMESTAMP, ANY)}


@dataclass(frozen=True)
class ListType(Type):
    item: Type

    @property
    def name(self) -> str:
        return f"list<{self.item.name}>"


@dataclass(frozen=True)
class MapType(Type):
    """A map from string keys to values of one type."""

    value: Type

    @property
    def name(self) -> str:
        return f"map<{self.value.name}>"


@dataclass(frozen=True)
class RecordType(Type):
    """A nested record with named, typed fields (e.g. an enrichment result)."""

    fields: dict[str, Type] = field(default_factory=dict)

    @property
    def name(self) -> str:
        inner = ", ".join(f"{k}: {v.name}" for k, v in self.fields.items())
        return f"record{{{inner}}}"

    def __hash__(self) -> int:
        return hash(tuple(self.fields.items()))


NUMERIC = (INT, FLOAT)


def is_numeric(t: Type) -> bool:
    return t in NUMERIC or t in (ANY, NULL)


def assignable(source: Type, target: Type) -> bool:
    """Can a value of type `source` be used where `target` is expected?"""
    if source == target or source in (ANY, NULL) or target == ANY:
        return True
    if source == INT and target == FLOAT:
        return True
    if isinstance(source, ListType) and isinstance(target, ListType):
        return assignable(source.item, target.item)
    if isinstance(source, MapType) and isinstance(target, MapType):
        return assignable(source.value, target.value)
    if isinstance(source, RecordType) and isinstance(target, RecordType):
        return all(k in source.fields and assignable(source.fields[k], v) for k, v in target.fields.items())
    return False


def common_type(a: Type, b: Type) -> Type | None:
    """The type both branches of a choice fit in (for `case`, `coalesce`, ...), or None."""
    if a == NULL:
        return b
    if b == NULL:
        return a
    if assignable(a, b):
        return b
    if assignable(b, a):
        return a
    return None


class TypeSpecError(ValueError):
    pass


def parse_type(spec: object) -> Type:
    """Parse a type as written in a scenario schema.

    Accepted forms: `string`, `int`, `float`, `bool`, `timestamp`, `any`, `list<T>`, `map<T>`,
    `{list: T}`, `{map: T}`, and a mapping of field names to types for a nested record
    (`{record: {name: string, ...}}` or directly `{name: string, ...}`).
    """
    if isinstance(spec, str):
        text = spec.strip()
        if text in PRIMITIVES:
            return PRIMITIVES[text]
        for prefix, ctor in (("list<", ListType), ("map<", MapType)):
            if text.startswith(prefix) and text.endswith(">"):
                return ctor(parse_type(text[len(prefix) : -1]))
        raise TypeSpecError(
            f"unknown type '{text}' (expected one of: {', '.join(PRIMITIVES)}, list<T>, map<T>, or a record)"
        )
    if isinstance(spec, dict):
        if set(spec) == {"list"}:
            return ListType(parse_type(spec["list"]))
        if set(spec) == {"map"}:
            return MapType(parse_type(spec["map"]))
        fields = spec["record"] if set(spec) == {"record"} else spec
        if not isinstance(fields, dict) or not fields:
            raise TypeSpecError("a record type needs at least one field")
        return RecordType({str(k): parse_type(v) for k, v in fields.items()})
    raise TypeSpecError(f"a type must be a name like 'string' or a mapping of fields, not {spec!r}")
