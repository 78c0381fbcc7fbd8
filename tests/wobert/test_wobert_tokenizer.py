"""wobert.WoBertTokenizer: HF tokenizer with the exact bert4keras rule, hub layouts, offsets, batches, decode."""

import pytest
import torch
from _wobert_helpers import DECODE_VECTORS, WOBERT_VECTORS, hub_folder
from conftest import DATA, VOCAB

from transformers import AutoTokenizer
from wobert import WoBertTokenizer
from zoo.segmentation import default_segmenter
from zoo.tokenization import Tokenizer

MASK_TEXT = "今天[MASK]很好，我[MASK]去公园玩。"
JUNNYU_MASK_IDS = {
    "plus": [101, 8398, 103, 1722, 1266, 5661, 1909, 103, 752, 9804, 3188, 179, 102],
    "base": [2, 13814, 4, 2422, 1861, 7923, 2668, 4, 1242, 14772, 4280, 410, 3],
}


@pytest.fixture(scope="module", params=["plus", "base"])
def hub(request, tmp_path_factory):
    return request.param, hub_folder(tmp_path_factory, request.param)


@pytest.fixture(scope="module")
def plus(tmp_path_factory):
    return AutoTokenizer.from_pretrained(hub_folder(tmp_path_factory, "plus"))


def test_autotokenizer_loads_hub_layouts_and_vectors(hub):
    kind, folder = hub
    tok = AutoTokenizer.from_pretrained(folder)
    assert isinstance(tok, WoBertTokenizer)
    column = 1 if kind == "plus" else 2
    for row in WOBERT_VECTORS:
        if row[column] is not None:
            text, expected = row[0], row[column]
            assert tok(text)["input_ids"] == expected
            assert tok.bert4keras_encode(text)[0] == expected
            assert tok.encode(text) == expected
    assert tok(MASK_TEXT)["input_ids"] == JUNNYU_MASK_IDS[kind]


def test_offsets_on_every_vector(plus):
    for text, _, _ in WOBERT_VECTORS:
        enc = plus(text, return_offsets_mapping=True)
        tokens = plus.convert_ids_to_tokens(enc["input_ids"])
        assert enc["offset_mapping"][0] == (0, 0) and enc["offset_mapping"][-1] == (0, 0)
        for token, (start, end) in zip(tokens[1:-1], enc["offset_mapping"][1:-1]):
            assert 0 <= start < end <= len(text)
            if token != "[UNK]":
                assert text[start:end].lower().replace("é", "e") == token.removeprefix("##")


def test_batch_padding_truncation_tensors(plus):
    texts = ["我爱北京天安门", "T恤衫打8折，iPhone 12售价5999元"]
    enc = plus(texts, padding=True, truncation=True, max_length=8, return_tensors="pt", return_offsets_mapping=True)
    assert enc["input_ids"].shape == (2, 8) and enc["offset_mapping"].shape == (2, 8, 2)
    assert enc["input_ids"][0].tolist() == [101, 1909, 3101, 11447, 38331, 102, 0, 0]
    assert enc["attention_mask"][0].tolist() == [1] * 6 + [0, 0]
    assert enc["input_ids"][1].tolist()[-1] == 102
    pairs = plus(["我爱北京"], ["天安门"])
    assert pairs["input_ids"] == [[101, 1909, 3101, 11447, 102, 38331, 102]]
    assert pairs["token_type_ids"] == [[0, 0, 0, 0, 0, 1, 1]]
    left = plus(texts, padding="max_length", max_length=16, padding_side="left", return_offsets_mapping=True)
    assert left["input_ids"][0][:10] == [0] * 10 and left["offset_mapping"][0][:10] == [(0, 0)] * 10


def test_truncation_equals_bert4keras(plus):
    core = Tokenizer(VOCAB / "wobert_plus_vocab.txt", pre_tokenize=default_segmenter())
    first, second = "今天天气很好，我想去公园玩。", "科学空间：https://kexue.fm"
    for maxlen in (6, 9, 12, 20, 40):
        hf = plus(first, second, truncation=True, max_length=maxlen)
        assert [hf["input_ids"], hf["token_type_ids"]] == list(core.encode(first, second, maxlen=maxlen))
        assert plus(first, truncation=True, max_length=maxlen)["input_ids"] == core.encode(first, maxlen=maxlen)[0]


@pytest.mark.parametrize("text,expected", DECODE_VECTORS)
def test_decodes(plus, text, expected):
    ids = plus(text)["input_ids"]
    assert plus.bert4keras_decode(ids) == expected
    assert plus.bert4keras_decode(torch.tensor(ids)) == expected
    assert plus.decode(ids, skip_special_tokens=True) == " ".join(plus.convert_ids_to_tokens(ids)[1:-1]).replace(
        " ##", "")


def test_save_load_round_trip_with_user_dict(tmp_path, plus):
    plus.save_pretrained(tmp_path / "a")
    again = AutoTokenizer.from_pretrained(tmp_path / "a")
    assert isinstance(again, WoBertTokenizer) and again.get_vocab() == plus.get_vocab()
    text = "原告与被告侵权责任纠纷一案。"
    spaces = WoBertTokenizer(str(VOCAB / "derived" / "spaces_vocab.txt"),
                             user_dict_file=str(DATA / "cail2020_sfzy" / "user_dict.txt"))
    ids = spaces.bert4keras_encode(text)[0]
    assert ids == [2, 14710, 578, 14709, 14232, 14788, 409, 3]  # spec §8.7 (first half)
    spaces.save_pretrained(tmp_path / "b")
    assert (tmp_path / "b" / "jieba_user_dict.txt").is_file()
    assert AutoTokenizer.from_pretrained(tmp_path / "b")(text)["input_ids"] == ids


def test_spaces_pair_vector():
    spaces = WoBertTokenizer(str(VOCAB / "derived" / "spaces_vocab.txt"),
                             user_dict_file=str(DATA / "cail2020_sfzy" / "user_dict.txt"))
    ids, segs = spaces.bert4keras_encode("原告与被告侵权责任纠纷一案。", "原告提出诉求：判决被告赔偿原告医疗费。",
                                         maxlen=1024, pattern="S*ES*E")
    assert ids == [2, 14710, 578, 14709, 14232, 14788, 409, 3, 2, 14710, 14726, 14736, 7936, 14712, 14709, 14745,
                   14710, 14898, 409, 3]
    assert segs == [0] * 8 + [1] * 12


@pytest.mark.parametrize("text", [
    "", "   ", "\x00\x07\u200b\u200c\ufeff", "😀🙏🏻", "𠀀𠀁𪚥", "今天[MASK]很好", "a\u0301b", "[CLS][SEP]",
])
def test_bad_inputs(plus, text):
    enc = plus(text, return_offsets_mapping=True)
    assert enc["input_ids"][0] == 101 and enc["input_ids"][-1] == 102
    assert all(0 <= s <= e <= len(text) for s, e in enc["offset_mapping"])
    assert len(enc["offset_mapping"]) == len(enc["input_ids"])


def test_literal_mask_documented(plus):
    assert plus("今天[MASK]")["input_ids"] == [101, 8398, 103, 102]  # HF: a special token
    as_text = plus("今天[MASK]", split_special_tokens=True)["input_ids"]
    assert as_text == plus.bert4keras_encode("今天[MASK]")[0] and 103 not in as_text  # bert4keras: plain text


def test_megabyte_string(plus):
    text = ("新浪体育讯北京时间4月12日，在和马刺的比赛中，湖人取得了胜利。" * 40000)[:1_000_000]
    enc = plus(text, return_offsets_mapping=True)
    assert len(enc["input_ids"]) > 500_000
    assert max(e for _, e in enc["offset_mapping"]) <= len(text)


def test_errors(plus, tmp_path):
    with pytest.raises(ValueError):
        WoBertTokenizer(str(tmp_path / "missing.txt"))
    with pytest.raises(ValueError):
        plus(["a", "b"], ["c"])
    with pytest.raises(TypeError):
        plus.tokenize_with_offsets(3)
    with pytest.raises(ValueError):
        plus([["我", "爱"]], is_split_into_words=True, return_offsets_mapping=True)
    assert plus([["我", "爱"]], is_split_into_words=True)["input_ids"] == [[101, 1909, 3101, 102]]
