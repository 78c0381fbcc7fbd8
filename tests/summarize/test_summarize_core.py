"""SPACES parts that need no transformer: ROUGE, clause split, oracle, copy labels, extractor (spec §3, §8.7)."""

import json
import random

import pytest
import torch
from conftest import DATA

from summarize.copy import copy_labels, longest_common_subsequence, sequence_copy_labels
from summarize.extract import extract_oracle, split_clauses
from summarize.extractor import ClauseExtractor, ResidualGatedConv1D, masked_bce, pad_documents, select_clauses
from summarize.metrics import cut_words, repeated_ngram_rate, rouge, rouge_f

CAIL = DATA / "cail2020_sfzy"


def test_clause_split_vector():
    text = "原告张三，男，汉族。被告李四；住所地：北京。\n本院认为：合同有效。"
    assert split_clauses(text) == ["原告张三，", "男，", "汉族。", "被告李四；", "住所地：", "北京。", "本院认为：", "合同有效。"]


def test_clause_split_keeps_last_256_and_handles_long_input():
    text = "，".join(f"第{i}句" for i in range(1000))
    clauses = split_clauses(text)
    assert len(clauses) == 256 and clauses[-1] == "第999句" and clauses[0] == "第744句，"
    assert len(split_clauses(text, None)) == 1000
    assert split_clauses("") == [""]
    assert split_clauses("没有标点的一句话") == ["没有标点的一句话"]


@pytest.mark.parametrize("unit, expected", [
    ("word", {"rouge-1": 0.8, "rouge-2": 0.5, "rouge-l": 0.8, "main": 0.68}),
    ("char", {"rouge-1": 0.727273, "rouge-2": 0.636364, "rouge-l": 0.727273, "main": 0.690909}),
])
def test_rouge_vectors(unit, expected):
    scores = rouge("原告与被告侵权责任纠纷一案", "原告与被告合同纠纷一案", unit)
    for k, v in expected.items():
        assert scores[k] == pytest.approx(v, abs=1e-6)


def test_rouge_bad_input():
    zero = {"rouge-1": 0.0, "rouge-2": 0.0, "rouge-l": 0.0, "main": 0.0}
    assert rouge("", "原告") == zero
    assert rouge("...", "原告", "char") == zero
    with pytest.raises(ValueError):
        rouge("a", "b", unit="sentence")
    with pytest.raises(TypeError):
        rouge(None, "b")
    assert rouge("同样的文字", "同样的文字")["main"] == pytest.approx(1.0, abs=1e-6)


def test_word_unit_uses_official_user_dict():
    assert "侵权责任纠纷" in cut_words("原告与被告侵权责任纠纷一案")
    assert "侵权责任纠纷" not in cut_words("原告与被告侵权责任纠纷一案", user_dict=None)


def test_rouge_matches_rouge_1_0_1_package():
    pkg = pytest.importorskip("rouge", reason="reference package rouge==1.0.1 (test extra) not installed")
    ref = pkg.Rouge()
    rng = random.Random(0)
    words = ["原告", "被告", "a", "b.c", "1.5", "纠纷", "。", "，", "x", "y"]
    for _ in range(200):
        hyp = " ".join(rng.choice(words) for _ in range(rng.randint(1, 25)))
        tgt = " ".join(rng.choice(words) for _ in range(rng.randint(1, 25)))
        try:
            expected = ref.get_scores(hyp, tgt)[0]
        except ValueError:
            with pytest.raises(ValueError):
                rouge_f(hyp, tgt)
            continue
        got = rouge_f(hyp, tgt)
        for k in ("rouge-1", "rouge-2", "rouge-l"):
            assert got[k] == pytest.approx(expected[k]["f"], abs=1e-12)


def _docs():
    with open(CAIL / "train.json", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_oracle_on_cail_samples():
    docs = _docs()
    assert len(docs) == 20
    results = {d["id"][:8]: extract_oracle("\n".join(s["sentence"] for s in d["text"]), d["summary"]) for d in docs}
    mean = sum(r.main for r in results.values()) / len(results)
    assert mean == pytest.approx(0.611579, abs=1e-6)
    a, b = results["5cec68aa"], results["77db3aea"]
    assert len(a.clauses) == 105 and a.labels == [12, 13, 16, 37, 38, 39, 73, 74, 75, 76, 81, 82, 83]
    assert a.main == pytest.approx(0.748103, abs=1e-6)
    assert a.clauses[:6] == ["唐鲜明与何伟华、深圳市华名威电汽车服务有限公司侵权责任纠纷一审民事判决书", "广东省深圳市宝安区人民法院",
                             "民 事 判 决 书", "（2017）粤0306民初3474号", "原告唐鲜明", "委托代理人孙光扬，"]
    assert len(b.clauses) == 150
    assert b.labels == [0, 4, 50, 52, 54, 87, 99, 101, 103, 104, 105, 109, 110, 111, 113, 116]
    assert b.main == pytest.approx(0.494615, abs=1e-6)


def test_oracle_bad_input():
    assert extract_oracle("", "摘要").labels == [0]
    assert extract_oracle("一句话", "").labels == [0]
    o = extract_oracle("only english, no chinese.", "english")
    assert o.clauses == ["only english, no chinese."] and o.labels == [0]  # ASCII "," is no separator


SRC = [2, 14710, 578, 14709, 14232, 14788, 409, 3]
TGT = [2, 14710, 14726, 14736, 7936, 14712, 14709, 14745, 14710, 14898, 409, 3]


def test_copy_labels_vector():
    assert longest_common_subsequence(SRC, TGT) == (5, [(0, 0), (1, 1), (3, 6), (6, 10), (7, 11)])
    assert copy_labels(SRC, TGT) == ([1, 2, 0, 1, 0, 0, 1, 2], [1, 2, 0, 0, 0, 0, 1, 0, 0, 0, 1, 2])
    labels = sequence_copy_labels(SRC + TGT, SRC + TGT, sep_id=3)
    assert labels == [1, 2, 0, 1, 0, 0, 1, 2, 2, 0, 0, 0, 0, 1, 0, 0, 0, 1, 2]
    assert copy_labels([], [1, 2]) == ([], [0, 0])


def test_lcs_is_a_longest_common_subsequence():
    rng = random.Random(1)
    for _ in range(50):
        a = [rng.randint(0, 4) for _ in range(rng.randint(0, 12))]
        b = [rng.randint(0, 4) for _ in range(rng.randint(0, 12))]
        n, mapping = longest_common_subsequence(a, b)
        assert len(mapping) == n and all(a[i] == b[j] for i, j in mapping)
        assert all(i1 < i2 and j1 < j2 for (i1, j1), (i2, j2) in zip(mapping, mapping[1:]))
        # brute-force DP length
        dp = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i in range(len(a)):
            for j in range(len(b)):
                dp[i + 1][j + 1] = dp[i][j] + 1 if a[i] == b[j] else max(dp[i][j + 1], dp[i + 1][j])
        assert n == dp[-1][-1]


def test_repeated_ngram_rate():
    assert repeated_ngram_rate("原告与被告") == 0.0
    assert repeated_ngram_rate("的的的的的的", n=2) == pytest.approx(4 / 5)
    assert repeated_ngram_rate("短", n=3) == 0.0


def test_gated_conv_is_residual_identity_at_init_and_masks_padding():
    torch.manual_seed(0)
    layer = ResidualGatedConv1D(8, 8, 3, dilation=2)
    x = torch.randn(2, 7, 8)
    mask = torch.ones(2, 7, dtype=torch.bool)
    mask[1, 4:] = False
    assert torch.allclose(layer(x, mask), x * mask[..., None])
    with torch.no_grad():
        layer.alpha.fill_(1.0)
    y1 = layer(x, mask)
    x2 = x.clone()
    x2[1, 4:] = 100.0  # padding content must not leak into real steps
    assert torch.allclose(layer(x2, mask)[1, :4], y1[1, :4], atol=1e-5)
    assert ResidualGatedConv1D(8, 4)(x, mask).shape == (2, 7, 4)


def test_extractor_trains_and_round_trips(tmp_path):
    torch.manual_seed(0)
    docs = [torch.randn(n, 16) for n in (5, 9, 3, 7)]
    labels = [[int(i) for i in torch.nonzero(d[:, 0] > 0).flatten()] for d in docs]
    x, mask, y = pad_documents(docs, labels)
    model = ClauseExtractor(input_size=16, hidden_size=8)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        loss = masked_bce(model(x, mask), y, mask)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first * 0.5
    model.save_pretrained(tmp_path)
    again = ClauseExtractor.from_pretrained(tmp_path)
    assert torch.allclose(again.predict_proba(x, mask), model.predict_proba(x, mask))
    assert again.config["hidden_size"] == 8


def test_masked_bce_ignores_padding_and_select():
    logits = torch.tensor([[2.0, -1.0, 50.0]])
    labels = torch.tensor([[1.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, False]])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, :2], labels[:, :2])
    assert torch.allclose(masked_bce(logits, labels, mask), expected)
    assert select_clauses(["甲，", "乙，", "丙。"], [0.5, 0.1, 0.3], 0.2) == "甲，丙。"


def test_clause_targets_pick_the_best_clause_by_brute_force():
    from summarize.data import read_pairs
    from summarize.training import clause_target_records, oracle_records

    records = oracle_records(read_pairs(DATA / "lcsts_clge" / "val.tsv", limit=12))
    extra = clause_target_records(records, max_chars=32)
    assert len(extra) == len(records)
    for r, e in zip(records, extra):
        text = "".join(r["clauses"])
        assert e["source_1"] == text and e["source_2"] is None
        candidates = [c.rstrip("\n。；：，") for c in split_clauses(text)]
        best = max(rouge(c, r["summary"], "char")["main"] for c in candidates if c.strip())
        assert e["target"] in text and len(e["target"]) <= 32
        if len(e["target"]) < 32:
            assert rouge(e["target"], r["summary"], "char")["main"] == best
    assert clause_target_records([{"clauses": ["，"], "summary": "x"}]) == []
