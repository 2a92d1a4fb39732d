"""SQL three-valued logic: and/or/not, comparisons, in, between, like, is null.

Every boolean Value carries up to three codes (functions.Value): `code`, the SQL value (True, False or None for
UNKNOWN), and — where cheaper — `truth` / `falsity`, which are True exactly when the value is TRUE / FALSE.
A condition (filter, switch, decide, `when`, `if`) needs only "is it TRUE?", so it is compiled from `truth`,
and `not` swaps the two: `not (amount > 100)` becomes `amount is not None and amount <= 100`. That keeps the
typed fast path as cheap as the old two-valued code (docs/decisions/0008-null-semantics.md, with the figures).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..types import ANY, BOOL, NULL, STRING, ListType
from . import runtime as rt
from .errors import ExprError
from .functions import NOCONST, Value
from .grammar import Node
from .rules import check_comparable
from .text import Like

if TYPE_CHECKING:
    from .codegen import CodeGen

    _Base = CodeGen
else:
    _Base = object

_PY_OPS = {"=": "==", "==": "==", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_INVERSE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


class LogicGen(_Base):
    # -- truth of a boolean value ----------------------------------------------------------------------------
    def operand(self, v: Value, what: str) -> Value:
        """A boolean operand: bool or null statically; an `any` value is checked to be a bool at run time."""
        if v.type == ANY:
            code = f"{self.helper('bool', rt.boolean)}({v.code}, {what!r})"
            return Value(BOOL, code, v.pos, v.end)
        if v.type not in (BOOL, NULL):
            raise ExprError(f"{what} needs bool, got {v.type}", v.pos)
        return v

    def truth(self, v: Value, what: str) -> str:
        """Code that is True exactly when `v` is TRUE (false and null are both 'not taken')."""
        v = self.operand(v, what)
        if v.truth is not None:
            return v.truth
        return v.code if v.strict_bool else f"({v.code} is True)"

    def falsity(self, v: Value, what: str) -> str:
        """Code that is True exactly when `v` is FALSE."""
        v = self.operand(v, what)
        if v.falsity is not None:
            return v.falsity
        return f"(not {v.code})" if v.strict_bool else f"({v.code} is False)"

    def boolean(self, node: Node, code: str) -> Value:
        return Value(BOOL, code, node.pos, node.end, nullable=False, strict_bool=True)

    def all_present(self, parts: list[Value], test: str) -> str:
        """`a is not None and ... and test(refs)`; `test` is a format string over the refs."""
        bound = [self.bind(p) for p in parts]
        present = [f"{a} is not None" for a, _ in bound if a]
        return "(" + " and ".join([*present, test.format(*[r for _, r in bound])]) + ")"

    def predicate(self, node: Node, parts: list[Value], test: str, negated: str) -> Value:
        """A null-in, null-out test: `test`/`negated` are format strings over the operands' refs."""
        value = self.null_guarded(node, BOOL, parts, lambda r: test.format(*r))
        return Value(BOOL, value.code, node.pos, node.end, nullable=value.nullable, strict_bool=not value.nullable,
                     truth=self.all_present(parts, test), falsity=self.all_present(parts, negated))  # fmt: skip

    def negate(self, node: Node, v: Value) -> Value:
        """SQL NOT: null stays null; TRUE and FALSE swap (so do the condition codes)."""
        if v.strict_bool:
            code = f"(not {v.code})"
        else:
            t = self.tmp()
            code = f"(None if ({t} := {v.code}) is None else not {t})"
        return Value(BOOL, code, node.pos, node.end, nullable=not v.strict_bool, strict_bool=v.strict_bool,
                     truth=self.falsity(v, "'not'"), falsity=self.truth(v, "'not'"))  # fmt: skip

    def junction(self, node: Node, parts: list[Value], word: str) -> Value:
        """SQL AND / OR: a FALSE (TRUE) operand decides; else any null gives null. Stops at the deciding one."""
        stop = word == "or"  # the value that decides: TRUE for or, FALSE for and
        if all(p.strict_bool for p in parts):
            code = "(" + f" {word} ".join(p.code for p in parts) + ")"
        else:
            tests, refs = [], []
            for p in parts:
                if p.strict_bool:
                    tests.append(p.code if stop else f"not {p.code}")
                else:
                    t = self.tmp()
                    tests.append(f"({t} := {p.code}) is {stop}")
                    refs.append(f"{t} is None")
            tail = f"None if {' or '.join(refs)} else {not stop}"
            code = "(" + " ".join(f"{stop} if {c} else" for c in tests) + f" {tail})"
        what = f"'{word}'"
        truths = [self.truth(p, what) for p in parts]
        falsities = [self.falsity(p, what) for p in parts]
        return Value(BOOL, code, node.pos, node.end, nullable=not all(p.strict_bool for p in parts),
                     strict_bool=all(p.strict_bool for p in parts),
                     truth="(" + f" {word} ".join(truths) + ")",
                     falsity="(" + f" {'and' if stop else 'or'} ".join(falsities) + ")")  # fmt: skip

    # -- and / or / not --------------------------------------------------------------------------------------
    def g_not(self, node: Node) -> Value:
        return self.negate(node, self.operand(self.gen(node.args[0]), "'not'"))

    def g_and_expr(self, node: Node) -> Value:
        return self.junction(node, [self.operand(self.gen(a), "'and'") for a in node.args], "and")

    def g_or_expr(self, node: Node) -> Value:
        return self.junction(node, [self.operand(self.gen(a), "'or'") for a in node.args], "or")

    # -- comparisons -----------------------------------------------------------------------------------------
    def compare(self, node: Node, a: Value, op: str, b: Value) -> Value:
        if op not in ("==", "!=") and ANY in (a.type, b.type):
            # an `any` operand may hold what Python cannot order against the other side (a string against a
            # float, two records): that was a bare TypeError naming neither the expression nor the values
            # (found by the expression-fuzz drill, issue 13); now an EvalError that does
            fn, src = self.helper("order", rt.order), self.label(node)
            return self.predicate(node, [a, b], f"{fn}({{0}}, {{1}}, {op!r}, {src!r})",
                                  f"{fn}({{0}}, {{1}}, {_INVERSE[op]!r}, {src!r})")
        return self.predicate(node, [a, b], f"{{0}} {op} {{1}}", f"{{0}} {_INVERSE[op]} {{1}}")

    def g_compare(self, node: Node) -> Value:
        a, b = self.gen(node.args[0]), self.gen(node.args[1])
        op = _PY_OPS[str(node.value)]
        check_comparable(node, a.type, b.type, op not in ("==", "!="), str(node.value))
        return self.compare(node, a, op, b)

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
            if all(i.const is not NOCONST for i in items) and left.type != ANY:  # any: maybe unhashable
                found = self._in_constants(node, left, [i.const for i in items])
            else:
                listed = "(" + "".join(i.code + ", " for i in items) + ")"
                found = Value(BOOL, f"{self.helper('in', rt.in_items)}({left.code}, {listed})", node.pos, node.end)
        else:
            coll = self.gen(rhs)
            if isinstance(coll.type, ListType):
                if coll.type.item not in (ANY, NULL) and left.type not in (NULL,):
                    check_comparable(node, left.type, coll.type.item, False, word)
            elif coll.type not in (ANY, NULL):
                raise ExprError(f"'{word}' needs a list or (value, ...), got {coll.type}", rhs.pos)
            found = Value(BOOL, f"{self.helper('in_list', rt.in_list)}({left.code}, {coll.code})", node.pos, node.end)
        return self.negate(node, found) if negate else found

    def _in_constants(self, node: Node, left: Value, consts: list[Any]) -> Value:
        """`x in (literals)`: one frozenset lookup built at compile time; a null item makes a miss UNKNOWN."""
        target = self.const(frozenset(c for c in consts if c is not None))
        truth = f"({left.code} in {target})"  # null is never in the set
        if None in consts:  # SQL: never FALSE — TRUE or UNKNOWN; still evaluate `left` (it may raise)
            return Value(BOOL, f"(True if {left.code} in {target} else None)", node.pos, node.end,
                         truth=truth, falsity=f"({left.code} is None and False)")  # fmt: skip
        v = self.predicate(node, [left], f"{{0}} in {target}", f"{{0}} not in {target}")
        v.truth = truth
        return v

    def g_not_in(self, node: Node) -> Value:
        return self.g_in(node, negate=True)

    def g_between(self, node: Node, negate: bool = False) -> Value:
        """`x between lo and hi` is `x >= lo and x <= hi` (SQL), with `x` evaluated once and first."""
        x, lo, hi = (self.gen(a) for a in node.args)
        for bound in (lo, hi):
            check_comparable(node, x.type, bound.type, True, "between")
        if x.const is NOCONST:
            t = self.tmp()
            # nullable=True even if x never is: its null test is then the first thing evaluated, so `t` is set
            # before anything can short-circuit past it.
            first = Value(x.type, f"({t} := {x.code})", x.pos, x.end, nullable=True)
            again = Value(x.type, t, x.pos, x.end, nullable=x.nullable)
        else:
            first = again = x
        both = self.junction(node, [self.compare(node, first, ">=", lo), self.compare(node, again, "<=", hi)], "and")
        return self.negate(node, both) if negate else both

    def g_not_between(self, node: Node) -> Value:
        return self.g_between(node, negate=True)

    def g_like(self, node: Node, negate: bool = False) -> Value:
        left, pattern = self.gen(node.args[0]), self.gen(node.args[1])
        if left.type not in (STRING, ANY, NULL):
            raise ExprError(f"'like' needs a string, got {left.type}", left.pos)
        if not isinstance(pattern.const, str):
            raise ExprError("'like' needs a string literal pattern such as 'abc%'", pattern.pos)
        try:
            like = Like(pattern.const)
        except ExprError as e:
            raise ExprError(e.message, pattern.pos) from None
        if left.type == ANY:
            left = Value(STRING, f"{self.helper('text', rt.text_operand)}({left.code}, 'like')", left.pos, left.end)
        test = self._like_test(like)
        found = self.predicate(node, [left], test, f"not {test}")
        return self.negate(node, found) if negate else found

    def _like_test(self, like: Like) -> str:
        """A format string over the (string) operand: str methods for the common shapes, else the matcher."""
        segs = like.segments
        if all(s.literal is not None for s in segs):
            lits = [self.const(s.literal).replace("{", "{{").replace("}", "}}") for s in segs]
            if len(segs) == 1:
                return f"{{0}} == {lits[0]}"
            if len(segs) == 2 and not segs[1].size:
                return f"{{0}}.startswith({lits[0]})"
            if len(segs) == 2 and not segs[0].size:
                return f"{{0}}.endswith({lits[1]})"
            if len(segs) == 3 and not segs[0].size and not segs[2].size:
                return f"{lits[1]} in {{0}}"
        if len(segs) <= 2:  # at most one `%`: a regex with one `.*` backtracks at most once per position
            return f"{self.const(like.regex())}.fullmatch({{0}}) is not None"
        return f"{self.const(like)}({{0}})"

    def g_not_like(self, node: Node) -> Value:
        return self.g_like(node, negate=True)
