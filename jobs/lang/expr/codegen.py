"""Type checking and code generation in one pass: Node tree -> (Type, Python expression source).

Analyst text never becomes Python code: names, fields and strings are emitted with repr(), other constants
(matchers, sets, odd floats) live in `_k<n>` globals, helpers in `_h_<name>` globals. Operators live in
logic.py (three-valued and/or/not, comparisons, in, between, like) and arith.py (checked arithmetic).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ..types import ANY, BOOL, FLOAT, INT, NULL, STRING, ListType, MapType, RecordType, Type, common_type
from . import runtime as rt
from .arith import ArithGen
from .calls import gen_call
from .errors import ExprError
from .functions import Value
from .grammar import Node
from .logic import LogicGen
from .text import suggest

_LITERAL_TYPES: dict[type, Type] = {int: INT, float: FLOAT, str: STRING, bool: BOOL, type(None): NULL}
_INLINE_TEXT = 200  # longer string constants go to a global instead of being repeated in the generated source


class CodeGen(LogicGen, ArithGen):
    def __init__(self, source: str, env: Mapping[str, Type]) -> None:
        self.source = source
        self.env = env
        self.names: set[str] = set()
        self.globals: dict[str, Any] = {}
        self._n = 0

    # -- helpers -------------------------------------------------------------------------------------------------
    def tmp(self) -> str:
        self._n += 1
        return f"_t{self._n}"

    def const(self, value: Any) -> str:
        if value is None or isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
            return repr(value)
        if isinstance(value, str) and len(value) <= _INLINE_TEXT:
            return repr(value)
        self._n += 1
        self.globals[f"_k{self._n}"] = value
        return f"_k{self._n}"

    def helper(self, name: str, fn: Callable[..., Any]) -> str:
        self.globals[f"_h_{name}"] = fn
        return f"_h_{name}"

    def text(self, node: Node) -> str:
        return self.source[node.pos : node.end]

    def label(self, node: Node) -> str:
        """The node's text for a run-time message, cut: it is embedded in the code of every checked operator."""
        text = self.text(node)
        return text if len(text) <= 80 else text[:70] + " ..."

    def bind(self, v: Value) -> tuple[str, str]:
        """(assign, ref): `(_t := code)` to evaluate once and the name to reuse, or ('', code) if never null."""
        if not v.nullable:
            return "", v.code
        t = self.tmp()
        return f"({t} := {v.code})", t

    def null_guarded(self, node: Node, t: Type, parts: list[Value], build: Callable[[list[str]], str]) -> Value:
        """Null if any part is null, else build(refs)."""
        bound = [self.bind(p) for p in parts]
        nulls = [f"{a} is None" for a, _ in bound if a]
        code = build([r for _, r in bound])
        if not nulls:
            return Value(t, f"({code})", node.pos, node.end, nullable=False)
        return Value(t, f"(None if {' or '.join(nulls)} else {code})", node.pos, node.end)

    # -- dispatch ------------------------------------------------------------------------------------------------
    def gen(self, node: Node) -> Value:
        method: Callable[[Node], Value] = getattr(self, "g_" + node.op)
        return method(node)

    def g_literal(self, node: Node) -> Value:
        v = node.value
        if isinstance(v, float) and not math.isfinite(v):
            raise ExprError("float literal is too large (at most about 1.8e308)", node.pos)
        return Value(_LITERAL_TYPES[type(v)], self.const(v), node.pos, node.end, nullable=v is None, const=v,
                     strict_bool=isinstance(v, bool))  # fmt: skip

    def g_name(self, node: Node) -> Value:
        name = str(node.value)
        if name not in self.env:
            known = sorted(self.env)
            hint = suggest(name, known) or (f" (known names: {', '.join(known)})" if 0 < len(known) <= 8 else "")
            raise ExprError(f"unknown name '{name}'{hint}", node.pos)
        self.names.add(name)
        return Value(self.env[name], f"ctx.get({name!r})", node.pos, node.end)

    def g_paren(self, node: Node) -> Value:
        v = self.gen(node.args[0])
        return Value(v.type, v.code, node.pos, node.end, v.nullable, v.const, v.strict_bool, v.truth, v.falsity, v.raw)

    def g_tuple(self, node: Node) -> Value:
        raise ExprError("a parenthesized list of values is only allowed after 'in'", node.pos)

    def g_list(self, node: Node) -> Value:
        items = [self.gen(a) for a in node.args]
        item: Type = NULL
        for v in items:
            merged = common_type(item, v.type)
            if merged is None:
                raise ExprError(f"list items have incompatible types {item} and {v.type}", v.pos)
            item = merged
        code = "[" + ", ".join(v.code for v in items) + "]"
        return Value(ListType(ANY if item == NULL else item), code, node.pos, node.end, nullable=False)

    # -- access --------------------------------------------------------------------------------------------------
    def g_field(self, node: Node) -> Value:
        base = self.gen(node.args[0])
        key, t = str(node.value), base.type
        if isinstance(t, RecordType):
            if key not in t.fields:
                at = self.source.rfind(key, node.pos, node.end)
                raise ExprError(f"record has no field '{key}'{suggest(key, list(t.fields))}", max(at, node.pos))
            result = t.fields[key]
        elif isinstance(t, MapType):
            result = t.value
        elif t in (ANY, NULL):
            return Value(ANY, f"{self.helper('field', rt.field)}({base.code}, {key!r})", node.pos, node.end)
        else:
            raise ExprError(f"cannot read field '{key}' of {t}", node.pos)
        assign, ref = self.bind(base)
        code = f"(None if {assign} is None else {ref}.get({key!r}))" if assign else f"{ref}.get({key!r})"
        return Value(result, code, node.pos, node.end)

    def g_index(self, node: Node) -> Value:
        base, idx = self.gen(node.args[0]), self.gen(node.args[1])
        t, it = base.type, idx.type
        result: Type = ANY
        if isinstance(t, ListType):
            if it not in (INT, ANY, NULL):
                raise ExprError(f"list index must be int, got {it}", idx.pos)
            result = t.item
        elif isinstance(t, MapType):
            if it not in (STRING, ANY, NULL):
                raise ExprError(f"map key must be string, got {it}", idx.pos)
            result = t.value
        elif isinstance(t, RecordType):
            if not isinstance(idx.const, str) or idx.const not in t.fields:
                raise ExprError(f"record index must be a field name in quotes, one of {', '.join(t.fields)}", idx.pos)
            result = t.fields[idx.const]
        elif t not in (ANY, NULL):
            raise ExprError(f"cannot index {t}", node.pos)
        return Value(result, f"{self.helper('index', rt.index)}({base.code}, {idx.code})", node.pos, node.end)

    # -- choices and calls ---------------------------------------------------------------------------------------
    def g_case(self, node: Node) -> Value:
        parts = [self.gen(a) for a in node.args]
        whens, otherwise = parts[:-1], parts[-1]
        result: Type = NULL
        for v in [*whens[1::2], otherwise]:
            merged = common_type(result, v.type)
            if merged is None:
                raise ExprError(f"case branches have incompatible types {result} and {v.type}", v.pos)
            result = merged
        pairs = zip(whens[::2], whens[1::2], strict=True)
        chain = " ".join(v.code + " if " + self.truth(c, "'when'") + " else" for c, v in pairs)
        return Value(result, f"({chain} {otherwise.code})", node.pos, node.end)

    def g_call(self, node: Node) -> Value:
        return gen_call(self, node)
