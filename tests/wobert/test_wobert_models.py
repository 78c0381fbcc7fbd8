"""wobert models, fill-mask and vocab tools on tiny random checkpoints in the hub layouts."""

import pytest
import torch
from _wobert_helpers import hub_folder, tiny_bert
from conftest import VOCAB

from wobert import (WoBertForMaskedLM, WoBertModel, WoBertTokenizer, build_word_vocab, convert_char_checkpoint,
                    fill_mask, simplify_vocab)
from wobert.vocab import WOBERT_SPECIALS, compound_tokens_for, save_vocab
from zoo.tokenization import load_vocab

@pytest.fixture(scope="module")
def plus_checkpoint(tmp_path_factory):
    folder = hub_folder(tmp_path_factory, "plus")
    reference = tiny_bert(folder, VOCAB / "wobert_plus_vocab.txt")
    return folder, reference


def test_masked_lm_matches_transformers_bert(plus_checkpoint):
    folder, reference = plus_checkpoint
    tok = WoBertTokenizer.from_pretrained(folder)
    model = WoBertForMaskedLM.from_pretrained(folder)
    enc = tok(["今天[MASK]很好，我[MASK]去公园玩。", "我爱北京天安门"], padding=True, return_tensors="pt")
    with torch.no_grad():
        ours = model(enc["input_ids"], token_type_ids=enc["token_type_ids"], attention_mask=enc["attention_mask"])
        theirs = reference(**enc)
    keep = enc["attention_mask"].bool()
    torch.testing.assert_close(ours.logits[keep], theirs.logits[keep], atol=1e-4, rtol=1e-4)
    encoder = WoBertModel.from_pretrained(folder)
    hidden = encoder(enc["input_ids"], token_type_ids=enc["token_type_ids"],
                     attention_mask=enc["attention_mask"]).last_hidden_state
    torch.testing.assert_close(hidden[keep], reference.bert(**enc).last_hidden_state[keep], atol=1e-4, rtol=1e-4)


def test_fill_mask_top_k_agrees_with_reference(plus_checkpoint):
    folder, reference = plus_checkpoint
    tok = WoBertTokenizer.from_pretrained(folder)
    model = WoBertForMaskedLM.from_pretrained(folder)
    text = "今天[MASK]很好，我[MASK]去公园玩。"
    result = fill_mask(model, tok, text, top_k=5)
    assert len(result) == 2 and all(len(r) == 5 for r in result)
    enc = tok(text, return_tensors="pt")
    with torch.no_grad():
        logits = reference(**enc).logits[0]
    positions = (enc["input_ids"][0] == tok.mask_token_id).nonzero().flatten()
    for row, pos in zip(result, positions):
        expected = tok.convert_ids_to_tokens(logits[pos].topk(5).indices.tolist())
        assert [t for t, _ in row] == expected
        assert all(a >= b for (_, a), (_, b) in zip(row, row[1:]))
    with pytest.raises(ValueError):
        fill_mask(model, tok, "没有掩码")


def test_save_and_reload(plus_checkpoint, tmp_path):
    folder, _ = plus_checkpoint
    model = WoBertForMaskedLM.from_pretrained(folder)
    model.save_pretrained(tmp_path)
    again = WoBertForMaskedLM.from_pretrained(tmp_path)
    ids = torch.tensor([[101, 1909, 3101, 11447, 38331, 102]])
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, again(ids).logits)


def test_build_word_vocab_reproduces_wobert_base():
    simplified, _ = simplify_vocab(load_vocab(VOCAB / "bert_chinese_vocab.txt"), WOBERT_SPECIALS)
    built = build_word_vocab(simplified, 20000)
    released = load_vocab(VOCAB / "wobert_base_vocab.txt")
    assert len(built) == len(released) == 33586
    assert all(released[t] == i for t, i in simplified.items())
    ours = {t for t, i in built.items() if i >= 13586}
    theirs = {t for t, i in released.items() if i >= 13586}
    assert len(ours & theirs) >= 19985  # spec §1.2: the rest is tie order at the cut-off


def test_build_word_vocab_from_corpus():
    base = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "我": 5}
    built = build_word_vocab(base, 3, corpus=["我爱北京天安门", "北京欢迎你", "北京天安门"])
    assert list(built)[6:] == ["北京", "天安门", "爱"]
    assert [built[t] for t in list(built)[6:]] == [6, 7, 8]
    with pytest.raises(ValueError):
        build_word_vocab(base, -1)


def test_convert_char_checkpoint(tmp_path):
    char_dir = tmp_path / "char"
    char_dir.mkdir()
    reference = tiny_bert(char_dir, VOCAB / "bert_chinese_vocab.txt")
    original = load_vocab(VOCAB / "bert_chinese_vocab.txt")
    simplified, keep = simplify_vocab(original, WOBERT_SPECIALS)
    words = build_word_vocab(simplified, 50)
    model = convert_char_checkpoint(char_dir, words, tmp_path / "wobert")
    emb = model.get_input_embeddings().weight.detach()
    ref_emb = reference.bert.embeddings.word_embeddings.weight.detach()
    ref_bias = reference.cls.predictions.bias.detach()
    bias = dict(model.named_parameters())["head.bias"].detach()
    assert emb.shape[0] == len(words) == 13586 + 50
    torch.testing.assert_close(emb[:13586], ref_emb[keep])
    torch.testing.assert_close(bias[:13586], ref_bias[keep])
    for word in ("一个", "中国", "我们"):
        char_ids = [original[c] for c in word]
        torch.testing.assert_close(emb[words[word]], ref_emb[char_ids].mean(0))
        torch.testing.assert_close(bias[words[word]], ref_bias[char_ids].mean(0))
    tok = WoBertTokenizer.from_pretrained(tmp_path / "wobert")
    assert tok.convert_ids_to_tokens(tok("一个中国")["input_ids"]) == ["[CLS]", "一个", "中国", "[SEP]"]
    again = WoBertForMaskedLM.from_pretrained(tmp_path / "wobert")
    torch.testing.assert_close(again.get_input_embeddings().weight, model.get_input_embeddings().weight)
    bad = dict(words)
    bad["[PAD]"], bad["一个"] = bad["一个"], bad["[PAD]"]
    with pytest.raises(ValueError):
        convert_char_checkpoint(char_dir, bad, tmp_path / "bad")


def test_vocab_helpers(tmp_path):
    assert compound_tokens_for(["中国", "☃"], {"[UNK]": 0, "中": 1, "国": 2}) == [[1, 2], [0]]
    path = save_vocab({"[PAD]": 0, "a": 1}, tmp_path / "v.txt")
    assert load_vocab(path) == {"[PAD]": 0, "a": 1}
    with pytest.raises(ValueError):
        save_vocab({"a": 1}, tmp_path / "bad.txt")
