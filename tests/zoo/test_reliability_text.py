"""Fault probes for text input: long words, huge texts, lone surrogates, hostile jieba user dictionaries.

Speed is checked as a ratio against a normal input of the same length in the same run, never as a wall-clock bound.
"""

import random
import time

import pytest
from conftest import VOCAB

import zoo.tokenization
from zoo.segmentation import Segmenter, default_segmenter
from zoo.tokenization import Tokenizer, load_vocab

# read this way so that, on code without the cap, the probes below fail one by one instead of at import
MAX_WORD_CHARS = getattr(zoo.tokenization, "MAX_WORD_CHARS", 200)

NORMAL = "今天天气很好，我想去公园玩。 hello world, 12 apples! "


@pytest.fixture(scope="module")
def char_vocab():
    return load_vocab(VOCAB / "bert_chinese_vocab.txt")


@pytest.fixture(scope="module")
def plus():
    return Tokenizer(VOCAB / "wobert_plus_vocab.txt", pre_tokenize=default_segmenter())


def _best_time(fn, repeats: int = 3) -> float:
    best = float("inf")
    for i in range(repeats):
        start = time.perf_counter()
        fn(i)
        best = min(best, time.perf_counter() - start)
    return best


def _ratio(make_tokenizer, hostile, n: int) -> float:
    """Time to tokenize ``hostile(n, i)`` over the time for a normal text of the same length; a fresh tokenizer
    per run so that no word is memoized."""
    normal = (NORMAL * (n // len(NORMAL) + 1))[:n]
    toks = [make_tokenizer() for _ in range(6)]
    t_normal = _best_time(lambda i: toks[i].tokenize(normal))
    t_hostile = _best_time(lambda i: toks[3 + i].tokenize(hostile(n, i)))
    return t_hostile / max(t_normal, 1e-3)


HOSTILE = {
    "letters": lambda n, i: "xyz"[i] * n,
    "digits": lambda n, i: str(i + 1) * n,
    "url": lambda n, i: "https://example.com/" + "qwe"[i] * (n - 20),
    "accented": lambda n, i: "éèê"[i] * n,
    "words_under_cap": lambda n, i: (("xqz"[i] + "ǂ" * (MAX_WORD_CHARS - 2)) + " ") * (n // MAX_WORD_CHARS),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_long_words_cost_like_normal_text(char_vocab, kind):
    # Increasing sizes: the old cubic WordPiece fails the ratio at the first size instead of hanging.
    for n in (2_000, 20_000, 100_000):
        ratio = _ratio(lambda: Tokenizer(char_vocab), HOSTILE[kind], n)
        assert ratio < 20, f"{kind}: {n} chars took {ratio:.0f}x the time of normal text"


def test_long_words_with_jieba_cost_like_normal_text(plus):
    for n in (2_000, 20_000, 100_000):
        ratio = _ratio(lambda: Tokenizer(plus.vocab, pre_tokenize=plus.pre_tokenize), HOSTILE["digits"], n)
        assert ratio < 20, f"{n} digits took {ratio:.0f}x the time of normal text"


def test_word_over_the_cap_is_one_unk(char_vocab):
    tok = Tokenizer(char_vocab)
    word = "ab" * (MAX_WORD_CHARS // 2 + 1)
    n = len(word)
    assert tok.tokenize_with_offsets("x " + word + " y") == [("x", 0, 1), (word, 2, 2 + n), ("y", 3 + n, 4 + n)]
    assert tok.encode(word)[0] == [tok.start_id, tok.unk_id, tok.end_id]
    # at the cap the word still goes through WordPiece, as without a cap (bert4keras 0.8.8)
    at_cap = "ab" * (MAX_WORD_CHARS // 2)
    assert tok.tokenize(at_cap) == Tokenizer(char_vocab, max_word_chars=None).tokenize(at_cap)
    assert tok.tokenize(at_cap).count("[UNK]") == 0 and len(tok.tokenize(at_cap)) > 3
    with pytest.raises(ValueError, match="max_word_chars"):
        Tokenizer(char_vocab, max_word_chars=0)


def test_wordpiece_window_changes_nothing(char_vocab):
    """The prefix-guided search is bert4keras 0.8.8's greedy longest match (its loop, written out here)."""
    rng = random.Random(0)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789ß"
    tok = Tokenizer(char_vocab)

    def reference(word):
        tokens, start = [], 0
        while start < len(word):
            stop = len(word)
            while stop > start:
                sub = ("##" if start > 0 else "") + word[start:stop]
                if sub in char_vocab:
                    break
                stop -= 1
            if start == stop:
                stop += 1
            tokens.append(sub)
            start = stop
        return tokens

    for _ in range(500):
        word = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60)))
        assert tok.tokenize(word)[1:-1] == reference(word), word


def _random_text(rng: random.Random, n: int) -> str:
    parts = ["今天", "天气", "很好", "，", "。", " ", "\n", "ΑΣ", "σ", "x\u0301", "\u0301", "hello", "WoBERT",
             "12", "3.5", "!", "?", ";", ",", "、", "\r\n", "\u200b", "科学空间", "https://kexue.fm", "İ", "\t"]
    out, size = [], 0
    while size < n:
        part = rng.choice(parts)
        out.append(part)
        size += len(part)
    return "".join(out)


@pytest.mark.parametrize("which", ["chars", "jieba"])
def test_early_truncation_gives_the_same_tokens(char_vocab, plus, which):
    tok = Tokenizer(char_vocab) if which == "chars" else plus
    rng = random.Random(1)
    for trial in range(40):
        text = _random_text(rng, rng.choice([300, 2_000, 9_000]))
        maxlen = rng.choice([3, 16, 64, 200])
        full = tok.tokenize(text)
        assert tok.tokenize(text, maxlen=maxlen) == full[: maxlen - 1] + full[-1:] if len(full) > maxlen else full
        other = _random_text(rng, rng.choice([50, 3_000]))
        # an int index of -2 is the same pop position as "right" but tokenizes everything
        for pattern in ("S*E*E", "S*ES*E"):
            assert tok.encode(text, other, maxlen=maxlen, pattern=pattern) == tok.encode(
                text, other, maxlen=maxlen, pattern=pattern, truncate_from=-2
            ), (trial, pattern)


def test_huge_text_with_maxlen_costs_like_a_short_one(plus):
    short, huge = NORMAL * 20, NORMAL * 20_000  # 1k vs 1M characters
    plus.encode(short, maxlen=128)
    t_short = _best_time(lambda i: plus.encode(short, maxlen=128))
    t_huge = _best_time(lambda i: plus.encode(huge, maxlen=128))
    assert plus.encode(huge, maxlen=128) == plus.encode(huge[:5000], maxlen=128)
    assert t_huge / max(t_short, 1e-3) < 20


@pytest.fixture(scope="module")
def python_jieba():
    return Segmenter(fast=False)


SURROGATE_TEXTS = ["\ud800", "a\ud800b", "中国\udcff人民银行", "\udc80\udc81今天天气", "𠀀\ud83d好"]


@pytest.mark.parametrize("text", SURROGATE_TEXTS)
def test_lone_surrogates_segment_like_python_jieba(python_jieba, text):
    fast, slow = default_segmenter(), python_jieba
    assert fast.is_fast
    assert fast.cut(text) == slow.cut(text)


@pytest.mark.parametrize("text", SURROGATE_TEXTS)
def test_lone_surrogates_tokenize(plus, python_jieba, text):
    pieces = plus.tokenize_with_offsets(text)
    assert pieces and all(text[a:b] for _, a, b in pieces)
    assert plus.tokenize(text) == Tokenizer(plus.vocab, pre_tokenize=python_jieba).tokenize(text)


def test_huge_user_dict_frequency_is_accepted_like_python_jieba(tmp_path):
    path = tmp_path / "user.txt"
    path.write_text(f"测试词语 {2**70}\n另一个词 5 n\n", encoding="utf-8")
    seg = Segmenter([path])
    text = "测试词语另一个词"
    assert seg.cut(text) == Segmenter([path], fast=False).cut(text) == ["测试词语", "另一个词"]


def test_user_dict_errors_name_the_line(tmp_path):
    path = tmp_path / "user.txt"
    path.write_bytes("好词 3\n".encode() + b"\xff\xfebad 2\n")
    with pytest.raises(ValueError, match=r"user\.txt, line 2: not UTF-8"):
        Segmenter([path])
