"""STS readers for the shared data formats and the whitening evaluation protocol (spec §6.1, §6.3)."""

import hashlib

import numpy as np
import pytest
from scipy.stats import rankdata

from conftest import DATA
from whitening import Whitening, evaluate_sts, load_sts
from whitening.sts import STSSplit, read_sts, results_table


@pytest.mark.parametrize("relative, n, first", [
    ("sts_zh/STS-B.valid.data", 1452, ("一个戴着安全帽的男人在跳舞。", "一个戴着安全帽的男人在跳舞。", 5.0)),
    ("sts_zh/PAWSX.valid.data", 1974, None),
    ("sts_zh/BQ.valid.data", 10000, ("不要借了我是试试看能否操作的", "借款审核期间能否取消借款", 0.0)),
    ("sts_en/stsb_dev.tsv", 1498, ("A man with a hard hat is dancing.", "A man wearing a hard hat is dancing.", 5.0)),
    ("sts_en/stsbenchmark/sts-dev.csv", 1498, ("A man with a hard hat is dancing.",
                                               "A man wearing a hard hat is dancing.", 5.0)),
    ("sts_en/SICK/SICK_trial.txt", 495, ("The young boys are playing outdoors and the man is smiling nearby",
                                         "There is no boy playing outdoors and there is no man smiling", 3.6)),
])
def test_readers_on_shared_files(relative, n, first):
    split = read_sts(DATA / relative)
    assert len(split) == n == len(split.sentences1) == len(split.sentences2)
    if first:
        assert (split.sentences1[0], split.sentences2[0], split.scores[0]) == first
    assert np.isfinite(split.scores).all()


def test_stsbenchmark_csv_and_tsv_agree():
    csv, tsv = read_sts(DATA / "sts_en/stsbenchmark/sts-dev.csv"), read_sts(DATA / "sts_en/stsb_dev.tsv")
    assert csv.sentences1 == tsv.sentences1 and csv.sentences2 == tsv.sentences2
    np.testing.assert_array_equal(csv.scores, tsv.scores)


def test_folder_loading():
    names = [s.name for s in load_sts(DATA / "sts_zh")]
    assert names == ["ATEC.train_partial", "ATEC.valid", "BQ.valid", "LCQMC.valid", "PAWSX.valid", "STS-B.train",
                     "STS-B.valid"]
    assert [s.name for s in load_sts(DATA / "sts_en")] == ["stsb_dev", "stsb_train"]


def test_subset_format_skips_unscored_pairs(tmp_path):
    f = tmp_path / "STS12.tsv"
    f.write_text("MSRpar\t4.2\ta b\tc d\nMSRpar\t\tunscored\tpair\nSMTeuroparl\t1\te\tf\n\n", encoding="utf-8")
    split = read_sts(f)
    assert split.sentences1 == ["a b", "e"] and split.subsets == ["MSRpar", "SMTeuroparl"]
    np.testing.assert_array_equal(split.scores, [4.2, 1.0])


@pytest.mark.parametrize("text, match", [
    ("a\tb\t1\nc\td\tx\n", r":2: score 'x'"),
    ("a\tb\t1\nc\td\n", r":2: expected at least 3"),
    ("only one field\n", "unrecognised"),
    ("\n\n", "empty"),
    ("score\tsentence1\tsentence2\n", "no scored pairs"),
])
def test_reader_errors(tmp_path, text, match):
    f = tmp_path / "bad.tsv"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=match):
        read_sts(f)


def test_missing_path():
    with pytest.raises(FileNotFoundError):
        load_sts(DATA / "no_such_file.tsv")


# ---------------------------------------------------------------------------------------------- evaluation
def hash_embed(sentences: list[str], dim: int = 8) -> np.ndarray:
    """A deterministic stand-in encoder: correlated vectors from a hash of each sentence."""
    mix = np.random.default_rng(0).normal(size=(dim, dim))
    rows = [np.random.default_rng(int(hashlib.md5(s.encode()).hexdigest()[:8], 16)).normal(size=dim) for s in sentences]
    return np.stack(rows) @ mix + 3.0


def spearman_by_hand(gold, pred) -> float:
    a, b = rankdata(gold), rankdata(pred)
    return float(np.corrcoef(a, b)[0, 1])


def cosines_by_hand(a, b):
    return np.array([x @ y / (np.linalg.norm(x) * np.linalg.norm(y)) for x, y in zip(a, b)])


@pytest.fixture(scope="module")
def splits():
    return [read_sts(DATA / "sts_en/stsb_dev.tsv").head(120), read_sts(DATA / "sts_en/SICK/SICK_trial.txt").head(60)]


def test_evaluate_target_fit_matches_a_hand_computation(splits):
    calls = []
    results = evaluate_sts(lambda s: calls.append(len(s)) or hash_embed(s), splits, n_components=(0, 8, 4))
    unique = {t for s in splits for t in (*s.sentences1, *s.sentences2)}
    assert calls == [len(unique)]  # every distinct sentence embedded once
    # target fit: both sides of every pair of every split, duplicates included
    fit_on = np.vstack([np.vstack([hash_embed(s.sentences1), hash_embed(s.sentences2)]) for s in splits])
    w = Whitening().fit(fit_on)
    for k in (0, 8, 4):
        per_split = {}
        for s in splits:
            a, b = hash_embed(s.sentences1), hash_embed(s.sentences2)
            if k:
                a, b = w.transform(a, k), w.transform(b, k)
            per_split[s.name] = spearman_by_hand(s.scores, cosines_by_hand(a, b))
        got = results[f"k={k}"]
        assert got["per_split"] == pytest.approx(per_split, abs=1e-9)
        assert got["average"] == pytest.approx(np.mean(list(per_split.values())), abs=1e-9)
        weighted = (120 * per_split["stsb_dev"] + 60 * per_split["SICK_trial"]) / 180
        assert got["weighted_average"] == pytest.approx(weighted, abs=1e-9)
    assert results["sizes"] == {"stsb_dev": 120, "SICK_trial": 60}
    table = results_table(results)
    assert table.splitlines()[0] == "| k | stsb_dev | SICK_trial | avg | weighted avg |"
    assert len(table.splitlines()) == 5


def test_fit_on_other_data(splits):
    other = read_sts(DATA / "sts_en/stsb_train.tsv").head(100)
    other_sentences = other.sentences1 + other.sentences2
    by_sentences = evaluate_sts(hash_embed, splits, n_components=(8,), fit=other_sentences)
    by_vectors = evaluate_sts(hash_embed, splits, n_components=(8,), fit=hash_embed(other_sentences))
    fitted = Whitening().fit(hash_embed(other_sentences))
    by_object = evaluate_sts(hash_embed, splits, n_components=(8,), fit=fitted)
    target = evaluate_sts(hash_embed, splits, n_components=(8,))
    assert by_sentences["k=8"] == by_vectors["k=8"] == by_object["k=8"]
    assert by_sentences["k=8"]["per_split"] != target["k=8"]["per_split"]


def test_k_above_rank_is_reported_not_fatal():
    split = STSSplit("tiny", [f"s{i}" for i in range(30)], [f"t{i}" for i in range(30)], np.arange(30.0))

    def embed(sentences):  # last dimension = sum of the others: rank 4 of 5
        x = hash_embed(sentences, dim=4)
        return np.hstack([x, x.sum(1, keepdims=True)])

    results = evaluate_sts(embed, [split], n_components=(0, 4, 5))
    assert "rank 4" in results["k=5"]["error"]
    assert np.isfinite(results["k=4"]["average"])
    assert "n/a" in results_table(results).splitlines()[-1]


def test_evaluate_errors(splits):
    with pytest.raises(ValueError, match="no STS splits"):
        evaluate_sts(hash_embed, [])
    with pytest.raises(ValueError, match="unique"):
        evaluate_sts(hash_embed, [splits[0], splits[0]])
    with pytest.raises(ValueError, match="fit must be"):
        evaluate_sts(hash_embed, splits, n_components=(4,), fit="nli")
    with pytest.raises(ValueError, match="shape"):
        evaluate_sts(lambda s: np.zeros((1, 3)), splits)
