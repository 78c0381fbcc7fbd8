"""Fault probes for mathwp.safe_eval: only MathEvalError, bounded messages, exact results (property test over
random expression trees against Python's own Fraction/float arithmetic)."""

import math
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mathwp.safe_math
from mathwp.safe_math import Limits, MathEvalError, format_answer, safe_eval
from mathwp.solver import SolveResult, evaluate_expression

MAX_MESSAGE = getattr(mathwp.safe_math, "MAX_MESSAGE", 200)

HOSTILE = [
    "2**0.5+2**4999",
    "(2**0.5/10**400)**-1",
    "2**0.5*10**400",
    "10**400/2**0.5",
    "(10**-400*2**0.5)**-1",
    "(1/10**400)**0.5/(1/10**400)**0.5",
    "0.5**2000/(0.5**2000)**1.5",
    "2**" + "9" * 900,
    "1+" + "9" * 990 + ")",
    "(" * 500 + "1",
    "2**0.5**" + "9" * 500,
]


@pytest.mark.parametrize("expr", HOSTILE)
def test_hostile_expressions_raise_only_math_eval_error(expr):
    with pytest.raises(MathEvalError) as err:
        safe_eval(expr)
    assert len(str(err.value)) <= MAX_MESSAGE
    value, answer, error = evaluate_expression(expr)  # what Solver.solve does with model output
    assert value is None and answer is None and error


def test_custom_limits_never_crash_on_huge_numbers():
    limits = Limits(max_length=20_000, max_bits=200_000, max_exponent=100_000)
    value = safe_eval("3**20000", limits)
    assert value == 3**20000
    text = format_answer(value)  # over Python's 4300-digit int->str limit
    assert text.startswith("~") and text.endswith("e+9542")  # 3**20000 has 9543 digits
    assert SolveResult("q", value=value).to_dict()["value"] == text
    with pytest.raises(MathEvalError, match="too long") as err:
        safe_eval("9" * 5000, limits)
    assert len(str(err.value)) <= MAX_MESSAGE


def test_huge_answer_text_is_a_faithful_approximation():
    import sys

    digits = sys.get_int_max_str_digits()
    if not digits:
        pytest.skip("this Python has no int->str digit limit")
    n = 7**20000
    text = format_answer(Fraction(n))
    mantissa, exponent = text[1:].split("e+")
    log = 20000 * math.log10(7)
    assert int(exponent) == math.floor(log)
    assert abs(float(mantissa) / 10 ** (log - math.floor(log)) - 1) < 1e-9
    assert format_answer(Fraction(-n, 3)).startswith("-~")


# ---- property test ----

LEAVES = st.one_of(
    st.integers(0, 1000).map(str),
    st.sampled_from(["0", "1", "0.5", "2.25", ".5", "3.", "10", "1000000"]),
)
EXPONENTS = st.one_of(
    st.integers(-4, 6).map(str),
    st.sampled_from(["0.5", "1.5", "-0.5", "400", "-400", "2000", "5000"]),
)


def _trees(leaves):
    def extend(children):
        binary = st.tuples(st.sampled_from("+-*/"), children, children)
        power = st.tuples(st.just("**"), children, EXPONENTS)
        unary = st.tuples(st.just("neg"), children)
        return st.one_of(binary, power, unary)

    return st.recursive(leaves, extend, max_leaves=12)


def _render(tree) -> str:
    if isinstance(tree, str):
        return tree
    if tree[0] == "neg":
        return f"-({_render(tree[1])})"
    op, a, b = tree
    return f"({_render(a)}){op}({_render(b)})"


class Undefined(Exception):
    pass


def _python_value(tree):
    """Python's own arithmetic on the tree: Fraction literals, float only from a non-integer power (as safe_eval
    promises); undefined where Python fails or the result is not a finite number or gets huge."""
    if isinstance(tree, str):
        return Fraction(tree)
    if tree[0] == "neg":
        return -_python_value(tree[1])
    op, a, b = tree
    x, y = _python_value(a), _python_value(b)
    try:
        if op == "+":
            value = x + y
        elif op == "-":
            value = x - y
        elif op == "*":
            value = x * y
        elif op == "/":
            value = x / y
        elif isinstance(y, Fraction) and y.denominator == 1:
            if isinstance(x, Fraction) and x not in (0, 1, -1) and abs(y) * max(
                    x.numerator.bit_length(), x.denominator.bit_length()) > 50_000:
                raise Undefined
            value = x ** int(y)
        else:
            if x < 0:
                raise Undefined  # complex
            value = float(x) ** float(y)
    except (ZeroDivisionError, OverflowError):
        raise Undefined from None
    if isinstance(value, complex) or (isinstance(value, float) and not math.isfinite(value)):
        raise Undefined
    return value


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_trees(LEAVES))
def test_safe_eval_matches_python_or_refuses(tree):
    expr = _render(tree)
    try:
        expected = _python_value(tree)
    except Undefined:
        expected = None
    try:
        got = safe_eval(expr, Limits(max_length=10**6))
    except MathEvalError as err:
        assert len(str(err)) <= MAX_MESSAGE
        return  # refusing is allowed (limits); any other exception fails the test
    assert expected is not None, f"{expr} evaluated to {got!r} where Python fails"
    assert type(got) is type(expected) and got == expected, expr


# ---- the solver on huge questions ----


def test_solver_reads_only_what_fits_of_a_huge_question(monkeypatch):
    """A 1M-character question is truncated before tokenizing: only a prefix of it is ever tokenized."""
    from mathwp import Solver

    solver = Solver.from_pretrained()
    solver.max_new_tokens = 8
    question = "小明有3个苹果，又买了5个，现在有几个？" * 50_000
    lengths, tokenize_spans = [], solver.tokenizer.tokenize_spans

    def spy(text, *args, **kwargs):
        lengths.append(len(text))
        return tokenize_spans(text, *args, **kwargs)

    monkeypatch.setattr(solver.tokenizer, "tokenize_spans", spy)
    with pytest.warns(UserWarning, match="truncated"):
        result = solver.solve(question)[0]
    assert any("truncated" in w for w in result.warnings)
    assert result.expression is not None
    assert lengths and max(lengths) < 20 * solver.maxlen, max(lengths)
