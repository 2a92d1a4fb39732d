"""call: run a trusted Python function from `udfs/` for logic the expression language cannot say.

Analyst expressions are sandboxed; code in udfs/ is reviewed Python (the bank's promotion rules). The
function gets keyword arguments built by expressions and its result is stored under `as`.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any

from jobs.compiler import params as P
from jobs.compiler.expr import CompiledExpr
from jobs.compiler.types import ANY, TypeSpecError, parse_type
from jobs.nodes.base import DEFAULT_PORT, CompileContext, Compiled, Ctx, Env, NodeRuntime, Runtime

TYPE = "call"
DOC = ("Calls `function: module.name` from udfs/ with `args: {param: expression}` and stores the result as `as` "
       "(declare its type with `returns`). An exception sends the event to the dead-letter output.")
PARAMS = [
    P.Param("function", P.TEXT, "module.function inside udfs/, e.g. promotions.loan_offer.", True),
    P.Param("args", P.EXPR_MAP, "Keyword arguments: {parameter: expression}."),
    P.Param("as", P.NAME, "Where the result goes.", True),
    P.Param("returns", P.ANY, "The result's type (string, int, float, bool, timestamp, list<T>, map<T>, record).",
            schema={"type": ["string", "object"]}),
]
PORTS = (DEFAULT_PORT,)
MULTI_INPUT = False


def resolve(path: str) -> Any:
    module_name, _, func_name = path.rpartition(".")
    module = importlib.import_module(f"udfs.{module_name}")
    return getattr(module, func_name)


@dataclass
class CallRuntime(NodeRuntime):
    function: str
    args: list[tuple[str, CompiledExpr]]
    target: str
    _fn: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict:
        # ship the function's name, not the function: workers import it from udfs/
        return {**self.__dict__, "_fn": None}

    def process(self, ctx: Ctx, ts: int, rt: Runtime):
        if self._fn is None:
            self._fn = resolve(self.function)
        result = self._fn(**{name: expr.fn(ctx) for name, expr in self.args})
        return ((DEFAULT_PORT, {**ctx, self.target: result}),)


def summary(data: dict) -> str:
    """What `kairos graph` writes in the box."""
    return str(data.get("function", ""))


def compile(spec, params, env: Env, cc: CompileContext) -> Compiled | None:
    if "function" not in params or "as" not in params:
        return None
    path, loc = params["function"].value, params["function"].loc
    try:
        fn = resolve(path)
    except (ImportError, AttributeError, ValueError) as exc:
        cc.errors.error(loc, f"cannot find function '{path}' in udfs/: {exc}")
        return None
    args = {}
    if "args" in params:
        args = cc.expr_map(params["args"].value, env, "argument", sequential=False)
        if args is None:
            return None
    try:
        inspect.signature(fn).bind(**dict.fromkeys(args))
    except TypeError as exc:
        cc.errors.error(loc, f"arguments do not fit {path}: {exc}")
        return None
    result_type = ANY
    if "returns" in params:
        try:
            result_type = parse_type(params["returns"].value)
        except TypeSpecError as exc:
            cc.errors.error(params["returns"].loc, str(exc))
            return None
    target = params["as"].value
    cc.check_new_names([(target, params["as"].loc)], env, "result")
    runtime = CallRuntime(spec.id, path, list(args.items()), target)
    return Compiled(runtime, {DEFAULT_PORT: {**env, target: result_type}})
