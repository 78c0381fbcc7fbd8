"""Readers for the ape210k / Math23K JSON-lines files and the original preprocessing (`load_data` of bert4keras' ape210k example)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .safe_math import MathEvalError, is_equal, safe_eval

_MIXED = re.compile(r"(\d+)\((\d+/\d+)\)")
_IMPLICIT_PLUS = re.compile(r"(\d+)\(")
_BRACKETED_FRACTION = re.compile(r"\((\d+/\d+)\)")
_PERCENT = re.compile(r"([\.\d]+)%")


@dataclass(frozen=True)
class Problem:
    """One record of an ape210k / Math23K file."""

    id: str
    text: str
    equation: str
    answer: str


def read_problems(path: str | Path) -> list[Problem]:
    """Read an ape210k / Math23K JSON-lines file (fields id, original_text, equation, ans)."""
    problems = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                problems.append(
                    Problem(str(record["id"]), record["original_text"], record["equation"], str(record["ans"]))
                )
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise ValueError(f"{path}:{lineno}: not an ape210k/Math23K record ({err})") from None
    return problems


def normalize_question(question: str) -> str:
    """Question side of the original `load_data`: mixed numbers to "(d+a/b)", then brackets dropped around plain fractions."""
    question = _MIXED.sub(r"(\1+\2)", question)
    return _BRACKETED_FRACTION.sub(r"\1", question)


def _normalize_formula(text: str) -> str:
    """Equation/answer side of the original `load_data`: percentages, mixed numbers, fractions, ratios."""
    text = _MIXED.sub(r"(\1+\2)", text)
    text = _IMPLICIT_PLUS.sub(r"\1+(", text)
    text = _PERCENT.sub(r"(\1/100)", text)
    return text.replace(":", "/").replace("%", "/100")


def _bracket_pairs(expr: str) -> list[tuple[int, int]]:
    """Matched (open, close) index pairs in order of closing; ValueError when unbalanced."""
    opens, pairs = [], []
    for i, c in enumerate(expr):
        if c == "(":
            opens.append(i)
        elif c == ")":
            if not opens:
                raise ValueError("unbalanced brackets")
            pairs.append((opens.pop(), i))
    return pairs


def remove_brackets(expr: str) -> str:
    """The original's `remove_bucket`: drop every bracket pair whose removal keeps the value (is_equal), in order of closing."""
    value = safe_eval(expr)
    for left, right in _bracket_pairs(expr):
        candidate = f"{expr[:left]} {expr[left + 1:right]} {expr[right + 1:]}"
        try:
            if is_equal(safe_eval(candidate.replace(" ", "")), value):
                expr = candidate
        except MathEvalError:
            pass
    return expr.replace(" ", "")


def prepare(original_text: str, equation: str, ans: str) -> tuple[str, str, str] | None:
    """The original's preprocessing (`load_data`): returns (question, expression, answer), or None where the
    original drops the sample (equation and answer do not evaluate to equal values)."""
    question = normalize_question(original_text)
    equation = _normalize_formula(equation)
    answer = _normalize_formula(ans)
    if equation[:2] == "x=":
        equation = equation[2:]
    try:
        if not is_equal(safe_eval(equation), safe_eval(answer)):
            return None
        return question, remove_brackets(equation), answer
    except (MathEvalError, ValueError):
        return None


def prepared(problems: list[Problem]) -> Iterator[tuple[Problem, tuple[str, str, str]]]:
    """Yield (problem, prepare(...)) for every problem the original keeps."""
    for p in problems:
        sample = prepare(p.text, p.equation, p.answer)
        if sample is not None:
            yield p, sample
