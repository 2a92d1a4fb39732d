"""call: run a trusted Python function from `udfs/` for logic the expression language cannot say.

Analyst expressions are sandboxed; code in udfs/ is reviewed Python (the bank's promotion rules). The
function gets keyword arguments built by expressions and its result is stored under `as`.
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass, field
from typing import Any

from jobs.lang import params as P
from jobs.lang.expr import CompiledExpr
from jobs.lang.types import ANY, TypeSpecError, parse_type
from jobs.nodes.base import DEFAULT_PORT, CompileContext, Compiled, Ctx, Env, Family, NodeRuntime, Runtime
from udfs import EXPORT_MARK, exported

TYPE = "call"
DOC = ("Calls `function: module.name` from udfs/ with `args: {param: expression}` and stores the result as `as` "
       "(declare its type with `returns`). An exception sends the event to the dead-letter output.")
PARAMS = [
    P.Param("function", P.TEXT, "module.function inside udfs/, e.g. promotions.loyalty_points; only functions "
            "the module marks with @udfs.export can be called.", True),
    P.Param("args", P.EXPR_MAP, "Keyword arguments: {parameter: expression}."),
    P.Param("as", P.NAME, "Where the result goes.", True),
    P.Param("returns", P.ANY, "The result's type (string, int, float, bool, timestamp, list<T>, map<T>, record).",
            schema={"type": ["string", "object"]}),
]
PORTS = (DEFAULT_PORT,)
MULTI_INPUT = False
FAMILY = Family.DECIDE


# module.function, module possibly dotted: no name may start with _ (no dunders, no private helpers)
_PATH = re.compile(r"^([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*)\.([A-Za-z][A-Za-z0-9_]*)$")


class UnknownFunction(LookupError):
    """`function:` names nothing a scenario may call."""


def resolve(path: str) -> Any:
    """The function `module.name` of udfs/, if that module exports it with @udfs.export; else UnknownFunction.

    Only the module's own namespace is consulted (vars(), not getattr), so attributes every module has,
    like __class__ or __loader__, and names it merely imported are out of reach.
    """
    match = _PATH.match(path)
    if match is None:
        raise UnknownFunction("write module.function, with names of letters, digits and _ not starting with _")
    module_name, func_name = match.groups()
    try:
        module = importlib.import_module(f"udfs.{module_name}")
    except ModuleNotFoundError as exc:
        if not f"udfs.{module_name}".startswith(exc.name or "?"):
            raise  # the module exists but imports something missing: a problem in udfs/, reported as such
        raise UnknownFunction(f"there is no module udfs/{module_name.replace('.', '/')}.py") from None
    namespace = vars(module)
    fn = namespace.get(func_name)
    if fn is None or getattr(fn, EXPORT_MARK, None) is not True:
        names = exported(namespace)
        offer = f"it exports: {', '.join(names)}" if names else "it exports no function"
        raise UnknownFunction(f"udfs.{module_name} does not export '{func_name}' ({offer}; mark a trusted "
                              f"function with @udfs.export){P.did_you_mean(func_name, names)}")
    return fn


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
    except UnknownFunction as exc:
        cc.errors.error(loc, f"cannot call '{path}': {exc}")
        return None
    except Exception as exc:  # noqa: BLE001 - importing trusted code failed (a bug in udfs/, not in the scenario)
        cc.errors.error(loc, f"cannot import the module of '{path}' from udfs/: {type(exc).__name__}: {exc}")
        return None
    args = {}
    if "args" in params:
        args = cc.expr_map(params["args"].value, env, "argument", sequential=False)
        if args is None:
            return None
    try:
        inspect.signature(fn).bind(**dict.fromkeys(args))
    except (TypeError, ValueError) as exc:
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
