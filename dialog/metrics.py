"""Dialog reply metrics on characters: BLEU-n (nltk sentence BLEU, smoothing method1, averaged) and distinct-n."""

from __future__ import annotations

from typing import Sequence


def _chars(text: str) -> list[str]:
    return list("".join(text.split()))


def bleu(hypotheses: Sequence[str], references: Sequence[str], n: int = 4) -> float:
    """Mean character-level sentence BLEU-n (uniform weights 1/n, nltk smoothing method1), in [0, 1]."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    if not hypotheses:
        raise ValueError("no hypotheses to score")
    weights = tuple([1.0 / n] * n)
    smooth = SmoothingFunction().method1
    total = 0.0
    for hyp, ref in zip(hypotheses, references):
        h, r = _chars(hyp), _chars(ref)
        if h and r:
            total += sentence_bleu([r], h, weights=weights, smoothing_function=smooth)
    return total / len(hypotheses)


def distinct(hypotheses: Sequence[str], n: int = 1) -> float:
    """Corpus distinct-n: unique character n-grams / all character n-grams over all hypotheses (0 if none)."""
    grams = [tuple(c[i:i + n]) for c in map(_chars, hypotheses) for i in range(len(c) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0
