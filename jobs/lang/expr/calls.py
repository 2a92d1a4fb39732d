"""Function calls: registry lookup, arity and type checks, constant folding, inline if/coalesce."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..types import ANY, BOOL, Type
from .errors import EvalError, ExprError
from .functions import FUNCTIONS, NOCONST, Function, Value
from .grammar import Node
from .runtime import short
from .text import suggest

if TYPE_CHECKING:
    from .codegen import CodeGen


def _arity(fn: Function) -> str:
    lo, hi = fn.min_args, fn.max_args
    if lo == hi:
        return f"{lo} argument{'s' if lo != 1 else ''}"
    if hi == lo + 1:
        return f"{lo} or {hi} arguments"
    return f"at least {lo} argument{'s' if lo != 1 else ''}" if lo else f"at most {hi} arguments"


def guarded(fname: str, impl: Callable[..., Any]) -> Callable[..., Any]:
    """`impl` for arguments of type `any`: a value of the wrong kind is an EvalError naming the function."""

    def fn(*args: Any) -> Any:
        try:
            return impl(*args)
        except (TypeError, AttributeError, ArithmeticError) as e:  # decimal.InvalidOperation is an ArithmeticError
            shown = ", ".join(short(a) for a in args)
            raise EvalError(f"{fname}({shown}): an argument of the wrong type ({type(e).__name__})") from None

    return fn


def gen_call(cg: CodeGen, node: Node) -> Value:
    name = str(node.value)
    fn = FUNCTIONS.get(name)
    if fn is None:
        raise ExprError(f"unknown function '{name}'{suggest(name, list(FUNCTIONS))}", node.pos)
    if not fn.min_args <= len(node.args) <= fn.max_args:
        raise ExprError(f"function {name} expects {_arity(fn)}, got {len(node.args)}", node.pos)
    args = [cg.gen(a) for a in node.args]
    result: Type = fn.check(name, args)
    if name == "if":
        cond = cg.truth(args[0], "if")
        return Value(result, f"({args[1].code} if {cond} else {args[2].code})", node.pos, node.end)
    if name == "coalesce":
        chain = []
        for a in args[:-1]:
            assign, ref = cg.bind(a)
            if not assign:  # never null: later arguments can't be reached
                return Value(result, f"({' '.join(chain)} {ref})", node.pos, node.end, nullable=False)
            chain.append(f"{ref} if {assign} is not None else")
        return Value(result, f"({' '.join(chain)} {args[-1].code})", node.pos, node.end)
    assert fn.impl is not None
    if all(a.const is not NOCONST for a in args):
        # Pure function of literals: evaluate now, so bad literals are compile errors.
        try:
            value = fn.impl(*(a.const for a in args))
        except Exception as e:
            text = str(e)
            raise ExprError(text if text.startswith(f"{name}") else f"{name}: {text}", node.pos) from None
        return Value(result, cg.const(value), node.pos, node.end, nullable=value is None, const=value,
                     strict_bool=isinstance(value, bool) and result in (BOOL, ANY))  # fmt: skip
    impl = fn.impl
    if any(a.type == ANY for a in args):  # the static check let it through: check the kind when it runs
        impl, name = guarded(name, impl), name + "_any"
    code = f"{cg.helper('f_' + name, impl)}({', '.join(a.code for a in args)})"
    return Value(result, code, node.pos, node.end)
