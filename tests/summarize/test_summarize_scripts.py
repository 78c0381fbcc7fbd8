"""Smoke run of every SPACES stage script on 4 CAIL documents with tiny models, then the eval script."""

import importlib.util
import json
import sys

import torch
from conftest import DATA, REPO

import zoo
from summarize.generator import SpacesForSummary

CAIL = DATA / "cail2020_sfzy" / "train.json"
SCRIPTS = REPO / "scripts"


def script(name):
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def last_json(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_stage_scripts_end_to_end(tmp_path, capsys):
    w = tmp_path
    assert script("spaces_extract_convert").main(["--data", str(CAIL), "--out", str(w / "ex.jsonl"),
                                                  "--limit", "4"]) == 0
    assert last_json(capsys)["documents"] == 4

    # a tiny random encoder stands in for RoBERTa (stage B needs any zoo checkpoint + vocab.txt)
    vocab_file = DATA.parent / "vocab" / "bert_chinese_vocab.txt"
    torch.manual_seed(0)
    enc = zoo.ZooModel(zoo.ZooConfig(vocab_size=21128, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=512))
    enc.save_pretrained(w / "encoder")
    (w / "encoder" / "vocab.txt").write_bytes(vocab_file.read_bytes())
    assert script("spaces_extract_vectorize").main(["--records", str(w / "ex.jsonl"), "--encoder",
                                                    str(w / "encoder"), "--out", str(w / "vec.pt")]) == 0
    assert last_json(capsys) == {"documents": 4, "hidden": 16}

    assert script("spaces_extract_train").main(["--records", str(w / "ex.jsonl"), "--vectors", str(w / "vec.pt"),
                                                "--out", str(w / "ext"), "--num-folds", "2", "--epochs", "2",
                                                "--hidden-size", "8"]) == 0
    info = last_json(capsys)
    assert 0 < info["threshold"] < 1 and 0 <= info["oof_char_main"] <= 1
    assert len(json.loads((w / "ext" / "oof.json").read_text())) == 4

    assert script("spaces_seq2seq_convert").main(["--records", str(w / "ex.jsonl"), "--extractor", str(w / "ext"),
                                                  "--out", str(w / "s2s.jsonl")]) == 0
    rows = [json.loads(line) for line in (w / "s2s.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 4 and all(r["source_1"] and r["source_2"] and r["target"] for r in rows)

    assert script("spaces_seq2seq_train").main(["--data", str(w / "s2s.jsonl"), "--scratch", "16,1,2",
                                                "--out", str(w / "gen"), "--max-steps", "2", "--batch-size", "2",
                                                "--maxlen", "128", "--lr", "1e-3"]) == 0
    assert last_json(capsys)["steps"] == 2
    assert SpacesForSummary.from_pretrained(w / "gen").config.vocab_size == 16154

    assert script("spaces_make_pipeline").main(["--generator", str(w / "gen"), "--extractor", str(w / "ext" / "fold-0"),
                                                "--encoder", str(w / "encoder"), "--threshold-file",
                                                str(w / "ext" / "threshold.json"), "--max-new-tokens", "8",
                                                "--out", str(w / "pipe")]) == 0
    capsys.readouterr()
    assert script("eval_summarize").main(["--data", str(CAIL), "--model", str(w / "pipe"), "--limit", "2"]) == 0
    metrics = last_json(capsys)
    assert metrics["documents"] == 2
    for key in ("word_main", "char_main", "repeated_3gram_rate", "empty_rate"):
        assert 0.0 <= metrics[key] <= 1.0


def test_eval_lead_baseline_scores_the_first_characters(capsys):
    from summarize import rouge
    from summarize.data import read_pairs

    lcsts = DATA / "lcsts_clge" / "val.tsv"
    assert script("eval_summarize").main(["--data", str(lcsts), "--lead", "18", "--limit", "5"]) == 0
    metrics = last_json(capsys)
    pairs = read_pairs(lcsts, 5)
    expected = sum(rouge(t.strip()[:18], s, "char")["main"] for t, s in pairs) / 5
    assert metrics["options"] == {"lead": 18} and abs(metrics["char_main"] - expected) < 1e-6
