"""Type checking and code generation in one pass: Node tree -> (Type, Python expression source).

Analyst text never becomes Python code: names, fields and strings are emitted with repr(), other constants
(regexes, sets, odd floats) live in `_k<n>` globals, helpers in `_h_<name>` globals.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ..types import ANY, BOOL, FLOAT, INT, NULL, STRING, ListType, MapType, RecordType, Type, common_type
from . import runtime as rt
from .calls import gen_call
from .errors import ExprError
from .functions import NOCONST, Value
from .grammar import Node
from .rules import arith_type, check_comparable, numeric
from .text import like_to_regex, suggest

_LITERAL_TYPES: dict[type, Type] = {int: INT, float: FLOAT, str: STRING, bool: BOOL, type(None): NULL}
_PY_OPS = {"=": "==", "==": "==", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class CodeGen:
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
        if value is None or isinstance(value, bool | int | str) or (isinstance(value, float) and math.isfinite(value)):
            return repr(value)
        self._n += 1
        self.globals[f"_k{self._n}"] = value
        return f"_k{self._n}"

    def helper(self, name: str, fn: Callable[..., Any]) -> str:
        self.globals[f"_h_{name}"] = fn
        return f"_h_{name}"

    def text(self, node: Node) -> str:
        return self.source[node.pos : node.end]

    def bind(self, v: Value) -> tuple[str, str]:
        """(assign, ref): `(_t := code)` to evaluate once and the name to reuse, or ('', code) if never null."""
        if not v.nullable:
            return "", v.code
        t = self.tmp()
        return f"({t} := {v.code})", t

    def truth(self, v: Value, what: str) -> str:
        if v.type not in (BOOL, ANY, NULL):
            raise ExprError(f"{what} needs bool, got {v.type}", v.pos)
        return v.code if v.strict_bool else f"({v.code} is True)"

    def boolean(self, node: Node, code: str) -> Value:
        return Value(BOOL, code, node.pos, node.end, nullable=False, strict_bool=True)

    def null_guarded(self, node: Node, t: Type, parts: list[Value], build: Callable[[list[str]], str]) -> Value:
        """Null if any part is null, else build(refs)."""
        bound = [self.bind(p) for p in parts]
        nulls = [f"{a} is None" for a, _ in bound if a]
        code = build([r for _, r in bound])
        if not nulls:
            return Value(t, f"({code})", node.pos, node.end, nullable=False)
        return Value(t, f"(None if {' or '.join(nulls)} else {code})", node.pos, node.end)

    def all_present(self, node: Node, parts: list[Value], build: Callable[[list[str]], str]) -> Value:
        """False if any part is null, else build(refs) (a bool)."""
        bound = [self.bind(p) for p in parts]
        present = [f"{a} is not None" for a, _ in bound if a]
        return self.boolean(node, "(" + " and ".join([*present, build([r for _, r in bound])]) + ")")

    # -- dispatch ------------------------------------------------------------------------------------------------
    def gen(self, node: Node) -> Value:
        method: Callable[[Node], Value] = getattr(self, "g_" + node.op)
        return method(node)

    def g_literal(self, node: Node) -> Value:
        v = node.value
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
        return Value(v.type, v.code, node.pos, node.end, v.nullable, v.const, v.strict_bool)

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

    # -- operators -----------------------------------------------------------------------------------------------
    def g_neg(self, node: Node) -> Value:
        v = self.gen(node.args[0])
        if not numeric(v.type):
            raise ExprError(f"'-' needs a number, got {v.type}", node.pos)
        if isinstance(v.const, int | float) and not isinstance(v.const, bool):
            return Value(v.type, self.const(-v.const), node.pos, node.end, nullable=False, const=-v.const)
        return self.null_guarded(node, v.type, [v], lambda r: f"-{r[0]}")

    def g_binop(self, node: Node) -> Value:
        a, b = self.gen(node.args[0]), self.gen(node.args[1])
        op, ta, tb = str(node.value), a.type, b.type
        if op == "||":
            for v in (a, b):
                if v.type not in (STRING, ANY, NULL):
                    raise ExprError(f"'||' needs strings, got {v.type} (use to_string)", v.pos)
            return self.null_guarded(node, STRING, [a, b], lambda r: f"{r[0]} + {r[1]}")
        result = arith_type(node, op, ta, tb)
        if op in ("/", "%"):
            fn = self.helper("div", rt.div) if op == "/" else self.helper("mod", rt.mod)
            code = f"{fn}({a.code}, {b.code}, {self.text(node)!r})"
            return Value(result, code, node.pos, node.end)
        return self.null_guarded(node, result, [a, b], lambda r: f"{r[0]} {op} {r[1]}")

    def g_compare(self, node: Node) -> Value:
        a, b = self.gen(node.args[0]), self.gen(node.args[1])
        op = _PY_OPS[str(node.value)]
        check_comparable(node, a.type, b.type, op not in ("==", "!="), str(node.value))
        return self.all_present(node, [a, b], lambda r: f"{r[0]} {op} {r[1]}")

    def g_not(self, node: Node) -> Value:
        inner = self.truth(self.gen(node.args[0]), "'not'")
        return self.boolean(node, f"(not {inner})")

    def _junction(self, node: Node, word: str) -> Value:
        parts = [self.truth(self.gen(a), f"'{word}'") for a in node.args]
        return self.boolean(node, "(" + f" {word} ".join(parts) + ")")

    def g_and_expr(self, node: Node) -> Value:
        return self._junction(node, "and")

    def g_or_expr(self, node: Node) -> Value:
        return self._junction(node, "or")

    def g_is_null(self, node: Node, negate: bool = False) -> Value:
        v = self.gen(node.args[0])
        if v.const is not NOCONST:  # `1 is None` would also be a Python SyntaxWarning
            return self.boolean(node, repr((v.const is None) != negate))
        return self.boolean(node, f"({v.code} is {'not ' if negate else ''}None)")

    def g_is_not_null(self, node: Node) -> Value:
        return self.g_is_null(node, negate=True)

    def g_in(self, node: Node, negate: bool = False) -> Value:
        left, rhs = self.gen(node.args[0]), node.args[1]
        word = "not in" if negate else "in"
        if rhs.op in ("paren", "tuple"):
            items = [self.gen(a) for a in rhs.args]
            for item in items:
                if item.type != NULL:
                    check_comparable(node, left.type, item.type, False, word)
            if all(i.const is not NOCONST for i in items):
                target = self.const(frozenset(i.const for i in items if i.const is not None))
                if not negate:  # null is never in the set, so no null guard is needed
                    return self.boolean(node, f"({left.code} in {target})")
            else:
                target = "(" + "".join(i.code + ", " for i in items) + ")"
            return self.all_present(node, [left], lambda r: f"{r[0]} {word} {target}")
        coll = self.gen(rhs)
        if isinstance(coll.type, ListType):
            if coll.type.item not in (ANY, NULL) and left.type not in (NULL,):
                check_comparable(node, left.type, coll.type.item, False, word)
        elif coll.type not in (ANY, NULL):
            raise ExprError(f"'{word}' needs a list or (value, ...), got {coll.type}", rhs.pos)
        return self.all_present(node, [left, coll], lambda r: f"{r[0]} {word} {r[1]}")

    def g_not_in(self, node: Node) -> Value:
        return self.g_in(node, negate=True)

    def g_between(self, node: Node, negate: bool = False) -> Value:
        x, lo, hi = (self.gen(a) for a in node.args)
        for bound in (lo, hi):
            check_comparable(node, x.type, bound.type, True, "between")
        test = "not ({1} <= {0} <= {2})" if negate else "{1} <= {0} <= {2}"
        return self.all_present(node, [x, lo, hi], lambda r: test.format(*r))

    def g_not_between(self, node: Node) -> Value:
        return self.g_between(node, negate=True)

    def g_like(self, node: Node, negate: bool = False) -> Value:
        left, pattern = self.gen(node.args[0]), self.gen(node.args[1])
        if left.type not in (STRING, ANY, NULL):
            raise ExprError(f"'like' needs a string, got {left.type}", left.pos)
        if not isinstance(pattern.const, str):
            raise ExprError("'like' needs a string literal pattern such as 'abc%'", pattern.pos)
        regex = self.const(like_to_regex(pattern.const))
        test = "is None" if negate else "is not None"
        return self.all_present(node, [left], lambda r: f"{regex}.fullmatch({r[0]}) {test}")

    def g_not_like(self, node: Node) -> Value:
        return self.g_like(node, negate=True)

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

    # -- calls ---------------------------------------------------------------------------------------------------
    def g_call(self, node: Node) -> Value:
        return gen_call(self, node)
