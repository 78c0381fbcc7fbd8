"""zoo.tokenization: the bert4keras tokenizer against the spec vectors (§8.1-8.3, §8.6) and real vocab files."""

import jieba
import pytest
from _wobert_helpers import DECODE_VECTORS, WOBERT_VECTORS
from conftest import VOCAB

from zoo.segmentation import default_segmenter
from zoo.tokenization import Tokenizer, _lowercase_and_normalize, load_vocab, simplify_vocab

SPECIALS4 = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]

@pytest.fixture(scope="module")
def plus():
    return Tokenizer(VOCAB / "wobert_plus_vocab.txt", pre_tokenize=default_segmenter())


@pytest.fixture(scope="module")
def base():
    return Tokenizer(VOCAB / "wobert_base_vocab.txt", pre_tokenize=default_segmenter())


@pytest.fixture(scope="module")
def char_vocab():
    return simplify_vocab(load_vocab(VOCAB / "bert_chinese_vocab.txt"), startswith=SPECIALS4)


def assert_offsets(tok: Tokenizer, text: str) -> None:
    """Every token's span, normalized, is the token (without ##) unless the token is [UNK]."""
    for token, start, end in tok.tokenize_with_offsets(text):
        assert 0 <= start < end <= len(text)
        if token in tok.vocab and token != tok.token_unk:
            stem = token[2:] if token.startswith("##") else token
            piece = "".join(c for c in _lowercase_and_normalize(text[start:end]) if c.isprintable())
            assert piece == stem, (text, token, start, end)


@pytest.mark.parametrize("text,plus_ids,base_ids", WOBERT_VECTORS)
def test_wobert_vectors(plus, base, text, plus_ids, base_ids):
    assert plus.encode(text)[0] == plus_ids
    if base_ids is not None:
        assert base.encode(text)[0] == base_ids
    assert_offsets(plus, text)
    assert_offsets(base, text)


def test_python_jieba_pre_tokenize_gives_the_same(plus):
    slow = Tokenizer(plus.vocab, pre_tokenize=lambda s: jieba.cut(s, HMM=False))
    for text, ids, _ in WOBERT_VECTORS:
        assert slow.encode(text)[0] == ids
        assert slow.tokenize_with_offsets(text) == plus.tokenize_with_offsets(text)


def test_fallback_is_chars_never_shorter_words(plus):
    # jieba gives 今天天气 (not in the vocab) although 今天 and 天气 are vocab words
    assert "今天" in plus.vocab and "天气" in plus.vocab
    assert plus.tokenize("今天天气")[1:-1] == ["今", "天", "天", "气"]


@pytest.mark.parametrize("text,expected", DECODE_VECTORS)
def test_decode_vectors(plus, text, expected):
    assert plus.decode(plus.encode(text)[0]) == expected


def test_encode_pairs_and_truncation(plus):
    assert plus.encode("我爱北京", "天安门") == ([101, 1909, 3101, 11447, 102, 38331, 102], [0, 0, 0, 0, 0, 1, 1])
    assert plus.encode("我爱北京", "天安门", pattern="S*ES*E") == (
        [101, 1909, 3101, 11447, 102, 101, 38331, 102], [0, 0, 0, 0, 0, 1, 1, 1])
    assert plus.encode("我爱北京天安门", maxlen=4) == ([101, 1909, 3101, 102], [0, 0, 0, 0])
    assert plus.tokenize("我爱北京天安门", maxlen=3) == ["[CLS]", "我", "[SEP]"]


def test_char_vocab_truncation(char_vocab):
    tok = Tokenizer(char_vocab[0])
    tokens = lambda *a, **k: tok.ids_to_tokens(tok.encode(*a, **k)[0])  # noqa: E731
    assert tokens("一二三四五六七八九十", "甲乙丙丁", maxlen=8) == "[CLS] 一 二 [SEP] 甲 乙 丙 [SEP]".split()
    assert tokens("一二三", "甲乙丙丁戊己庚辛", maxlen=8) == "[CLS] 一 二 [SEP] 甲 乙 丙 [SEP]".split()
    assert tokens("一二三四五六七八九十", maxlen=6, truncate_from="left") == "[CLS] 七 八 九 十 [SEP]".split()


def test_ape210k_encode_vector(char_vocab):
    tok = Tokenizer(char_vocab[0])
    ids, segs = tok.encode("学校把135本练习本平均分给3个班，每班多少本？", "135/3", maxlen=192)
    assert ids == [2, 2008, 3311, 2726, 8805, 3213, 5196, 637, 3213, 2296, 1670, 1044, 5212, 22, 600, 4306, 7922,
                   3578, 4306, 1812, 2106, 3213, 7941, 3, 8805, 18, 22, 3]
    assert segs == [0] * 24 + [1] * 4
    assert tok.decode(tok.encode("56*1/4+1/2")[0]) == "56* 1/4+1/2"


def test_simplified_vocab_matches_derived_and_released_files(char_vocab):
    new_vocab, keep = char_vocab
    assert new_vocab == load_vocab(VOCAB / "derived" / "ape210k_simplified_vocab.txt")
    assert len(new_vocab) == 13585
    original = load_vocab(VOCAB / "bert_chinese_vocab.txt")
    inverse = {i: t for t, i in original.items()}
    assert all(inverse[keep[i]] == t for t, i in new_vocab.items())
    five, _ = simplify_vocab(original, startswith=SPECIALS4 + ["[MASK]"])
    released = load_vocab(VOCAB / "wobert_base_vocab.txt")  # WoBERT base = simplified(5 specials) + words
    assert len(five) == 13586 and all(released[t] == i for t, i in five.items())
    with pytest.raises(ValueError):
        simplify_vocab(original, startswith=["[NOPE]"])


def test_load_vocab_line_rules(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("[PAD]\n[UNK]\n\u2028\nword 12\n中\n", encoding="utf-8")
    assert load_vocab(path) == {"[PAD]": 0, "[UNK]": 1, "": 2, "word": 3, "中": 4}
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError):
        load_vocab(tmp_path / "empty.txt")
    with pytest.raises(ValueError):
        Tokenizer({"a": 0})  # no [UNK]


def test_wordpiece_unmatched_position_is_one_char_088():
    tok = Tokenizer({"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "ab": 3, "##d": 4})
    assert tok.tokenize("abcd")[1:-1] == ["ab", "##c", "##d"]  # 0.8.8; HEAD would give ["abcd"]
    assert tok.encode("abcd")[0] == [1, 3, 0, 4, 2]


@pytest.mark.parametrize("text", [
    "", "   \t\n ", "\x00\x01\u200b\u200d\ufeff", "好\u200b的", "😀👍🏽中文", "𠀀𠀁𪚥字", "Σίσυφος ΟΔΟΣ", "İstanbul",
    "今天[MASK]很好", "ﬁ ① Ⅻ Å", "a\u0301\u0327b", "\ud800" if False else "\U0010ffff",
])
def test_bad_inputs_keep_offsets_in_range(plus, text):
    pieces = plus.tokenize_with_offsets(text)
    assert all(0 <= s < e <= len(text) for _, s, e in pieces)
    assert [s for _, s, _ in pieces] == sorted(s for _, s, _ in pieces)
    ids, segs = plus.encode(text)
    assert ids[0] == 101 and ids[-1] == 102 and len(ids) == len(segs)
    assert_offsets(plus, text)


def test_edge_results(plus):
    assert plus.tokenize("") == ["[CLS]", "[SEP]"]
    assert plus.tokenize(" \u200b\x00 ") == ["[CLS]", "[SEP]"]
    # a literal [MASK] is plain text for bert4keras: lowercased, cut by jieba, WordPiece
    assert plus.tokenize("今天[MASK]很好")[1:-1] == ["今天", "[", "ma", "##sk", "]", "很", "好"]
    assert plus.encode("😀")[0] == [101, 100, 102]  # tokens keep the char; its id is [UNK]
    with pytest.raises(TypeError):
        plus.tokenize(None)
    with pytest.raises(ValueError):
        plus.encode("a", pattern="S*E")
    with pytest.raises(ValueError):
        plus.encode("a", maxlen=1)
    with pytest.raises(ValueError):
        plus.id_to_token(10**9)


def test_normalization_offsets_map_to_original(plus):
    text = "CAFÉ Über ΟΔΟΣ İi"
    for token, start, end in plus.tokenize_with_offsets(text):
        assert text[start:end].strip()
    assert [t for t, _, _ in plus.tokenize_with_offsets("Café")] == ["cafe"]
    assert plus.tokenize_with_offsets("Café")[0][1:] == (0, 4)


def test_long_text_is_fast_enough_and_consistent(plus):
    text = "今天天气很好，我想去公园玩。" * 20000  # 280k chars
    pieces = plus.tokenize_with_offsets(text)
    assert len(pieces) == 20000 * 13 and pieces[-1][2] == len(text)
