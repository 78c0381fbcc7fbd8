"""ChatBot on tiny random models: the NEZHA-GPT format (zoo model, relative positions) and the two CDial-GPT hub
layouts (transformers' OpenAIGPTLMHeadModel / GPT2LMHeadModel saved with the real CDial vocab)."""

import json

import pytest
import torch
from _dialog_helpers import CONTEXT, gpt2_layout, nezha_model, openai_gpt_layout

from dialog.chatbot import ChatBot
from dialog.formats import DialogInputError


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("dialog_models")
    hf = {"openai-gpt": openai_gpt_layout(root / "openai-gpt"), "gpt2": gpt2_layout(root / "gpt2")}
    nezha_model(root / "nezha")
    return root, hf


@pytest.fixture(scope="module", params=["nezha", "openai-gpt", "gpt2"])
def bot(request, folders):
    return ChatBot.from_pretrained(folders[0] / request.param)


@pytest.mark.parametrize("layout", ["openai-gpt", "gpt2"])
def test_cdial_layouts_load_with_hf_logits(folders, layout):
    root, hf = folders
    bot = ChatBot.from_pretrained(root / layout)
    assert bot.family == "cdial-gpt"
    x = bot.format.build_inputs(CONTEXT[:2], CONTEXT[2])
    ids, types = torch.tensor([x.input_ids]), torch.tensor([x.token_type_ids])
    with torch.no_grad():
        expected = hf[layout](input_ids=ids, token_type_ids=types).logits
        got = bot.model(ids, token_type_ids=types).logits
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_family_and_presets(folders):
    root, _ = folders
    nezha = ChatBot.from_pretrained(root / "nezha")
    assert nezha.family == "nezha-gpt"
    assert nezha.preset["top_k"] == 5 and nezha.preset["max_new_tokens"] == 32
    cdial = ChatBot.from_pretrained(root / "gpt2")
    assert (cdial.preset["top_p"], cdial.preset["temperature"], cdial.preset["max_new_tokens"]) == (0.9, 0.7, 30)
    assert cdial.max_length == 513


def test_seeded_replies_are_reproducible(bot):
    a = bot.reply(CONTEXT, seed=7, max_new_tokens=12)
    assert isinstance(a, str)
    assert bot.reply(CONTEXT, seed=7, max_new_tokens=12) == a
    replies = {bot.reply(CONTEXT, seed=s, max_new_tokens=8) for s in range(6)}
    assert len(replies) > 1  # sampling, not greedy


def test_stream_joins_to_reply(bot):
    for seed in (1, 2):
        pieces = list(bot.stream(CONTEXT, seed=seed, max_new_tokens=16))
        assert "".join(pieces) == bot.reply(CONTEXT, seed=seed, max_new_tokens=16)
        assert all(pieces)
    greedy = list(bot.stream(CONTEXT, do_sample=False, max_new_tokens=16))
    assert "".join(greedy) == bot.reply_batch([CONTEXT], do_sample=False, max_new_tokens=16)[0]


def test_reply_batch_matches_single_greedy(bot):
    histories = [CONTEXT, CONTEXT[:1], ["你好"]]
    batch = bot.reply_batch(histories, do_sample=False, max_new_tokens=10)
    assert batch == [bot.reply(h, do_sample=False, max_new_tokens=10) for h in histories]
    assert bot.reply_batch([]) == []


def test_reply_length_and_end(bot):
    out = bot.reply_batch([CONTEXT], do_sample=False, max_new_tokens=4)
    assert len(bot.tokenizer.encode(out[0])[0]) - 2 <= 4


@pytest.mark.parametrize("history", [[], [""], ["   ", "\t"], ["哈" * 10000], ["☃☃☃ \U0001F600 ఋ"],
                                     ["好"] * 400])
def test_bad_inputs_give_a_reply(bot, history):
    assert isinstance(bot.reply(history, seed=0, max_new_tokens=5), str)


def test_invalid_arguments(bot):
    with pytest.raises(DialogInputError):
        bot.reply(["ok", None])
    with pytest.raises(DialogInputError):
        bot.reply_batch("not a list")
    with pytest.raises(TypeError):
        bot.reply(CONTEXT, beam_width=3)
    with pytest.raises(ValueError):
        bot.reply(CONTEXT, max_new_tokens=0)
    with pytest.raises(ValueError):
        bot.reply(CONTEXT, max_new_tokens=10_000)


def test_prompt_truncation_keeps_latest_turns(folders):
    bot = ChatBot.from_pretrained(folders[0] / "gpt2", max_history=None)
    long = [f"第{i}句话" * 20 for i in range(40)]
    prompt = bot.prompt(long, max_new_tokens=30)
    assert len(prompt) <= 513 - 30
    kept = bot.format.truncate_history(long, 513 - 30)
    assert kept == long[-len(kept):] and len(kept) < len(long)
    assert prompt.input_ids == bot.format.build_inputs(kept).input_ids
    cdial = ChatBot.from_pretrained(folders[0] / "gpt2")  # interact.py default: the last 2*2+1 utterances
    assert cdial.prompt(CONTEXT * 3, 30, cdial.preset["max_history"]).input_ids == cdial.format.build_inputs((CONTEXT * 3)[-5:]).input_ids


def test_unknown_family_and_missing_vocab(folders, tmp_path):
    with pytest.raises(ValueError):
        ChatBot.from_pretrained(folders[0] / "nezha", family="other")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(FileNotFoundError):
        ChatBot.from_pretrained(tmp_path)


def test_stream_pieces_for_mixed_text(folders, monkeypatch):
    """Latin words, digits and punctuation are held back until settled, so the pieces join to the full decode."""
    import zoo.generation

    bot = ChatBot.from_pretrained(folders[0] / "nezha")
    tokens = ["我", "用", "iphone", "1", ".", "5", "年", "，", "ok", "!", "好", "…", "a", "[SEP]", "不"]
    ids = [bot.tokenizer.token_to_id(t) for t in tokens]
    monkeypatch.setattr(zoo.generation, "stream", lambda *a, **k: iter(ids))
    pieces = list(bot.stream(["你好"]))
    assert "".join(pieces) == bot.tokenizer.decode(ids[:13])
    assert len(pieces) > 3 and all(pieces)
