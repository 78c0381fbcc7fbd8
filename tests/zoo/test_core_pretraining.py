"""zoo.pretraining: char vocab, task buckets, dynamic masking and the three objectives on a tiny model."""

import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.pretraining import (
    IGNORE_INDEX,
    SPECIAL_TOKENS,
    build_char_vocab,
    collate_buckets,
    mask_tokens,
    pretraining_loss,
    task_buckets,
    text_chunks,
)
from zoo.tokenization import Tokenizer

TEXTS = ["今天天气很好，我们去公园散步。", "花呗分期怎么还款？", "iPhone 12 售价 5999 元", "今天加班到很晚"]


@pytest.fixture(scope="module")
def tokenizer():
    tokens = build_char_vocab(TEXTS, min_count=1, extra_tokens=["[n0]"])
    return Tokenizer({t: i for i, t in enumerate(tokens)})


def test_char_vocab_layout_and_coverage(tokenizer):
    tokens = [tokenizer.id_to_token(i) for i in range(len(tokenizer))]
    assert tokens[: len(SPECIAL_TOKENS)] == SPECIAL_TOKENS and tokens[len(SPECIAL_TOKENS)] == "[n0]"
    assert len(set(tokens)) == len(tokens)
    assert "##9" in tokens and "##p" in tokens and "##天" not in tokens  # continuation pieces only off CJK
    for text in TEXTS:  # ids, not tokenize(): that returns the text's pieces even for [UNK]
        assert tokenizer.token_to_id("[UNK]") not in tokenizer.encode(text)[0]
    assert "，" in tokens and "？" in tokens and "," not in tokens  # the tokenizer keeps full-width punctuation
    assert tokenizer.tokenize("5999")[1:-1] == ["5", "##9", "##9", "##9"]


def test_min_count_and_max_size_drop_rare_characters():
    tokens = build_char_vocab(TEXTS, min_count=2)
    assert "天" in tokens and "花" not in tokens
    small = build_char_vocab(TEXTS, min_count=1, max_size=len(SPECIAL_TOKENS) + 72 + 1)
    assert "天" in small and "花" not in small  # the single most frequent character is kept


def test_text_chunks_respect_the_budget_and_keep_the_text():
    text = "第一句话。" * 30 + "没有标点的长串" * 20
    chunks = text_chunks(text, 40)
    assert all(0 < len(c) <= 40 for c in chunks)
    assert "".join(chunks) == text


def examples(tokenizer):
    out = []
    for text in TEXTS:
        ids, _ = tokenizer.encode(text)
        out.append({"task": "mlm", "input_ids": ids, "token_type_ids": [0] * len(ids)})
        ids, types = tokenizer.encode(text, text[:3])
        out.append({"task": "seq2seq", "input_ids": ids, "token_type_ids": types})
        out.append({"task": "lm", "input_ids": ids, "token_type_ids": types, "labels": [IGNORE_INDEX] + ids[1:]})
    return out


def test_buckets_hold_one_task_sorted_and_capped(tokenizer):
    rows = task_buckets(examples(tokenizer), batch_size=3, seed=0, max_tokens=40)
    assert sorted(r["task"] for r in rows).count("mlm") == len([r for r in rows if r["task"] == "mlm"])
    assert sum(len(r["input_ids"]) for r in rows) == 12
    for r in rows:
        lengths = [len(x) for x in r["input_ids"]]
        assert lengths == sorted(lengths) and len(lengths) * max(lengths) <= max(40, max(lengths))
    with pytest.raises(ValueError, match="mixes"):
        collate_buckets([rows[0], next(r for r in rows if r["task"] != rows[0]["task"])], mask_id=4,
                        vocab_size=len(tokenizer), num_special=6)


def test_masking_rates_and_specials_are_never_targets():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(6, 100, (64, 128), generator=g)
    ids[:, 0], ids[:, -1] = 2, 3
    special = ids < 6
    source, labels = mask_tokens(ids, special, mask_id=4, vocab_size=100, first_regular=6, generator=g)
    targets = labels != IGNORE_INDEX
    assert not targets[special].any()
    assert 0.13 < targets.float().mean() < 0.17
    assert torch.equal(labels[targets], ids[targets]) and torch.equal(source[~targets], ids[~targets])
    masked = (source == 4) & targets
    assert 0.75 < masked.sum() / targets.sum() < 0.85
    assert (source[targets & (source != 4)] >= 6).all()


@pytest.fixture(scope="module")
def model(tokenizer):
    torch.manual_seed(0)
    config = zoo.ZooConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=64, position_embedding_type="relative", type_vocab_size=2,
                           attention="unilm", add_pooler=False)
    return zoo.ZooForLM(config).eval()


def test_each_objective_matches_a_direct_computation(tokenizer, model):
    rows = task_buckets(examples(tokenizer), batch_size=4, seed=0)
    for task, attention in (("seq2seq", "unilm"), ("lm", "causal")):
        batch = collate_buckets([next(r for r in rows if r["task"] == task)], mask_id=4, vocab_size=len(tokenizer),
                                num_special=6)
        loss = pretraining_loss(model, batch)
        assert model.config.attention == attention
        logits = model(batch["input_ids"], token_type_ids=batch["token_type_ids"],
                       attention_mask=batch["attention_mask"]).logits[:, :-1]
        if task == "seq2seq":
            keep = (batch["token_type_ids"][:, 1:] * batch["attention_mask"][:, 1:]).bool()
            target = batch["input_ids"][:, 1:]
        else:
            target = batch["labels"][:, 1:]
            keep = target != IGNORE_INDEX
        assert torch.allclose(loss, F.cross_entropy(logits[keep], target[keep]), atol=1e-5)


def test_mlm_sees_both_sides_and_scores_only_targets(tokenizer, model):
    torch.manual_seed(1)
    rows = task_buckets(examples(tokenizer), batch_size=4, seed=0)
    batch = collate_buckets([next(r for r in rows if r["task"] == "mlm")], mask_id=4, vocab_size=len(tokenizer),
                            num_special=6)
    batch["labels"][:] = IGNORE_INDEX
    batch["labels"][0, 2] = batch["input_ids"][0, 2]
    loss = pretraining_loss(model, batch)
    model.config.attention = "bidirectional"
    logits = model(batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert torch.allclose(loss, F.cross_entropy(logits[0, 2:3], batch["labels"][0, 2:3]), atol=1e-5)
    with pytest.raises(ValueError, match="unknown pre-training task"):
        pretraining_loss(model, {**batch, "task": "nsp"})
