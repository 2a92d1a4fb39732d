"""Parsing: sandbox pre-checks, the LALR grammar (lark) and conversion to the small `Node` tree."""

from __future__ import annotations

from dataclasses import dataclass, field

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from .errors import ExprError

MAX_SOURCE = 4000
MAX_BRACKET_DEPTH = 40
# Bounds the tree depth (e.g. `a+a+a+...` or `- - - x`) so checking, code generation and Python's own
# compiler never recurse deeply.
MAX_TREE_DEPTH = 64
MAX_INT = 2**63 - 1

GRAMMAR = r"""
?start: expr
?expr: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND not_expr)*
?not_expr: _NOT not_expr -> not_
    | predicate
?predicate: sum
    | sum COMP_OP sum -> compare
    | sum _IS _NULL -> is_null
    | sum _IS _NOT _NULL -> is_not_null
    | sum _IN sum -> in_
    | sum _NOT _IN sum -> not_in
    | sum _BETWEEN sum _AND sum -> between
    | sum _NOT _BETWEEN sum _AND sum -> not_between
    | sum _LIKE sum -> like
    | sum _NOT _LIKE sum -> not_like
?sum: product | sum ADD_OP product -> binop
?product: unary | product MUL_OP unary -> binop
?unary: "-" unary -> neg | postfix
?postfix: atom
    | postfix "." fieldname -> field
    | postfix "[" expr "]" -> index
fieldname: NAME | QNAME
?atom: INT -> int_
    | FLOAT -> float_
    | STRING -> string
    | _TRUE -> true
    | _FALSE -> false
    | _NULL -> null
    | NAME -> name
    | QNAME -> name
    | NAME "(" [expr ("," expr)*] ")" -> call
    | "(" expr ")" -> paren
    | "(" expr ("," expr)+ ")" -> tuple
    | "[" [expr ("," expr)*] "]" -> list_
    | _CASE (_WHEN expr _THEN expr)+ [_ELSE expr] _END -> case

COMP_OP: "==" | "=" | "!=" | "<>" | "<=" | ">=" | "<" | ">"
ADD_OP: "+" | "-" | "||"
MUL_OP: "*" | "/" | "%"
_OR: "or"i
_AND: "and"i
_NOT: "not"i
_IS: "is"i
_NULL: "null"i
_IN: "in"i
_BETWEEN: "between"i
_LIKE: "like"i
_TRUE: "true"i
_FALSE: "false"i
_CASE: "case"i
_WHEN: "when"i
_THEN: "then"i
_ELSE: "else"i
_END: "end"i
// The `i` flag matches the keywords' so lark resolves keyword/name collisions (`android` is a name).
NAME: /[A-Za-z_][A-Za-z0-9_]*/i
QNAME: /`[^`\n]+`/
FLOAT: /[0-9]+\.[0-9]+([eE][+-]?[0-9]+)?/ | /[0-9]+[eE][+-]?[0-9]+/
INT: /[0-9]+/
STRING: /'([^']|'')*'/
%ignore /[ \t\r\n]+/
"""

_PARSER = Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=True)

_TOKEN_NAMES = {
    "RPAR": "')'", "LPAR": "'('", "RSQB": "']'", "LSQB": "'['", "COMMA": "','", "DOT": "'.'", "MINUS": "'-'",
    "COMP_OP": "a comparison", "ADD_OP": "an operator", "MUL_OP": "an operator", "NAME": "a name",
    "QNAME": "a name", "$END": "end of expression", "INT": "a number", "FLOAT": "a number", "STRING": "a string",
}  # fmt: skip


@dataclass
class Node:
    """One syntax node. `op` is the grammar rule name; `pos`/`end` delimit its source text."""

    op: str
    pos: int
    end: int
    args: list[Node] = field(default_factory=list)
    value: object = None
    at: int = -1  # where to point errors (the operator), when not `pos`

    @property
    def where(self) -> int:
        return self.at if self.at >= 0 else self.pos


def _prescan(source: str) -> None:
    """Iterative bracket-depth and character checks before lark sees the text (no recursion, O(n))."""
    if len(source) > MAX_SOURCE:
        raise ExprError(f"expression is too long ({len(source)} characters, at most {MAX_SOURCE})", MAX_SOURCE)
    depth = 0
    quote: str | None = None
    for i, ch in enumerate(source):
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "'`":
            quote = ch
        elif ch in "([":
            depth += 1
            if depth > MAX_BRACKET_DEPTH:
                raise ExprError(f"expression is nested too deeply (more than {MAX_BRACKET_DEPTH} brackets)", i)
        elif ch in ")]":
            depth -= 1


def _tree_depth(tree: Tree) -> tuple[int, int]:
    """Depth of the lark tree and the offset of its deepest node, computed without recursion."""
    best, best_pos = 0, 0
    stack: list[tuple[Tree, int]] = [(tree, 1)]
    while stack:
        node, d = stack.pop()
        if d > best:
            best, best_pos = d, getattr(node.meta, "start_pos", 0)
        stack.extend((c, d + 1) for c in node.children if isinstance(c, Tree))
    return best, best_pos


def _describe(token: str) -> str:
    if token.startswith("_"):
        return repr(token[1:].lower())
    return _TOKEN_NAMES.get(token, token)


def _syntax_error(source: str, err: UnexpectedInput) -> ExprError:
    if isinstance(err, UnexpectedEOF):
        return ExprError("syntax error: unexpected end of expression", len(source))
    if isinstance(err, UnexpectedToken):
        tok = err.token
        if tok.type == "$END":
            return ExprError("syntax error: unexpected end of expression", len(source))
        expected = sorted({_describe(t) for t in err.expected})
        hint = f" (expected {', '.join(expected[:6])})" if 0 < len(expected) <= 6 else ""
        return ExprError(f"syntax error: unexpected '{tok}'{hint}", tok.start_pos or 0)
    if isinstance(err, UnexpectedCharacters):
        ch = source[err.pos_in_stream]
        if ch == "'":
            return ExprError("syntax error: unterminated string", err.pos_in_stream)
        return ExprError(f"syntax error: unexpected character {ch!r}", err.pos_in_stream)
    return ExprError(f"syntax error: {err}", getattr(err, "pos_in_stream", 0) or 0)


def check_identifier(name: str, pos: int) -> str:
    """Sandbox rule for every name and field: nothing private or dunder-like."""
    if name.startswith("_") or "__" in name:
        raise ExprError(f"names starting with '_' or containing '__' are not allowed: '{name}'", pos)
    return name


def _name(tok: Token) -> str:
    text = str(tok)
    return text[1:-1] if tok.type == "QNAME" else text


def _convert(t: Tree | Token) -> Node:
    if isinstance(t, Token):  # pragma: no cover - every token is wrapped by an aliased rule
        raise ExprError(f"syntax error near '{t}'", t.start_pos or 0)
    pos, end = t.meta.start_pos, t.meta.end_pos
    op = str(t.data)
    kids = t.children
    if op == "int_":
        value = int(str(kids[0]))
        if value > MAX_INT:
            raise ExprError(f"integer literal is too large (at most {MAX_INT})", pos)
        return Node("literal", pos, end, value=value)
    if op == "float_":
        return Node("literal", pos, end, value=float(str(kids[0])))
    if op == "string":
        return Node("literal", pos, end, value=str(kids[0])[1:-1].replace("''", "'"))
    if op in ("true", "false", "null"):
        return Node("literal", pos, end, value={"true": True, "false": False, "null": None}[op])
    if op == "name":
        return Node("name", pos, end, value=check_identifier(_name(kids[0]), pos))
    if op == "field":
        tok = kids[1].children[0]
        return Node("field", pos, end, [_convert(kids[0])], check_identifier(_name(tok), tok.start_pos))
    if op == "call":
        fname = str(kids[0])
        args = [_convert(k) for k in kids[1:] if k is not None]
        return Node("call", pos, end, args, check_identifier(fname, pos).lower())
    if op in ("compare", "binop"):
        return Node(op, pos, end, [_convert(kids[0]), _convert(kids[2])], str(kids[1]), kids[1].start_pos)
    if op == "paren":
        inner = _convert(kids[0])
        return Node("paren", pos, end, [inner])
    if op == "case":
        args = [_convert(k) if k is not None else Node("literal", end, end) for k in kids]
        return Node("case", pos, end, args)
    if op == "list_":
        return Node("list", pos, end, [_convert(k) for k in kids if k is not None])
    return Node(op.rstrip("_"), pos, end, [_convert(k) for k in kids])


def parse(source: str) -> Node:
    """Parse `source` into a Node tree, or raise ExprError with the offending offset."""
    _prescan(source)
    if not source.strip():
        raise ExprError("expression is empty", 0)
    try:
        tree = _PARSER.parse(source)
    except UnexpectedInput as err:
        raise _syntax_error(source, err) from None
    if isinstance(tree, Token):
        tree = Tree("name" if tree.type in ("NAME", "QNAME") else tree.type.lower(), [tree])
    depth, where = _tree_depth(tree)
    if depth > MAX_TREE_DEPTH:
        raise ExprError(f"expression is nested too deeply (more than {MAX_TREE_DEPTH} levels)", where)
    return _convert(tree)
