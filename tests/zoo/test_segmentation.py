"""zoo.segmentation: the rjieba fast path must give exactly python jieba's cut(HMM=False)."""

import json

import jieba
import pytest
from conftest import DATA

from zoo.segmentation import Segmenter, default_segmenter

USER_DICT = DATA / "cail2020_sfzy" / "user_dict.txt"


def _python():
    tk = jieba.Tokenizer()
    tk.initialize()
    return tk


@pytest.fixture(scope="module")
def reference():
    return _python()


def _plain_texts():
    texts = []
    for path in sorted((DATA / "zh_plain_text").rglob("*")):
        if path.is_file() and path.name != "README.md":
            texts.extend(path.read_text(encoding="utf-8").split("\n"))
    return list(dict.fromkeys(texts))


def test_fast_path_equals_python_jieba_on_all_plain_text(reference):
    seg = default_segmenter()
    assert seg.is_fast
    texts = _plain_texts()
    assert sum(map(len, texts)) > 3_500_000
    bad = [t for t in texts if seg.cut(t) != list(reference.cut(t, HMM=False))]
    assert not bad, bad[:3]


def _cail_texts():
    texts = []
    for line in (DATA / "cail2020_sfzy" / "train.json").read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        texts.append(doc["summary"])
        texts.extend(s["sentence"] for s in doc["text"])
    return texts


def test_user_dict_matches_python_jieba():
    seg = Segmenter([USER_DICT])
    assert seg.is_fast
    reference = seg._python_tokenizer()  # python jieba's own Tokenizer + load_userdict (it only records add_word)
    texts = _cail_texts() + _plain_texts()[:400]
    assert [seg.cut(t) for t in texts] == [list(reference.cut(t, HMM=False)) for t in texts]
    assert "侵权责任纠纷" in seg.cut("原告与被告侵权责任纠纷一案。")  # a user-dict word


def test_total_frequency_correction(tmp_path):
    """python jieba adds a re-added word's frequency to its total, jieba-rs replaces it: the total decides
    routes, so without the correction the fast path would differ (checked: the naive replay does differ)."""
    import rjieba

    path = tmp_path / "user.txt"
    path.write_text("的 318825\n" * 100 + "甲乙丙 5 n\n", encoding="utf-8")
    seg = Segmenter([path])
    reference = seg._python_tokenizer()
    naive = rjieba.Jieba()
    for word, _, freq in seg._python_tokenizer().added:
        naive.add_word(word, freq, None)
    texts = _plain_texts()[:150]
    expected = [list(reference.cut(t, HMM=False)) for t in texts]
    assert [naive.cut(t, False) for t in texts] != expected
    assert seg.is_fast and [seg.cut(t) for t in texts] == expected


def test_rust_only_han_characters(tmp_path):
    """jieba-rs treats CJK extension/compatibility ideographs as han, python jieba does not."""
    path = tmp_path / "user.txt"
    path.write_text("𠀀𠀁 1000\n中国𪚥 1000\n", encoding="utf-8")
    seg = Segmenter([path])
    reference = seg._python_tokenizer()
    for text in ["他说𠀀𠀁很好", "中国𪚥人", "㐀㐁丽\uf900ab12", "abc𠀀def"]:
        assert seg.cut(text) == list(reference.cut(text, HMM=False))


def test_offsets_and_concatenation():
    seg = default_segmenter()
    text = "我爱北京天安门 \r\n T恤衫打8折，iPhone 12售价5999元😀"
    pieces = seg.cut_with_offsets(text)
    assert "".join(w for w, _, _ in pieces) == text
    assert all(text[s:e] == w for w, s, e in pieces)
    assert seg.cut("我爱北京天安门") == ["我", "爱", "北京", "天安门"]


def test_global_jieba_untouched_and_fallbacks(reference):
    before = jieba.dt.FREQ.get("侵权责任纠纷") if jieba.dt.initialized else None
    Segmenter([USER_DICT])._python_tokenizer()
    after = jieba.dt.FREQ.get("侵权责任纠纷") if jieba.dt.initialized else None
    assert before == after is None
    text = "今天天气很好，我想去公园玩。"
    slow = Segmenter(fast=False)
    assert not slow.is_fast and slow.cut(text) == list(reference.cut(text, HMM=False))
    hmm = Segmenter(hmm=True)
    assert not hmm.is_fast and hmm.cut("他来到了网易杭研大厦") == list(reference.cut("他来到了网易杭研大厦"))


def test_bad_inputs():
    seg = default_segmenter()
    assert seg.cut("") == [] and seg.cut_with_offsets("") == []
    assert seg.cut("\x00\u200b  \t") == list(jieba.Tokenizer().cut("\x00\u200b  \t", HMM=False))
    with pytest.raises(TypeError):
        seg.cut(b"bytes")
    with pytest.raises(FileNotFoundError):
        Segmenter(["/nonexistent/user_dict.txt"])
