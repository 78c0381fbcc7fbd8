"""ZooForLM as a Hugging Face LM: `labels` losses, tuple outputs, transformers' Trainer with stock collators."""

import math

import pytest
import torch
from conftest import VOCAB

import zoo

SENTENCES = ["今天天气很好，我们去公园散步吧。", "我喜欢吃苹果和香蕉。", "他在北京大学读书。",
             "这本书非常有意思，推荐给你。", "明天我们一起去看电影好吗？", "小猫在沙发上睡觉。"] * 4


def tiny(attention="bidirectional", vocab_size=60, seed=0, **kw):
    torch.manual_seed(seed)
    cfg = zoo.ZooConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, attention=attention, **kw)
    return zoo.ZooForLM(cfg).eval()


def token_log_probs(logits, targets):
    return torch.log_softmax(logits.double(), -1).gather(-1, targets[..., None])[..., 0]


def test_mlm_labels_score_each_position_and_ignore_minus_100():
    model = tiny()
    ids = torch.randint(5, 60, (2, 7))
    labels = torch.full_like(ids, -100)
    labels[0, 2], labels[1, 5], labels[1, 0] = 11, 12, 13
    out = model(ids, labels=labels)
    logp = token_log_probs(out.logits, labels.clamp(min=0))
    expected = -(logp[0, 2] + logp[1, 5] + logp[1, 0]) / 3
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_causal_labels_are_shifted_inside_the_model():
    model = tiny("causal")
    ids = torch.randint(5, 60, (2, 6))
    labels = ids.clone()
    labels[1, 3] = -100
    out = model(ids, labels=labels)
    logp = token_log_probs(out.logits[:, :-1], ids[:, 1:])
    keep = labels[:, 1:] != -100
    assert out.loss.item() == pytest.approx((-logp[keep].mean()).item(), rel=1e-5)


def test_unilm_labels_score_the_target_segment_like_the_seq2seq_loss():
    from mathwp.seq2seq import unilm_loss

    model = tiny("unilm")
    ids = torch.randint(5, 60, (2, 8))
    types = torch.tensor([[0, 0, 0, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1, 1, 0]])
    mask = torch.tensor([[1] * 8, [1] * 7 + [0]])
    out = model(ids, token_type_ids=types, attention_mask=mask, labels=ids)
    reference = unilm_loss(model, {"input_ids": ids, "token_type_ids": types, "attention_mask": mask})
    assert out.loss.item() == pytest.approx(reference.item(), rel=1e-5)
    with pytest.raises(ValueError, match="token_type_ids"):
        model(ids, labels=ids)


def test_return_dict_false_gives_a_tuple_with_the_loss_first():
    model = tiny("causal")
    ids = torch.randint(5, 60, (1, 5))
    full = model(ids, labels=ids)
    loss, logits, *_ = model(ids, labels=ids, return_dict=False)
    assert isinstance(model(ids, return_dict=False), tuple)
    assert torch.equal(loss, full.loss) and torch.equal(logits, full.logits)
    assert torch.equal(model(ids, return_dict=False)[0], full.logits)
    encoder = model.zoo
    hidden, *_ = encoder(ids, return_dict=False)
    assert isinstance(encoder(ids, return_dict=False), tuple)
    assert torch.equal(hidden, encoder(ids).last_hidden_state)


def test_labels_with_a_truncated_head_are_refused():
    model = tiny("causal")
    ids = torch.randint(5, 60, (1, 5))
    with pytest.raises(ValueError, match="logits_to_keep"):
        model(ids, labels=ids, logits_to_keep=1)


@pytest.mark.parametrize("mlm", [True, False])
def test_transformers_trainer_with_the_stock_collator_lowers_the_loss(tmp_path, mlm):
    from transformers import BertTokenizer, DataCollatorForLanguageModeling, Trainer, TrainingArguments, set_seed

    tok = BertTokenizer(vocab=str(VOCAB / "bert_chinese_vocab.txt"))
    assert tok.convert_tokens_to_ids("[MASK]") == 103
    model = tiny("bidirectional" if mlm else "causal", vocab_size=len(tok), add_pooler=False)
    features = [tok(s) for s in SENTENCES]
    collator = DataCollatorForLanguageModeling(tok, mlm=mlm, mlm_probability=0.3)
    set_seed(0)
    batch = collator(features[:6])  # one fixed (masked) batch to measure on

    def measure():
        model.eval()
        with torch.no_grad():
            return model(**batch).loss.item()

    before = measure()
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=6, max_steps=12,
                             learning_rate=3e-3, report_to=[], save_strategy="no", logging_steps=4, use_cpu=True,
                             seed=0, dataloader_num_workers=0)
    trainer = Trainer(model=model, args=args, train_dataset=features, data_collator=collator)
    trainer.train()
    after = measure()
    logged = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    assert math.isfinite(after) and after < before - 0.5, (before, after)
    assert logged and all(math.isfinite(x) for x in logged)
    # the Trainer's loss is the model's own: the first logged loss is near the untrained loss
    assert abs(logged[0] - before) < 1.5


def test_trainer_loss_with_num_items_in_batch_sums_then_divides():
    model = tiny("causal")
    ids = torch.randint(5, 60, (2, 6))
    mean = model(ids, labels=ids).loss
    total = model(ids, labels=ids, num_items_in_batch=20).loss
    assert total.item() == pytest.approx(mean.item() * 10 / 20, rel=1e-5)
