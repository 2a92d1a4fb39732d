"""Checked arithmetic: + - * / % and unary minus on ints (signed 64-bit) and floats (finite), and `||`.

Typed operands get inline code with one chained range test (`lo <= (t := a * b) <= hi`, ~25 ns) per chain of
+ - * instead of a helper call; `any` operands go through runtime helpers that check the types first, so `str * int` and
printf-style `str % x` can never run. Literal operands are folded at compile time with the same checks, so
`9223372036854775807 + 1` is a compile error at the operator.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..types import ANY, FLOAT, INT, NULL, STRING, TIMESTAMP, Type
from . import runtime as rt
from .errors import ExprError
from .functions import Value
from .grammar import Node
from .rules import arith_type, numeric

if TYPE_CHECKING:
    from .codegen import CodeGen

    _Base = CodeGen
else:
    _Base = object

_BOUNDS = {INT: (rt.INT_MIN, rt.INT_MAX), TIMESTAMP: (rt.INT_MIN, rt.INT_MAX), FLOAT: (-rt.FLOAT_MAX, rt.FLOAT_MAX)}
_NUMBERS = (int, float)


def _is_number(c: Any) -> bool:
    return isinstance(c, _NUMBERS) and not isinstance(c, bool)


class ArithGen(_Base):
    def range_checked(self, code: str, t: Type, src: str) -> str:
        """`code` with a check that its result fits `t` (64-bit int or finite float)."""
        lo, hi = _BOUNDS[t]
        r = self.tmp()
        bad = self.helper("overflow", rt.overflow)
        return f"({r} if {lo!r} <= ({r} := {code}) <= {hi!r} else {bad}({r}, {src!r}))"

    def folded(self, node: Node, t: Type, compute: Any) -> Value:
        """A constant result computed now: an error is a compile error at the operator."""
        try:
            value = rt.checked(compute(), self.label(node))
        except (ArithmeticError, ValueError) as e:
            raise ExprError(str(e), node.where) from None
        return Value(t, self.const(value), node.pos, node.end, nullable=value is None, const=value)

    def g_neg(self, node: Node) -> Value:
        v = self.gen(node.args[0])
        if not numeric(v.type):
            raise ExprError(f"'-' needs a number, got {v.type}", node.pos)
        src = self.label(node)
        if _is_number(v.const):
            return self.folded(node, v.type, lambda: -v.const)
        if v.type in (ANY, NULL):
            return Value(ANY, f"{self.helper('neg', rt.neg)}({v.code}, {src!r})", node.pos, node.end)
        if v.type == FLOAT:  # negating a finite float is finite
            return self.null_guarded(node, v.type, [v], lambda r: f"-{r[0]}")
        return self.null_guarded(node, v.type, [v], lambda r: self.range_checked(f"-{r[0]}", INT, src))

    def g_binop(self, node: Node) -> Value:
        a, b = self.gen(node.args[0]), self.gen(node.args[1])
        op, ta, tb = str(node.value), a.type, b.type
        src = self.label(node)
        if op == "||":
            for v in (a, b):
                if v.type not in (STRING, ANY, NULL):
                    raise ExprError(f"'||' needs strings, got {v.type} (use to_string)", v.pos)
            if isinstance(a.const, str) and isinstance(b.const, str):
                return self.folded(node, STRING, lambda: rt.cat(a.const, b.const, src))
            return Value(STRING, f"{self.helper('cat', rt.cat)}({a.code}, {b.code}, {src!r})", node.pos, node.end)
        result = arith_type(node, op, ta, tb)
        if op in ("/", "%"):
            fn = rt.div if op == "/" else rt.mod
            if _is_number(a.const) and _is_number(b.const):
                return self.folded(node, result, lambda: fn(a.const, b.const, src))
            return Value(result, f"{self.helper(fn.__name__, fn)}({a.code}, {b.code}, {src!r})", node.pos, node.end)
        if _is_number(a.const) and _is_number(b.const):
            return self.folded(node, result, lambda: rt.ARITH[op](a.const, b.const, src))
        if ANY in (ta, tb) or result == ANY:
            helper = self.helper({"+": "add", "-": "sub", "*": "mul"}[op], rt.ARITH[op])
            return Value(result, f"{helper}({a.code}, {b.code}, {src!r})", node.pos, node.end)
        if NULL in (ta, tb):
            return Value(result, "None", node.pos, node.end, const=None)
        # A chain of + - * is range-checked once, on its result: the operands' unchecked codes are used. Floats
        # lose nothing (inf and nan propagate to the end: inf * 0 is nan, which fails the check too); ints are
        # exact in Python, so an intermediate beyond 64 bits whose chain ends in range gives the exact result.
        parts = [replace(v, code=v.raw) if v.raw is not None else v for v in (a, b)]
        raw = self.null_guarded(node, result, parts, lambda r: f"{r[0]} {op} {r[1]}")
        value = self.null_guarded(node, result, parts, lambda r: self.range_checked(f"{r[0]} {op} {r[1]}", result, src))
        value.raw = raw.code
        return value
