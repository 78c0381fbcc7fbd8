"""Solver self-consistency: sampled expressions vote on their exact values; greedy stays the default."""

from fractions import Fraction

import pytest
import torch
from conftest import VOCAB

import zoo
from mathwp import Solver
from mathwp.seq2seq import load_tokenizer
from mathwp.solver import SolveResult, evaluate_expression

QUESTIONS = ["学校把135本练习本平均分给3个班，每班多少本？", "一根电线长56米，用去4米，还剩多少米？"]


def greedy(expression: str) -> SolveResult:
    result = SolveResult(question="q", expression=expression)
    result.value, result.answer, result.error = evaluate_expression(expression)
    return result


def test_majority_value_wins_over_greedy():
    result = greedy("1+1")
    Solver._vote(result, ["1+2", "6/2", "(1", "2+1"])
    assert result.value == Fraction(3) and result.votes == 3
    assert result.expression == "1+2"


def test_tie_keeps_the_greedy_answer_and_refused_samples_do_not_vote():
    result = greedy("1+1")
    Solver._vote(result, ["1+2", "1+", "[n9]", "3+"])
    assert result.value == Fraction(2) and result.expression == "1+1" and result.votes == 1


def test_a_refused_greedy_expression_is_replaced_by_a_voted_one():
    result = greedy("(1+")
    assert result.error is not None
    Solver._vote(result, ["5*2", "(1"])
    assert result.value == Fraction(10) and result.error is None and result.votes == 1


def test_values_equal_after_rounding_share_a_vote():
    result = greedy("1/3")
    Solver._vote(result, ["0.3333333", "2"])
    assert result.value == Fraction(1, 3) and result.votes == 2


@pytest.fixture(scope="module")
def solver():
    torch.manual_seed(0)
    tokenizer = load_tokenizer(VOCAB / "derived" / "ape210k_simplified_vocab.txt")
    config = zoo.ZooConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=64, max_position_embeddings=256, type_vocab_size=2, attention="unilm")
    return Solver(zoo.ZooForLM(config).eval(), tokenizer, max_new_tokens=8)


def test_solve_with_samples_is_seeded_and_default_is_greedy(solver):
    plain = solver.solve(QUESTIONS)
    assert all(r.votes is None for r in plain)
    first = solver.solve(QUESTIONS, num_samples=4, seed=3)
    again = solver.solve(QUESTIONS, num_samples=4, seed=3)
    assert [r.expression for r in first] == [r.expression for r in again]
    for r, p in zip(first, plain):
        assert r.votes is None or 1 <= r.votes <= 5
        if r.votes is None:  # no candidate evaluated: the greedy result is left as it was
            assert r.expression == p.expression and r.error == p.error


@pytest.mark.parametrize("bad", [-1, 1.5, True, 65, 10**9])
def test_bad_num_samples(solver, bad):
    with pytest.raises(ValueError, match="num_samples"):
        solver.solve(QUESTIONS, num_samples=bad)


def test_stored_sampling_default_round_trips_and_zero_overrides_it(solver, tmp_path):
    """num_samples/temperature saved in mathwp.json become solve()'s default; num_samples=0 forces greedy."""
    tuned = Solver(solver.model, solver.tokenizer, max_new_tokens=8, num_samples=4, temperature=0.7)
    tuned.save_pretrained(tmp_path)
    loaded = Solver.from_pretrained(tmp_path)
    assert (loaded.num_samples, loaded.temperature) == (4, 0.7)
    by_default = loaded.solve(QUESTIONS, seed=3)
    explicit = solver.solve(QUESTIONS, num_samples=4, temperature=0.7, seed=3)
    assert [r.expression for r in by_default] == [r.expression for r in explicit]
    greedy_only = loaded.solve(QUESTIONS, num_samples=0)
    assert all(r.votes is None for r in greedy_only)
    assert [r.expression for r in greedy_only] == [r.expression for r in solver.solve(QUESTIONS)]
