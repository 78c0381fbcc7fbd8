"""mathwp: §4.2 preprocessing (spec §8.6 vectors, keep counts), safe evaluation and answer display."""

import ast
import operator
import time
from fractions import Fraction

import pytest
from conftest import DATA
from hypothesis import given, settings
from hypothesis import strategies as st

from mathwp import MathEvalError, format_answer, is_equal, prepare, read_problems, safe_eval
from mathwp.data import remove_brackets
from mathwp.safe_math import MAX_BITS

# --- §8.6 vectors -------------------------------------------------------------------------------------------


def test_vector_mixed_number_and_question_fractions():
    q = "一根电线长56米，第一次用去(1/4)，第二次用去(1/2)米，现在比原来短了多少米？"
    question, expr, answer = prepare(q, "x=56*(1/4)+(1/2)", "14(1/2)")
    assert question == "一根电线长56米，第一次用去1/4，第二次用去1/2米，现在比原来短了多少米？"
    assert expr == "56*1/4+1/2"
    assert answer == "(14+1/2)"


@pytest.mark.parametrize(
    "equation, ans, expr, answer",
    [
        ("x=(15/(15+1))*100%", "93.75%", "15/(15+1)*100/100", "(93.75/100)"),
        ("x=1*(1-10%)*(1-20%)/1", "72%", "1*(1-10/100)*(1-20/100)/1", "(72/100)"),
        ("x=(100*90%)+(100*80%)+((420-100-100)*50%)", "280", "100*90/100+100*80/100+(420-100-100)*50/100", "280"),
        ("x=(3600/((3/(2+3))))+(2700*(1-(20/27)))", "6700", "3600/(3/(2+3))+2700*(1-20/27)", "6700"),
        ("x=1-(1/5)-(1/4)", "(11/20)", "1-1/5-1/4", "(11/20)"),
    ],
)
def test_vectors_equations(equation, ans, expr, answer):
    assert prepare("题", equation, ans) == ("题", expr, answer)


def test_value_preserving_bracket_removal_changes_structure():
    assert remove_brackets("6*5/(1*1)+2") == "6*5/1*1+2"


def test_ratio_colon_and_leading_x():
    assert prepare("比是1:15", "x=1:(1+15)", "(1/16)") == ("比是1:15", "1/(1+15)", "(1/16)")


def test_dropped_samples():
    assert prepare("q", "x=1+1", "3") is None  # value mismatch
    assert prepare("q", "x=2^3", "8") is None  # `^` is not arithmetic here (the original's eval: XOR -> 1)
    assert prepare("q", "x=[1+2]*3", "9") is None  # brackets of another kind
    assert prepare("q", "x=5/0", "1") is None


def test_decode_space_and_answer_equality():
    assert is_equal(safe_eval("56* 1/4+1/2".replace(" ", "")), safe_eval("(14+1/2)"))


@pytest.mark.parametrize(
    "path, kept, total",
    [("ape210k/valid.ape.json", 4994, 4995), ("math23k/math23k_trainpool.jsonl", 5113, 5234)],
)
def test_keep_counts(path, kept, total):
    problems = read_problems(DATA / path)
    assert len(problems) == total
    assert sum(prepare(p.text, p.equation, p.answer) is not None for p in problems) == kept


def test_reader_rejects_bad_lines(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"id": 1, "original_text": "a", "equation": "x=1", "ans": "1"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match=":2:"):
        read_problems(f)


# --- safe_eval ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, value",
    [
        ("1+2*3", Fraction(7)),
        ("(1+2)*3", Fraction(9)),
        ("1/3+1/6", Fraction(1, 2)),
        ("3.14*(4+1)**2-3.14*4**2", Fraction(2826, 100)),
        ("-2**2", Fraction(-4)),
        ("2**-1", Fraction(1, 2)),
        ("2**3**2", Fraction(512)),
        ("--3", Fraction(3)),
        (" 1 + .5 ", Fraction(3, 2)),
        ("7.", Fraction(7)),
    ],
)
def test_safe_eval_values(expr, value):
    assert safe_eval(expr) == value


def test_safe_eval_float_only_for_fractional_powers():
    assert safe_eval("4**0.5") == pytest.approx(2.0)
    assert isinstance(safe_eval("4**0.5"), float)
    assert isinstance(safe_eval("4**2"), Fraction)


REFUSED = [
    "9**9**9**9",
    "2**100000000",
    "(" * 10_000 + "1" + ")" * 10_000,
    "(" * 200 + "1" + ")" * 200,
    "-" * 500 + "1",
    "__import__('os')",
    "os.system('ls')",
    "x",
    "abs(1)",
    "(1).real",
    "lambda: 1",
    "'1'+'2'",
    "1 if 1 else 2",
    "[1]",
    "2^3",
    "1//2",
    "5%3",
    "1e5",
    "0x10",
    "1_000",
    "1/0",
    "0**-1",
    "(-8)**(1/3)",
    "10**5000*10**5000",
    "2.0**0.5**-2000",
    "",
    "   ",
    "1+",
    "(1",
    "1)",
    "()",
    "2(3)",
    "1 2",
    "１+1",
    "1" * 2000,
]


@pytest.mark.parametrize("expr", REFUSED, ids=range(len(REFUSED)))
def test_safe_eval_refusals_are_fast(expr):
    start = time.perf_counter()
    with pytest.raises(MathEvalError):
        safe_eval(expr)
    assert time.perf_counter() - start < 0.05


def test_safe_eval_rejects_non_strings():
    with pytest.raises(MathEvalError):
        safe_eval(3)


_numbers = st.one_of(
    st.integers(0, 10**6).map(str),
    st.tuples(st.integers(0, 9999), st.integers(0, 999)).map(lambda t: f"{t[0]}.{t[1]}"),
)


def _expressions():
    def extend(children):
        binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/"]), children).map(
            lambda t: f"{t[0]}{t[1]}{t[2]}"
        )
        power = st.tuples(children, st.integers(-3, 3)).map(lambda t: f"({t[0]})**{t[1]}")
        return st.one_of(binary, children.map(lambda c: f"({c})"), children.map(lambda c: f"-{c}"), power)

    return st.recursive(_numbers, extend, max_leaves=12)


_AST_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
            ast.Pow: operator.pow}


def _python_value(expr: str) -> Fraction:
    """Independent reference: Python's own parser (precedence, associativity) and Fraction operators.
    Raises OverflowError where an intermediate value exceeds safe_eval's documented size limit."""

    def walk(node):
        if isinstance(node, ast.Constant):
            return Fraction(str(node.value))
        if isinstance(node, ast.UnaryOp):
            value = walk(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        value = _AST_OPS[type(node.op)](walk(node.left), walk(node.right))
        if max(value.numerator.bit_length(), value.denominator.bit_length()) > MAX_BITS:
            raise OverflowError
        return value

    return walk(ast.parse(expr, mode="eval").body)


@settings(max_examples=300, deadline=None)
@given(_expressions())
def test_safe_eval_matches_python_arithmetic(expr):
    try:
        expected = _python_value(expr)
    except (ZeroDivisionError, OverflowError):
        with pytest.raises(MathEvalError):
            safe_eval(expr)
        return
    assert safe_eval(expr) == expected


# --- is_equal / display -------------------------------------------------------------------------------------


def test_is_equal_rounds_to_six_decimals():
    assert is_equal(Fraction(1, 3), 0.3333333)
    assert not is_equal(Fraction(1, 3), 0.33333)
    assert is_equal("0.1+0.2", "0.3")
    assert is_equal(10**400, 10**400)


@pytest.mark.parametrize(
    "value, text",
    [
        (Fraction(45), "45"),
        (Fraction(25, 2), "12.5"),
        (Fraction(-3, 8), "-0.375"),
        (Fraction(11, 20), "0.55"),
        (Fraction(1, 3), "1/3"),
        (Fraction(-7, 6), "-7/6"),
        (2.0000000001, "2"),
        (1.41421356237, "1.414214"),
        (-0.0000001, "0"),
        (7, "7"),
    ],
)
def test_format_answer(value, text):
    assert format_answer(value) == text
