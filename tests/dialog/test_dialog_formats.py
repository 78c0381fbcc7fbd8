"""Dialog input formats (spec §2.3, §2.6, vectors §8.5), vocab construction (§2.2), readers and metrics."""

import json
import math

import pytest
from conftest import DATA, VOCAB

from dialog.data import read_dialogs, split_dev
from dialog.formats import (IGNORE_INDEX, CDialGPTFormat, DialogInputError, NezhaGPTFormat, build_nezha_gpt_vocab,
                            clean_utterance)
from dialog.metrics import bleu, distinct

CONTEXT = ["别爱我没结果", "你这样会失去我的", "失去了又能怎样"]


@pytest.fixture(scope="module")
def nezha():
    from zoo.tokenization import Tokenizer

    return NezhaGPTFormat(Tokenizer(str(VOCAB / "derived" / "nezha_gpt_dialog_vocab.txt"), do_lower_case=True))


@pytest.fixture(scope="module")
def cdial():
    from zoo.tokenization import Tokenizer

    return CDialGPTFormat(Tokenizer(str(VOCAB / "cdial_gpt_vocab.txt"), do_lower_case=True))


def test_nezha_vector(nezha):
    x = nezha.build_inputs(CONTEXT)
    assert x.input_ids == [2, 1064, 4161, 2667, 3664, 5208, 3260, 3, 770, 6719, 3314, 731, 1825, 1241, 2667, 4536,
                           3, 1825, 1241, 647, 1246, 5441, 2480, 3314, 3]
    assert x.token_type_ids == [0] * 8 + [1] * 9 + [0] * 8
    assert x.response_type_id == 1
    assert nezha.build_inputs(["“哈哈”…"]).input_ids == [2, 13586, 1404, 1404, 13587, 13585, 3]
    assert nezha.end_token_ids() == [3]


def test_nezha_empty_history_and_response_segment(nezha):
    x = nezha.build_inputs([])
    assert (x.input_ids, x.token_type_ids, x.response_type_id) == ([2], [0], 1)
    full = nezha.build_inputs(CONTEXT[:2], CONTEXT[2])
    assert full.input_ids == nezha.build_inputs(CONTEXT).input_ids
    assert nezha.build_inputs(CONTEXT[:2]).response_type_id == 0


def test_nezha_training_sample_loss_on_all_turns(nezha):
    (s,) = nezha.training_samples(CONTEXT)
    assert s.input_ids == nezha.build_inputs(CONTEXT).input_ids
    assert s.labels == [IGNORE_INDEX] + s.input_ids[1:]


def test_nezha_training_keeps_earliest_turns_within_maxlen():
    from zoo.tokenization import Tokenizer

    fmt = NezhaGPTFormat(Tokenizer(str(VOCAB / "derived" / "nezha_gpt_dialog_vocab.txt")), maxlen=20)
    (s,) = fmt.training_samples(CONTEXT)
    # [CLS] + 7 + 9 = 17 <= 20; the third turn (8 tokens) does not fit and is dropped
    assert s.input_ids == fmt.build_inputs(CONTEXT[:2]).input_ids
    assert fmt.training_samples(["一" * 30, "二"]) == []


def test_cdial_vector(cdial):
    x = cdial.build_inputs(CONTEXT[:2], CONTEXT[2])
    assert x.input_ids == [0, 13086, 172, 187, 10, 51, 300, 170, 13087, 23, 17, 75, 46, 371, 45, 10, 5, 13086, 371,
                           45, 8, 93, 67, 190, 75, 2]
    assert x.token_type_ids == [0] + [13086] * 7 + [13087] * 9 + [13086] * 9
    assert [-1 if t == IGNORE_INDEX else t for t in x.labels] == [-1] * 18 + [371, 45, 8, 93, 67, 190, 75, 2]


def test_cdial_prompt_ends_with_reply_speaker(cdial):
    x = cdial.build_inputs(CONTEXT[:2])
    full = cdial.build_inputs(CONTEXT[:2], CONTEXT[2])
    assert x.input_ids == full.input_ids[:18] and x.token_type_ids == full.token_type_ids[:18]
    assert x.response_type_id == 13086 and x.labels is None
    assert cdial.build_inputs(CONTEXT).response_type_id == 13087
    assert sorted(cdial.end_token_ids()) == [0, 1, 2, 13086, 13087]
    # English is split into letters; spaces are removed first
    assert cdial.utterance_ids("h i") == cdial.utterance_ids("hi") == [cdial.tokenizer.token_to_id("h"),
                                                                      cdial.tokenizer.token_to_id("i")]


def test_cdial_training_samples_one_per_response(cdial):
    samples = cdial.training_samples(CONTEXT)
    assert len(samples) == 2
    assert samples[1].input_ids == cdial.build_inputs(CONTEXT[:2], CONTEXT[2]).input_ids
    first = samples[0]
    n_resp = len(cdial.utterance_ids(CONTEXT[1])) + 1
    assert [t for t in first.labels if t != IGNORE_INDEX] == first.input_ids[-n_resp:]
    short = CDialGPTFormat(cdial.tokenizer, max_history=1)
    assert short.training_samples(CONTEXT)[1].input_ids == cdial.build_inputs(CONTEXT[1:2], CONTEXT[2]).input_ids


@pytest.mark.parametrize("fmt_name", ["nezha", "cdial"])
def test_truncation_keeps_latest_turns(fmt_name, request):
    fmt = request.getfixturevalue(fmt_name)
    history = ["一二三四五", "六七八九十", "甲乙丙丁戊", "子丑寅卯辰"]
    full = len(fmt.build_inputs(history))
    assert fmt.truncate_history(history, full) == history
    assert fmt.truncate_history(history, full - 1) == history[1:]
    assert fmt.truncate_history(history, full - 12) == history[2:]
    one = len(fmt.build_inputs(history[-1:]))
    cut = fmt.truncate_history(["甲" * 10000 + "子丑寅卯辰"], one)
    assert cut == ["子丑寅卯辰"]
    with pytest.raises(DialogInputError):
        fmt.truncate_history(history, 1)


def test_bad_history_types(nezha):
    with pytest.raises(DialogInputError):
        nezha.build_inputs(["ok", 3])
    with pytest.raises(DialogInputError):
        nezha.build_inputs({"a": 1})
    assert nezha.build_inputs("你好").input_ids == nezha.build_inputs(["你好"]).input_ids


def test_cdial_format_rejects_other_vocab(nezha):
    with pytest.raises(DialogInputError, match="speaker"):
        CDialGPTFormat(nezha.tokenizer)


def test_nezha_gpt_vocab_matches_derived_file():
    tokens, keep, compound = build_nezha_gpt_vocab(VOCAB / "bert_chinese_vocab.txt",
                                                   VOCAB / "nezha_gpt_dialog_user_tokens.csv")
    expected = (VOCAB / "derived" / "nezha_gpt_dialog_vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    assert len(tokens) == 14195 == len(expected)
    assert tokens == expected
    assert len(keep) == 13585 and keep[:4] == [0, 100, 101, 102]
    assert compound == [[0]] * 610


def test_clean_utterance():
    assert clean_utterance("啊 我 好 爱 虾 仁") == "啊我好爱虾仁"
    assert clean_utterance(" 我 喜欢 iphone 12 手机 ") == "我喜欢iphone 12手机"
    with pytest.raises(DialogInputError):
        clean_utterance(None)


def test_readers():
    base = read_dialogs(DATA / "lccc" / "LCCC-base_valid.json")
    assert len(base) == 19996
    assert base[0] == ["啊我好爱虾仁蛋黄酱金枪鱼蛋黄酱", "那个饭凉了吧唧的怎么吃啊摔"]
    assert sum(len(d) for d in base) == 56909
    toy = DATA / "lccc" / "cdial_gpt_toy"
    assert [len(read_dialogs(toy / "toy_data.json", split=s)) for s in ("train", "valid", "test")] == [1000, 200, 200]
    with pytest.raises(DialogInputError, match="split"):
        read_dialogs(toy / "toy_data.json")
    pairs = read_dialogs(toy / "toy_train.txt")
    assert len(pairs) == 10000 and all(len(p) == 2 for p in pairs)
    large = read_dialogs(DATA / "lccc" / "LCCD-large-shuf.json")
    assert len(large) == 26 and large[2] == ["准点吃狗粮", "哈哈好吃不", "不好吃不够清晰", "要多清晰"]


def test_reader_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([["ok"], [1, 2]]), encoding="utf-8")
    with pytest.raises(DialogInputError):
        read_dialogs(bad)
    with pytest.raises(FileNotFoundError):
        read_dialogs(tmp_path / "missing.json")


def test_split_dev_is_deterministic_and_disjoint():
    dialogs = [[str(i)] for i in range(50)]
    train, dev = split_dev(dialogs, 10, seed=3)
    assert (train, dev) == split_dev(dialogs, 10, seed=3)
    assert len(dev) == 10 and len(train) == 40
    assert sorted(train + dev, key=lambda d: int(d[0])) == dialogs
    with pytest.raises(ValueError):
        split_dev(dialogs, 51)


def test_bleu_hand_computed():
    assert bleu(["我爱你"], ["我爱你"], n=2) == pytest.approx(1.0)
    # p1 = 3/4, p2 = 1/3, same length
    assert bleu(["我爱他们"], ["我爱你们"], n=2) == pytest.approx(math.sqrt(0.75 / 3))
    # method1 smoothing: zero counts become 0.1 / (number of n-grams)
    assert bleu(["我爱他们"], ["我爱你们"], n=4) == pytest.approx((0.75 * (1 / 3) * (0.1 / 2) * (0.1 / 1)) ** 0.25)
    # brevity penalty exp(1 - 4/2)
    assert bleu(["我 爱"], ["我爱你们"], n=2) == pytest.approx(math.exp(-1))
    assert bleu(["我爱你", ""], ["我爱你", "好"], n=2) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        bleu(["a"], [], n=2)


def test_distinct_hand_computed():
    assert distinct(["哈哈哈", "哈哈"], 1) == pytest.approx(1 / 5)
    assert distinct(["我爱你", "我爱他"], 2) == pytest.approx(3 / 4)
    assert distinct([""], 2) == 0.0
