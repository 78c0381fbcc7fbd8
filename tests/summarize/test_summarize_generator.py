"""SPACES generator side: vocab derivation, seq2seq encoding, losses, training steps (spec §3.6, §8.7)."""

import random

import pytest
import torch
from conftest import DATA, VOCAB

import zoo
from summarize.generator import (SpacesForSummary, build_sample, collate, copy_loss, generator_loss,
                                 random_noise, sparse_softmax_loss)
from summarize.vocab import build_spaces_vocab, word_tokenizer

CAIL = DATA / "cail2020_sfzy"
SRC, TGT = "原告与被告侵权责任纠纷一案。", "原告提出诉求：判决被告赔偿原告医疗费。"
IDS = [2, 14710, 578, 14709, 14232, 14788, 409, 3, 2, 14710, 14726, 14736, 7936, 14712, 14709, 14745, 14710,
       14898, 409, 3]


@pytest.fixture(scope="module")
def tokenizer():
    return word_tokenizer(VOCAB / "derived" / "spaces_vocab.txt")


def tiny_config(vocab_size=40, **kw):
    return zoo.ZooConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=64, max_position_embeddings=128, attention="unilm", **kw)


def test_spaces_vocab_matches_derived_file():
    vocab, keep, compound = build_spaces_vocab(VOCAB / "bert_chinese_vocab.txt",
                                               [CAIL / "user_dict.txt", CAIL / "user_dict_2.txt"])
    with open(VOCAB / "derived" / "spaces_vocab.txt", encoding="utf-8") as f:
        expected = [line.rstrip("\n") for line in f]
    assert sorted(vocab, key=vocab.get) == expected
    assert len(keep) + len(compound) == len(vocab) == 16154
    assert all(0 < len(ids) and 1 not in ids for ids in compound[:50])  # words made of known chars


def test_seq2seq_encoding_vector(tokenizer):
    ids, segments = tokenizer.encode(SRC, TGT, maxlen=1024, pattern="S*ES*E")
    assert ids == IDS
    assert segments == [0] * 8 + [1] * 12
    assert tokenizer.ids_to_tokens(ids)[:7] == ["[CLS]", "原告", "与", "被告", "侵权责任纠纷", "一案", "。"]


def test_build_sample_without_noise_gives_spec_copy_labels(tokenizer):
    sample = build_sample(tokenizer, SRC, TGT, noise=0.0)
    assert sample["input_ids"] == sample["labels"] == IDS
    assert sample["copy_labels"] == [1, 2, 0, 1, 0, 0, 1, 2, 2, 0, 0, 0, 0, 1, 0, 0, 0, 1, 2]


def test_noise_draws_from_the_same_sequence():
    rng = random.Random(0)
    ids = list(range(100, 200))
    noisy = random_noise(ids, rng, 0.15)
    changed = sum(a != b for a, b in zip(ids, noisy))
    assert 3 <= changed <= 30 and set(noisy) <= set(ids)
    assert random_noise(ids, rng, 0.0) == ids


def test_sparse_softmax_loss_against_loop():
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 30)
    ids = torch.randint(0, 30, (2, 6))
    seg = torch.tensor([[0, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 0]])
    total, count = 0.0, 0
    for b in range(2):
        for t in range(5):
            if seg[b, t] and seg[b, t + 1]:
                top = logits[b, t].sort(descending=True).values[:10]
                total += torch.logsumexp(top, 0) - logits[b, t, ids[b, t + 1]]
                count += 1
    assert torch.allclose(sparse_softmax_loss(logits, ids, seg), total / count)
    # with k = vocab it is ordinary cross-entropy
    full = sparse_softmax_loss(logits, ids, seg, k=30)
    ce = torch.nn.functional.cross_entropy(logits[0, 2:5], ids[0, 3:6], reduction="sum")
    ce = ce + torch.nn.functional.cross_entropy(logits[1, 3:4], ids[1, 4:5], reduction="sum")
    assert torch.allclose(full, ce / 4)


def test_copy_loss_mask_covers_up_to_last_target_token():
    torch.manual_seed(0)
    logits = torch.randn(1, 6, 3)
    labels = torch.tensor([[0, 1, 2, 0, 1]])
    seg = torch.tensor([[0, 0, 1, 1, 0, 0]])  # last target token at index 3 -> positions 0..2 count
    expected = torch.nn.functional.cross_entropy(logits[0, :3], labels[0, :3])
    assert torch.allclose(copy_loss(logits, labels, seg), expected)


def test_generator_forward_shapes_and_round_trip(tmp_path):
    torch.manual_seed(0)
    model = SpacesForSummary(tiny_config())
    batch = collate([{"input_ids": [2, 5, 6, 3, 2, 7, 5, 3], "token_type_ids": [0, 0, 0, 0, 1, 1, 1, 1],
                      "labels": [2, 5, 6, 3, 2, 7, 5, 3], "copy_labels": [1, 2, 0, 1, 0, 0, 1]},
                     {"input_ids": [2, 5, 3, 2, 5, 3], "token_type_ids": [0, 0, 0, 1, 1, 1],
                      "labels": [2, 5, 3, 2, 5, 3], "copy_labels": [1, 0, 1, 0, 0]}])
    model.eval()
    out = model(batch["input_ids"], token_type_ids=batch["token_type_ids"], attention_mask=batch["attention_mask"])
    assert out.logits.shape == (2, 8, 40) and out.copy_logits.shape == (2, 8, 3)
    assert not any(isinstance(v, torch.Tensor) for v in vars(model).values())  # forward writes no attribute
    model.save_pretrained(tmp_path)
    again = SpacesForSummary.from_pretrained(tmp_path).eval()
    out2 = again(batch["input_ids"], token_type_ids=batch["token_type_ids"], attention_mask=batch["attention_mask"])
    assert torch.allclose(out2.copy_logits, out.copy_logits, atol=1e-6)
    lm = zoo.ZooForLM(tiny_config())
    wrapped = SpacesForSummary.from_lm(lm)
    assert torch.equal(wrapped.get_input_embeddings().weight, lm.get_input_embeddings().weight)


def test_generator_trains_a_few_steps_with_ema(tmp_path, tokenizer):
    from summarize.training import train_generator

    torch.manual_seed(0)
    records = [{"source_1": SRC, "source_2": SRC, "target": TGT}] * 4
    model = SpacesForSummary(tiny_config(vocab_size=len(tokenizer)))
    args = zoo.TrainingArguments(output_dir=str(tmp_path / "gen"), learning_rate=3e-3, batch_size=2, max_steps=12,
                                 ema_decay=0.9, log_every=1000, progress_bar=False, save_final_checkpoint=False,
                                 weight_decay=0.0, lr_schedule="constant")
    batch = collate([build_sample(tokenizer, SRC, TGT, noise=0.0)])
    model.eval()
    before = generator_loss(model, batch).item()
    trainer = train_generator(model, tokenizer, records, args)
    trainer.save_model(tmp_path / "saved")
    trained = SpacesForSummary.from_pretrained(tmp_path / "saved").eval()
    assert generator_loss(trained, batch).item() < before


def test_generator_loss_full_softmax_option():
    torch.manual_seed(0)
    model = SpacesForSummary(tiny_config()).eval()
    batch = collate([{"input_ids": [2, 5, 6, 3, 2, 7, 5, 3], "token_type_ids": [0, 0, 0, 0, 1, 1, 1, 1],
                      "labels": [2, 5, 6, 3, 2, 7, 5, 3], "copy_labels": [1, 2, 0, 1, 0, 0, 1]}])
    out = model(batch["input_ids"], token_type_ids=batch["token_type_ids"])
    ce = torch.nn.functional.cross_entropy(out.logits[0, 4:7], batch["labels"][0, 5:8])
    copy = copy_loss(out.copy_logits, batch["copy_labels"], batch["token_type_ids"])
    assert torch.allclose(generator_loss(model, batch, k_sparse=None), ce + 2 * copy, atol=1e-6)
    assert generator_loss(model, batch) < generator_loss(model, batch, k_sparse=None)


def test_generator_loss_projects_target_positions_only_with_the_same_value():
    torch.manual_seed(0)
    model = SpacesForSummary(tiny_config()).eval()
    batch = collate([{"input_ids": [2, 5, 6, 3, 2, 7, 5, 3], "token_type_ids": [0, 0, 0, 0, 1, 1, 1, 1],
                      "labels": [2, 5, 6, 3, 2, 7, 5, 3], "copy_labels": [1, 2, 0, 1, 0, 0, 1]},
                     {"input_ids": [2, 9, 3, 2, 8, 3], "token_type_ids": [0, 0, 0, 1, 1, 1],
                      "labels": [2, 9, 3, 2, 8, 3], "copy_labels": [0, 0, 0, 0, 0]}])
    out = model(batch["input_ids"], token_type_ids=batch["token_type_ids"], attention_mask=batch["attention_mask"])
    copy = copy_loss(out.copy_logits, batch["copy_labels"], batch["token_type_ids"])
    expected = sparse_softmax_loss(out.logits, batch["labels"], batch["token_type_ids"]) + 2 * copy
    assert torch.allclose(generator_loss(model, batch), expected, atol=1e-6)
