"""CAIL2020 ROUGE metric exactly as SPACES computes it (its `compute_metrics`).

SPACES segments both strings (jieba, HMM off, official user dictionary, or single characters), joins the
pieces with spaces and scores them with the python package ``rouge`` 1.0.1 (``Rouge().get_scores``, F values).
That package counts *distinct* n-grams (sets), splits the text into "sentences" on ``.`` and uses a set-based
union LCS for ROUGE-L; maintained packages (``rouge-score``, ``torchmetrics``) count n-gram multiplicities and
give different numbers, so the 1.0.1 algorithm is reproduced here, iteratively (no recursion limit).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

OFFICIAL_USER_DICT = Path(__file__).resolve().parent / "resources" / "cail2020_user_dict.txt"
_WEIGHTS = {"rouge-1": 0.2, "rouge-2": 0.4, "rouge-l": 0.4}


def segmenter(user_dict: str | None = str(OFFICIAL_USER_DICT)):
    """The shared exact jieba segmenter (HMM off) with one user dictionary (zoo's cache of segmenters)."""
    from zoo.segmentation import default_segmenter

    return default_segmenter([user_dict] if user_dict else [])


def cut_words(text: str, user_dict: str | Path | None = OFFICIAL_USER_DICT) -> list[str]:
    """jieba words with HMM off and the CAIL2020 user dictionary (SPACES' word unit)."""
    return segmenter(str(user_dict) if user_dict else None).cut(text)


def _ngrams(words: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def _f(overlap: int, hyp_count: int, ref_count: int) -> float:
    p = overlap / hyp_count if hyp_count else 0.0
    r = overlap / ref_count if ref_count else 0.0
    return 2.0 * ((p * r) / (p + r + 1e-8))


def _lcs_words(x: Sequence[str], y: Sequence[str]) -> set[str]:
    """Words of the LCS of x and y, backtracked with rouge 1.0.1's tie-breaking (left before up)."""
    n, m = len(x), len(y)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        row, prev, xi = table[i], table[i - 1], x[i - 1]
        for j in range(1, m + 1):
            row[j] = prev[j - 1] + 1 if xi == y[j - 1] else max(prev[j], row[j - 1])
    words, i, j = set(), n, m
    while i > 0 and j > 0:
        if x[i - 1] == y[j - 1]:
            words.add(x[i - 1])
            i, j = i - 1, j - 1
        elif table[i - 1][j] > table[i][j - 1]:
            i -= 1
        else:
            j -= 1
    return words


def rouge_f(hypothesis: str, reference: str) -> dict[str, float]:
    """``rouge`` 1.0.1 ``Rouge().get_scores(hyp, ref)[0][m]['f']`` for rouge-1/2/l on space-joined tokens.

    Raises ValueError where rouge 1.0.1 does (an empty hypothesis or reference after splitting on ".").
    """
    hyp = [" ".join(s.split()) for s in hypothesis.split(".") if len(s) > 0]
    ref = [" ".join(s.split()) for s in reference.split(".") if len(s) > 0]
    if not hyp:
        raise ValueError("Hypothesis is empty.")
    if not ref:
        raise ValueError("Reference is empty.")
    hyp_words = [w for s in hyp for w in s.split(" ")]
    ref_words = [w for s in ref for w in s.split(" ")]
    scores = {}
    for n in (1, 2):
        h, r = _ngrams(hyp_words, n), _ngrams(ref_words, n)
        scores[f"rouge-{n}"] = _f(len(h & r), len(h), len(r))
    union: set[str] = set()
    llcs = 0
    for ref_s in ref:
        ref_s_words = ref_s.split(" ")
        before = len(union)
        for hyp_s in hyp:
            union |= _lcs_words(ref_s_words, hyp_s.split(" "))
        llcs += len(union) - before
    scores["rouge-l"] = _f(llcs, len(set(hyp_words)), len(set(ref_words)))
    return scores


def _units(text: str, unit: str, user_dict: str | Path | None) -> Iterable[str]:
    if unit == "word":
        return cut_words(text, user_dict)
    if unit == "char":
        return text
    raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")


def rouge(hypothesis: str, reference: str, unit: str = "word",
          user_dict: str | Path | None = OFFICIAL_USER_DICT) -> dict[str, float]:
    """ROUGE-1/2/L F and the CAIL2020 ``main`` score (0.2 R1 + 0.4 R2 + 0.4 RL), as SPACES ``compute_metrics``.

    unit="word": jieba (HMM off) with the official CAIL2020 user dictionary; unit="char": characters.
    Where rouge 1.0.1 raises (e.g. an empty hypothesis) every score is 0.0, as in SPACES.
    """
    if not isinstance(hypothesis, str) or not isinstance(reference, str):
        raise TypeError("hypothesis and reference must be str")
    hyp = " ".join(_units(hypothesis, unit, user_dict))
    ref = " ".join(_units(reference, unit, user_dict))
    try:
        scores = rouge_f(hyp, ref)
    except ValueError:
        scores = dict.fromkeys(_WEIGHTS, 0.0)
    scores["main"] = sum(w * scores[k] for k, w in _WEIGHTS.items())
    return scores


def repeated_ngram_rate(text: str | Sequence[str], n: int = 3) -> float:
    """Share of n-gram occurrences that repeat an earlier n-gram of the same text (0 = no repetition).

    Characters for a str, items for a token list. Degenerate decoding ("的的的的…") drives it towards 1.
    """
    grams = [tuple(text[i:i + n]) for i in range(len(text) - n + 1)]
    if not grams:
        return 0.0
    return sum(c - 1 for c in Counter(grams).values()) / len(grams)


_BOILERPLATE = re.compile(
    r"^(审\s*判\s*长|审\s*判\s*员|代理审判员|人民陪审员|陪\s*审\s*员|书\s*记\s*员|法官助理|速\s*录\s*员|执\s*行\s*员)"
    r"|^[二〇○零一三四五六七八九十]{2,}年.{1,3}月.{1,4}日$"
    r"|本件与原本核对无异"
    r"|^[（(]\d{4}[)）].{0,24}号$"
    r"|人民法院$"
    r"|^[民刑行]\s*事\s*(判\s*决|裁\s*定|调\s*解)\s*书$"
)


def is_boilerplate(clause: str) -> bool:
    """Whether a clause of a Chinese court judgment is header or signature boilerplate: the court's name, the
    document kind, the case number, the judges'/clerk's signature lines, the date line, "本件与原本核对无异". None
    of the 131 such sentences of the 20 CAIL2020 judgments in ../shared is labelled as summary material."""
    return bool(_BOILERPLATE.search(clause.strip().rstrip("，。；：,.;:")))
