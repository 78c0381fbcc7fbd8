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


def test_boilerplate_rule_matches_no_labelled_sentence_of_cail():
    """The judgment header/signature rule against CAIL2020's own sentence labels: it must flag the signature
    lines and dates, and no sentence the annotators labelled as summary material."""
    from summarize.metrics import is_boilerplate

    flagged, labelled = 0, 0
    for line in CAIL.read_text(encoding="utf-8").splitlines():
        for s in json.loads(line)["text"]:
            if is_boilerplate(s["sentence"]):
                flagged += 1
                assert s["label"] == 0, s["sentence"]
            labelled += s["label"]
    assert flagged >= 100 and labelled > 0
    for clause in ("审\u3000判\u3000长\u3000张三", "书记员李四", "二〇一七年十二月二十七日", "广东省深圳市宝安区人民法院",
                   "（2017）粤0306民初3474号", "民 事 判 决 书"):
        assert is_boilerplate(clause), clause
    for clause in ("原告与被告侵权责任纠纷一案。", "判决：驳回原告全部诉讼请求。", "法院审判员认为被告无过错"):
        assert not is_boilerplate(clause), clause


def test_train_summarize_from_a_base_checkpoint(tmp_path, capsys):
    """--base: the generator takes the base's shape, vocab and weights (copy head new); --extractor-data adds CAIL
    judgments to the extractor's folds and reports their out-of-fold numbers."""
    from safetensors.torch import load_file

    from summarize import Summarizer
    from zoo.tokenization import load_vocab

    base_vocab = REPO / "zoo" / "models" / "base-zh" / "vocab.txt"
    torch.manual_seed(0)
    base = zoo.ZooForLM(zoo.ZooConfig(vocab_size=len(load_vocab(base_vocab)), hidden_size=16, num_hidden_layers=1,
                                      num_attention_heads=2, intermediate_size=32, max_position_embeddings=512,
                                      position_embedding_type="relative", max_relative_position=64,
                                      attention="unilm"))
    base.save_pretrained(tmp_path / "base")
    (tmp_path / "base" / "vocab.txt").write_bytes(base_vocab.read_bytes())
    lcsts = DATA / "lcsts_clge" / "train.tsv"
    judgments = tmp_path / "cail3.json"
    judgments.write_text("".join(CAIL.read_text(encoding="utf-8").splitlines(keepends=True)[:3]), encoding="utf-8")
    assert script("train_summarize").main(["--data", str(lcsts), "--limit", "12", "--base", str(tmp_path / "base"),
                                           "--out", str(tmp_path / "pipe"), "--work", str(tmp_path / "work"),
                                           "--steps", "1", "--lr", "1e-9", "--folds", "2", "--extractor-epochs", "1",
                                           "--batch-size", "4", "--extractor-data", str(judgments)]) == 0
    stages = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    cail = next(s for s in stages if s["stage"] == "C")["cail3.json"]
    assert cail["documents"] == 3 and 0 <= cail["boilerplate_docs"] <= 1
    # 12 LCSTS records then 3 judgments (global 12, 13, 14): fold 0 of 2 holds out the even global indices
    assert json.loads((tmp_path / "pipe" / "extractor_held_out.json").read_text()) == {"cail3.json": [0, 2]}
    generator = load_file(str(tmp_path / "pipe" / "generator" / "model.safetensors"))
    embeddings = [k for k in generator if k.endswith("word_embeddings.weight")]
    trained, start = generator[embeddings[0]].float(), base.state_dict()[embeddings[0]]
    assert embeddings and torch.allclose(trained, start, atol=1e-3)  # one step at lr 1e-9: the base's weights
    assert not torch.allclose(trained, torch.randn_like(start) * 0.02, atol=1e-3)
    summarizer = Summarizer.from_pretrained(tmp_path / "pipe")
    assert summarizer.generator.config.hidden_size == 16 and len(summarizer.tokenizer.vocab) == base.config.vocab_size
    assert isinstance(summarizer.summarize("今天北京天气很好，很多市民去公园散步。", max_new_tokens=6), str)
