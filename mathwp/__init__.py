"""ape210k math word problems: exact preprocessing, safe evaluation, a UniLM solver."""

from .data import Problem, prepare, read_problems
from .safe_math import MathEvalError, format_answer, is_equal, safe_eval

__all__ = [
    "MathEvalError",
    "Problem",
    "Solver",
    "format_answer",
    "is_equal",
    "prepare",
    "read_problems",
    "safe_eval",
]


def __getattr__(name):
    if name == "Solver":  # imports torch and the core only when asked for
        from .solver import Solver

        return Solver
    raise AttributeError(f"module 'mathwp' has no attribute {name!r}")
