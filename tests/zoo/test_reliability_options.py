"""Fault probes for decoding options and huge inputs: zoo.generate length bounds, Summarizer options, ChatBot beam
search and bounded work on huge histories. Speed is a ratio against a normal input of the same length."""

import time
from collections import Counter

import pytest
import torch
from _dialog_helpers import CONTEXT, nezha_model, openai_gpt_layout
from conftest import DATA

import zoo
import zoo.generation
from dialog.chatbot import ChatBot
from summarize import Summarizer
from summarize.data import read_pairs
from summarize.extractor import ClauseExtractor
from summarize.generator import SpacesForSummary
from summarize.vocab import word_tokenizer

MAX_NEW_TOKENS_UNBOUNDED = getattr(zoo.generation, "MAX_NEW_TOKENS_UNBOUNDED", 65_536)


def _lm(position_embedding_type="absolute"):
    torch.manual_seed(0)
    cfg = zoo.ZooConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=40, attention="causal",
                        position_embedding_type=position_embedding_type)
    return zoo.ZooForLM(cfg).eval()


def test_generate_refuses_lengths_beyond_the_positions():
    model, ids = _lm(), torch.ones(2, 30, dtype=torch.long)
    assert zoo.generate(model, ids, max_new_tokens=10).shape == (2, 10)
    with pytest.raises(ValueError, match="max_position_embeddings=40"):
        zoo.generate(model, ids, max_new_tokens=11)
    with pytest.raises(ValueError, match="max_position_embeddings"):
        list(zoo.generation.stream(model, ids[:1], max_new_tokens=11))


def test_generate_caps_max_new_tokens_without_absolute_positions():
    model = _lm("relative")
    start = time.perf_counter()
    with pytest.raises(ValueError, match=str(MAX_NEW_TOKENS_UNBOUNDED)):
        zoo.generate(model, torch.ones(1, 3, dtype=torch.long), max_new_tokens=MAX_NEW_TOKENS_UNBOUNDED + 1)
    assert time.perf_counter() - start < 1  # refused before the cache is allocated and any step runs


# ---- summarizer ----


@pytest.fixture(scope="module")
def summarizer():
    text, summary = read_pairs(DATA / "cail2020_sfzy" / "train.json", limit=1)[0]
    chars = sorted(set(text + summary + "abcdefghijklmnopqrstuvwxyz0123456789") - set(" \n\t\u3000"))
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "原告", "被告"] + chars)}
    torch.manual_seed(0)
    cfg = zoo.ZooConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=256, attention="unilm",
                        position_embedding_type="relative")
    extractor = ClauseExtractor(input_size=32, hidden_size=16, threshold=0.5)
    return Summarizer(SpacesForSummary(cfg), word_tokenizer(vocab), extractor, max_new_tokens=6)


@pytest.mark.parametrize("options, match", [
    ({"max_new_tokens": 257}, "max_new_tokens"),  # 10**8 tried to allocate ~100 GB; 257 > the 256 positions
    ({"max_new_tokens": 0}, "max_new_tokens"),
    ({"min_new_tokens": 7, "max_new_tokens": 6}, "min_new_tokens"),
    ({"k_sparse": 0}, "k_sparse"),
    ({"k_sparse": -3}, "k_sparse"),
    ({"num_beams": 0}, "num_beams"),
    ({"max_new_tokens": 5.5}, "max_new_tokens"),
    ({"repetition_penalty": 0}, "repetition_penalty"),
    ({"copy": "yes"}, "copy"),
])
def test_summarizer_refuses_bad_options(summarizer, options, match):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=match):
        summarizer.summarize("原告张三诉称，被告李四借款一万元未还。", **options)
    assert time.perf_counter() - start < 5  # refused, not attempted


def test_summarizer_constructor_validates_defaults(summarizer):
    with pytest.raises(ValueError, match="k_sparse"):
        Summarizer(summarizer.generator, summarizer.tokenizer, max_new_tokens=6, k_sparse=0)


@pytest.mark.parametrize("text", ["原告\ud800张三诉称，被告李四借款\udcff一万元未还。", "\ud800"])
def test_summarizer_survives_lone_surrogates(summarizer, text):
    assert isinstance(summarizer.summarize(text, max_new_tokens=4), str)


def _best(fn, repeats=2):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def test_summarizer_long_word_costs_like_normal_text(summarizer):
    normal = ("原告张三诉称，被告李四借款一万元未还。" * 6000)[:100_000]
    for hostile in ("9" * 100_000, "https://example.com/" + "q" * 99_980):
        ratio = _best(lambda: summarizer.summarize(hostile, max_new_tokens=4)) / _best(
            lambda: summarizer.summarize(normal, max_new_tokens=4))
        assert ratio < 20, f"{hostile[:10]}...: {ratio:.0f}x the time of normal text"


# ---- chat ----


@pytest.fixture(scope="module")
def bots(tmp_path_factory):
    root = tmp_path_factory.mktemp("chat")
    nezha_model(root / "nezha")
    openai_gpt_layout(root / "openai-gpt")
    return {name: ChatBot.from_pretrained(root / name) for name in ("nezha", "openai-gpt")}


@pytest.mark.parametrize("name", ["nezha", "openai-gpt"])
def test_reply_with_beams_uses_beam_search(bots, name):
    bot = bots[name]
    out = bot.reply(CONTEXT, num_beams=3, max_new_tokens=5)
    assert isinstance(out, str)
    assert out == bot.reply(CONTEXT, num_beams=3, max_new_tokens=5)  # deterministic, unlike the sampling preset
    assert out == bot.reply_batch([CONTEXT], num_beams=3, max_new_tokens=5)[0]
    with pytest.raises(ValueError, match="reply"):
        list(bot.stream(CONTEXT, num_beams=3))
    with pytest.raises(ValueError, match="beam sampling"):
        bot.reply(CONTEXT, num_beams=3, do_sample=True)


@pytest.mark.parametrize("options, match", [
    ({"max_new_tokens": 10**4}, "max_new_tokens"), ({"min_new_tokens": 9, "max_new_tokens": 3}, "min_new_tokens"),
    ({"num_beams": 0}, "num_beams"), ({"max_history": -1}, "max_history"),
])
def test_chat_refuses_bad_options(bots, options, match):
    with pytest.raises(ValueError, match=match):
        bots["nezha"].reply(CONTEXT, **options)


@pytest.mark.parametrize("name", ["nezha", "openai-gpt"])
def test_history_is_tokenized_once_per_reply(bots, name, monkeypatch):
    bot = bots[name]
    calls = Counter()
    tokenize = bot.format.utterance_ids

    def counting(text):
        calls[text] += 1
        return tokenize(text)

    monkeypatch.setattr(bot.format, "utterance_ids", counting)
    history = CONTEXT * 40  # more than fits: truncation has to measure turns
    bot.prompt(history, max_new_tokens=8)
    assert calls and max(calls.values()) == 1, calls.most_common(3)


@pytest.mark.parametrize("name", ["nezha", "openai-gpt"])
def test_huge_history_costs_like_a_normal_one(bots, name):
    bot = bots[name]
    n = 100_000
    normal = [("你这样会失去我的，失去了又能怎样。" * (n // 17 + 1))[:n]]
    for hostile in (["x" * n], ["9" * n], CONTEXT + ["好" * n], ["失去了 " * (n // 4)] * 3):
        ratio = _best(lambda: bot.prompt(hostile, max_new_tokens=8)) / max(
            _best(lambda: bot.prompt(normal, max_new_tokens=8)), 1e-3)
        assert ratio < 20, f"{hostile[-1][:10]}...: {ratio:.0f}x"
        prompt = bot.prompt(hostile, max_new_tokens=8)
        assert len(prompt.input_ids) <= bot.max_length - 8
