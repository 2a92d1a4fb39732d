"""The analyst expression language: a safe, SQL-like language checked once and compiled to a Python function.

    ce = compile_expression("amount > 100 and segment in ('gold', 'silver')", {"amount": INT, "segment": STRING})
    ce({"amount": 150, "segment": "gold"})  # True

See docs/expressions.md for the language and docs/decisions/0005-expression-language.md for the design.
"""

from .api import CompiledExpr, check_condition, compile_expression
from .errors import EvalError, ExprError
from .functions import FUNCTIONS, Function

__all__ = ["FUNCTIONS", "CompiledExpr", "EvalError", "ExprError", "Function", "check_condition", "compile_expression"]
