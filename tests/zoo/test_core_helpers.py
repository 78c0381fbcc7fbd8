"""Shared helpers the packages use instead of their own copies: prompt batching, length buckets, vocab saving,
and the named model presets of each package."""

import random

import pytest
import torch

import zoo
from zoo.data import length_buckets, prompt_batch
from zoo.tokenization import load_vocab, save_vocab


def test_prompt_batch_left_pads_and_masks():
    batch = prompt_batch([[5, 6, 7], [8]], [[0, 0, 1], [1]], pad_id=3)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [3, 3, 8]]
    assert batch["token_type_ids"].tolist() == [[0, 0, 1], [0, 0, 1]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]
    plain = prompt_batch([[5], [6, 7]])
    assert plain["token_type_ids"].tolist() == [[0, 0], [0, 0]] and plain["input_ids"].tolist() == [[0, 5], [6, 7]]


def test_length_buckets_group_similar_lengths():
    items = [[0] * n for n in (5, 1, 3, 1, 4, 2)]
    assert [[len(x) for x in b] for b in length_buckets(items, 2)] == [[1, 1], [2, 3], [4, 5]]
    rows = [{"input_ids": [i] * (i % 3 + 1), "i": i} for i in range(12)]
    a = length_buckets(rows, 4, key=lambda r: len(r["input_ids"]), seed=1)
    b = length_buckets(rows, 4, key=lambda r: len(r["input_ids"]), seed=1)
    assert a == b and sorted(r["i"] for bucket in a for r in bucket) == list(range(12))
    assert all(len({len(r["input_ids"]) for r in bucket}) == 1 for bucket in a)  # 4 of each length
    rng = random.Random(1)  # ties broken by one draw per item in input order
    expected = sorted(rows, key=lambda r: (len(r["input_ids"]), rng.random()))
    assert [r for bucket in a for r in bucket] == expected


def test_save_vocab_round_trips_and_refuses_gaps(tmp_path):
    vocab = {"[PAD]": 0, "[UNK]": 1, "中": 2, "##文": 3}
    path = save_vocab(vocab, tmp_path / "vocab.txt")
    assert load_vocab(path) == vocab
    with pytest.raises(ValueError):
        save_vocab({"a": 0, "b": 2}, tmp_path / "bad.txt")


@pytest.mark.parametrize("family", ["nezha-gpt", "cdial-gpt"])
def test_dialog_presets(family):
    from dialog.presets import PRESETS, model_config

    cfg = model_config(family, 100, "tiny", maxlen=32, hidden_size=16)
    assert cfg.hidden_size == 16 and cfg.num_hidden_layers == PRESETS["tiny"]["num_hidden_layers"]
    assert cfg.position_embedding_type == ("relative" if family == "nezha-gpt" else "absolute")
    assert zoo.ZooForLM(cfg)(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 100)
    with pytest.raises(ValueError):
        model_config(family, 100, "huge")


def test_mathwp_and_summarize_presets():
    from mathwp.presets import model_config
    from summarize.presets import PRESETS, generator_config

    cfg = model_config(50, "tiny", maxlen=192)
    assert cfg.attention == "unilm" and cfg.max_position_embeddings == 256 and cfg.hidden_size == 32
    default = generator_config(50)
    assert (default.hidden_size, default.num_hidden_layers, default.num_attention_heads) == PRESETS["default"]
    custom = generator_config(50, "24,1,2", max_positions=64, positions="relative")
    assert (custom.hidden_size, custom.intermediate_size, custom.position_embedding_type) == (24, 96, "relative")
    with pytest.raises(ValueError):
        generator_config(50, "big")
