"""The WoBERT tokenizer and the jieba segmenter pickle, deep-copy and fingerprint deterministically, so that
`datasets.map(..., num_proc=2)` works and its cache is reused."""

import copy
import json
import pickle

import pytest

from zoo.segmentation import Segmenter, default_segmenter

TEXTS = ["今天天气很好，我们去公园散步吧。", "他在北京大学读书", "小猫在沙发上睡觉", "欢迎使用WoBERT分词器！"] * 3


@pytest.fixture(scope="module")
def tok():
    from wobert import WoBertTokenizer, default_tokenizer_path

    return WoBertTokenizer.from_pretrained(default_tokenizer_path())


def test_segmenter_pickles_as_its_recipe_and_is_rebuilt(tmp_path):
    user = tmp_path / "user.txt"
    user.write_text("公园散步 100000\n", encoding="utf-8")
    seg = Segmenter([user])
    clone = pickle.loads(pickle.dumps(seg))
    assert clone.cut(TEXTS[0]) == seg.cut(TEXTS[0])
    assert "公园散步" in clone.cut(TEXTS[0])
    assert clone.user_dicts == seg.user_dicts and clone.hmm == seg.hmm and clone.is_fast == seg.is_fast
    slow = pickle.loads(pickle.dumps(Segmenter(fast=False)))
    assert not slow.is_fast and slow.cut(TEXTS[1]) == default_segmenter().cut(TEXTS[1])
    assert copy.deepcopy(seg).cut(TEXTS[0]) == seg.cut(TEXTS[0])


def test_tokenizer_pickles_and_deep_copies(tok):
    expected = tok(TEXTS)["input_ids"]
    assert pickle.loads(pickle.dumps(tok))(TEXTS)["input_ids"] == expected
    assert copy.deepcopy(tok)(TEXTS)["input_ids"] == expected


def test_tokenizer_with_a_user_dict_survives_pickling(tmp_path):
    from wobert import WoBertTokenizer, default_tokenizer_path

    user = tmp_path / "user.txt"
    user.write_text("公园散步 100000\n", encoding="utf-8")
    vocab = default_tokenizer_path() / "vocab.txt"
    tok = WoBertTokenizer(str(vocab), user_dict_file=str(user))
    clone = pickle.loads(pickle.dumps(tok))
    assert clone.core.tokenize_with_offsets(TEXTS[0]) == tok.core.tokenize_with_offsets(TEXTS[0])
    assert clone.user_dict_file == str(user)


def test_fingerprint_is_the_same_for_a_used_a_fresh_and_a_copied_tokenizer(tok):
    from datasets.fingerprint import Hasher

    from wobert import WoBertTokenizer, default_tokenizer_path

    fresh = WoBertTokenizer.from_pretrained(default_tokenizer_path())
    tok(TEXTS)  # fills the tokenizer's caches
    assert Hasher.hash(tok) == Hasher.hash(fresh) == Hasher.hash(copy.deepcopy(tok))
    assert Hasher.hash(pickle.loads(pickle.dumps(tok))) == Hasher.hash(fresh)


def test_datasets_map_with_two_processes_and_a_cached_second_run(tmp_path, tok):
    import datasets

    from wobert import WoBertTokenizer, default_tokenizer_path

    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps({"text": t}) for t in TEXTS), encoding="utf-8")
    ds = datasets.load_dataset("json", data_files=str(data), split="train", cache_dir=str(tmp_path / "cache"))

    def encode(batch, tokenizer):
        return tokenizer(batch["text"])

    first = ds.map(encode, batched=True, batch_size=3, num_proc=2, fn_kwargs={"tokenizer": tok})
    assert first["input_ids"] == tok(TEXTS)["input_ids"]
    files = sorted(f["filename"] for f in first.cache_files)

    other = WoBertTokenizer.from_pretrained(default_tokenizer_path())  # a new, equal tokenizer object
    second = ds.map(encode, batched=True, batch_size=3, num_proc=2, fn_kwargs={"tokenizer": other})
    assert second._fingerprint == first._fingerprint
    assert sorted(f["filename"] for f in second.cache_files) == files
    third = ds.map(lambda b: other(b["text"]), batched=True, num_proc=2)  # a closure over the tokenizer
    assert third["input_ids"] == first["input_ids"]
