"""Safe evaluation of arithmetic expressions written by a model: a whitelist parser, never `eval`.

Grammar (Python's precedence, `**` right-associative and binding tighter than a unary sign on its left):

    expr  := term (("+" | "-") term)*
    term  := unary (("*" | "/") unary)*
    unary := ("+" | "-") unary | power
    power := atom ("**" unary)?
    atom  := NUMBER | "(" expr ")"

Arithmetic is exact with `fractions.Fraction`; a float appears only when a power has a non-integer exponent.
Every cost is bounded before it is paid (length, nesting depth, exponent, size of numerator/denominator), so
hostile input is refused with `MathEvalError` within milliseconds. `MathEvalError` is the only exception: a float
meeting a fraction too large for a float, a float power that underflows to a division by zero, a number too long
to convert, all map to it, and its message is at most `MAX_MESSAGE` characters.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

Number = Fraction | float

MAX_LENGTH = 1000  # characters of the expression
MAX_DEPTH = 100  # nested brackets / unary signs / right-nested powers
MAX_EXPONENT = 10_000  # |integer exponent| unless the base is 0, 1 or -1
MAX_BITS = 10_000  # bit length of any numerator or denominator
MAX_MESSAGE = 200  # characters of a MathEvalError message

_TOKEN = re.compile(r"\s*(?:([0-9]+\.?[0-9]*|\.[0-9]+)|(\*\*|[-+*/()]))")


class MathEvalError(ValueError):
    """An expression that `safe_eval` refuses or cannot evaluate; the message (at most `MAX_MESSAGE` characters)
    says why."""

    def __init__(self, message: str):
        message = str(message)
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 3] + "..."
        super().__init__(message)


def _show(text: str, limit: int = 24) -> str:
    """A token or number for an error message: long ones are cut and say how long they were."""
    text = str(text)
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


def _show_int(n: int) -> str:
    return str(n) if n.bit_length() <= 64 else f"a {n.bit_length()}-bit number"


@dataclass(frozen=True)
class Limits:
    """Cost limits of `safe_eval`."""

    max_length: int = MAX_LENGTH
    max_depth: int = MAX_DEPTH
    max_exponent: int = MAX_EXPONENT
    max_bits: int = MAX_BITS


def _tokenize(expr: str) -> list[tuple[str, str]]:
    """Split into ("num", text) and ("op", text) tokens; anything else is refused."""
    tokens, pos = [], 0
    stripped_end = len(expr.rstrip())
    while pos < stripped_end:
        m = _TOKEN.match(expr, pos)
        if m is None:
            bad = expr[pos:].lstrip()[:20]
            raise MathEvalError(f"unexpected character(s) at position {pos}: {bad!r}")
        tokens.append(("num", m.group(1)) if m.group(1) else ("op", m.group(2)))
        pos = m.end()
    return tokens


class _Parser:
    """Recursive-descent evaluator over the token list, with depth and size checks."""

    def __init__(self, tokens: list[tuple[str, str]], limits: Limits):
        self.tokens = tokens
        self.i = 0
        self.depth = 0
        self.limits = limits

    def peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def enter(self) -> None:
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise MathEvalError(f"nesting deeper than {self.limits.max_depth}")

    def parse(self) -> Number:
        if not self.tokens:
            raise MathEvalError("empty expression")
        value = self.expr()
        if self.i != len(self.tokens):
            raise MathEvalError(f"unexpected {_show(self.peek())} after a complete expression")
        return value

    def expr(self) -> Number:
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()[1]
            rhs = self.term()
            value = self.check(value + rhs if op == "+" else value - rhs)
        return value

    def term(self) -> Number:
        value = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()[1]
            rhs = self.unary()
            if op == "*":
                value = self.check(value * rhs)
            else:
                if rhs == 0:
                    raise MathEvalError("division by zero")
                value = self.check(value / rhs)
        return value

    def unary(self) -> Number:
        if self.peek() in ("+", "-"):
            op = self.take()[1]
            self.enter()
            value = self.unary()
            self.depth -= 1
            return -value if op == "-" else value
        return self.power()

    def power(self) -> Number:
        base = self.atom()
        if self.peek() != "**":
            return base
        self.take()
        self.enter()
        exponent = self.unary()
        self.depth -= 1
        return self.check(_power(base, exponent, self.limits))

    def atom(self) -> Number:
        if self.i >= len(self.tokens):
            raise MathEvalError("expression ends where a number was expected")
        kind, text = self.take()
        if kind == "num":
            try:
                value = Fraction(text)
            except ValueError:  # a literal over Python's int/str digit limit (possible with custom limits)
                raise MathEvalError(f"number {_show(text)} is too long") from None
            return self.check(value)
        if text != "(":
            raise MathEvalError(f"unexpected {_show(text)} where a number was expected")
        self.enter()
        value = self.expr()
        if self.peek() != ")":
            raise MathEvalError("unbalanced parenthesis")
        self.take()
        self.depth -= 1
        return value

    def check(self, value: Number) -> Number:
        """Refuse results that are too large (exact) or not finite (float)."""
        if isinstance(value, float):
            if not math.isfinite(value):
                raise MathEvalError("result is not finite")
            return value
        if max(value.numerator.bit_length(), value.denominator.bit_length()) > self.limits.max_bits:
            raise MathEvalError(f"result larger than {self.limits.max_bits} bits")
        return value


def _power(base: Number, exponent: Number, limits: Limits) -> Number:
    """base ** exponent, exact for integer exponents, refusing the expensive or complex cases up front."""
    if isinstance(exponent, Fraction) and exponent.denominator == 1:
        e = exponent.numerator
        if base == 0 and e < 0:
            raise MathEvalError("zero to a negative power")
        if isinstance(base, Fraction) and base in (0, 1, -1):
            return base**e
        if abs(e) > limits.max_exponent:
            raise MathEvalError(f"exponent {_show_int(e)} larger than {limits.max_exponent}")
        if isinstance(base, Fraction):
            bits = max(base.numerator.bit_length(), base.denominator.bit_length())
            if bits * abs(e) > limits.max_bits:
                raise MathEvalError(f"power would exceed {limits.max_bits} bits")
            return base**e
        try:
            return base**e
        except (OverflowError, ZeroDivisionError) as err:
            raise MathEvalError(f"power failed: {err}") from None
    if base < 0:
        raise MathEvalError("negative base with a non-integer exponent (complex result)")
    if base == 0 and exponent < 0:
        raise MathEvalError("zero to a negative power")
    try:
        return float(base) ** float(exponent)
    except OverflowError:
        raise MathEvalError("power overflows a float") from None


def safe_eval(expr: str, limits: Limits | None = None) -> Number:
    """Evaluate an arithmetic expression (numbers, + - * / **, brackets, unary signs) exactly.

    Returns a `Fraction` (or a float when a power has a non-integer exponent). Raises `MathEvalError` for
    anything else: names, calls, attributes, strings, bad syntax, division by zero, or a cost over `limits`.
    """
    limits = limits or Limits()
    if not isinstance(expr, str):
        raise MathEvalError(f"expected a string expression, got {type(expr).__name__}")
    if len(expr) > limits.max_length:
        raise MathEvalError(f"expression longer than {limits.max_length} characters")
    try:
        return _Parser(_tokenize(expr), limits).parse()
    except OverflowError:  # a float meeting a fraction beyond the float range
        raise MathEvalError("a value is too large to combine with a float") from None
    except ZeroDivisionError:  # a float that underflowed to 0 used as a divisor or negative-power base
        raise MathEvalError("division by zero (a value underflowed to 0 as a float)") from None
    except RecursionError:  # only with a custom max_depth beyond Python's recursion limit
        raise MathEvalError("nesting too deep for this Python's recursion limit") from None


def is_equal(a: Number | str | int, b: Number | str | int) -> bool:
    """The original metric: equal after rounding both values to 6 decimals (strings are `safe_eval`ed)."""
    a = safe_eval(a) if isinstance(a, str) else a
    b = safe_eval(b) if isinstance(b, str) else b
    try:
        return round(float(a), 6) == round(float(b), 6)
    except OverflowError:
        return a == b


def format_answer(value: Number, max_decimals: int = 6) -> str:
    """Display a value: "45", "12.5" (exact terminating decimals), "11/20" (other fractions), rounded floats."""
    if isinstance(value, int):
        value = Fraction(value)
    if isinstance(value, float):
        text = f"{round(value, max_decimals):.{max_decimals}f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    if value.denominator == 1:
        return _int_text(value.numerator)
    den = value.denominator
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    places = max(twos, fives)
    if den == 1 and places <= max_decimals:
        scaled = abs(value.numerator) * 10**places // value.denominator
        sign = "-" if value < 0 else ""
        return f"{sign}{scaled // 10**places}.{scaled % 10**places:0{places}d}"
    return f"{_int_text(value.numerator)}/{_int_text(value.denominator)}"


def fraction_text(value: Fraction) -> str:
    """``str(value)`` ("n" or "n/d") that never fails: past Python's int-to-str digit limit the parts are
    approximated as in ``format_answer``."""
    if value.denominator == 1:
        return _int_text(value.numerator)
    return f"{_int_text(value.numerator)}/{_int_text(value.denominator)}"


def _int_text(n: int) -> str:
    """Decimal text of ``n``; past Python's int-to-str digit limit an approximation such as "~1.2345e+5000"."""
    try:
        return str(n)
    except ValueError:
        pass
    drop = int((abs(n).bit_length() - 1) * math.log10(2)) - 16  # keeps 17 or 18 significant digits
    head = str(abs(n) // 10**drop)
    return f"{'-' if n < 0 else ''}~{head[0]}.{head[1:]}e+{drop + len(head) - 1}"
