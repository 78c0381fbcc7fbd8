"""WoBERT pre-training: the data recipe (§1.3, §8.7 text_segmentate) and a few real steps of the script."""

import importlib.util
import json

import numpy as np
import torch
from _wobert_helpers import hub_folder, tiny_bert
from conftest import DATA, REPO, VOCAB

from wobert import WoBertForMaskedLM
from wobert.pretraining import MaskedChunks, collate_mlm, document_chunks, mlm_loss, random_masking
from zoo.segmentation import text_segmentate


def test_text_segmentate_vector():
    text = "原告张三，男，汉族。被告李四；住所地：北京。\n本院认为：合同有效。"
    assert text_segmentate(text, 1, "\n。；：，") == [
        "原告张三，", "男，", "汉族。", "被告李四；", "住所地：", "北京。", "本院认为：", "合同有效。"]
    assert text_segmentate("短句。", 32, "\n。") == ["短句。"]


def test_document_chunks_respect_the_length_budget():
    doc = "今天天气很好。" * 400
    chunks = list(document_chunks(doc, maxlen=64))
    assert "".join(chunks) == doc
    assert all(len(c) <= 64 * 1.3 for c in chunks[:-1]) and len(chunks) > 10


def test_random_masking_proportions():
    rng = np.random.default_rng(0)
    ids = [5 + i % 49990 for i in range(100000)]
    source, target = random_masking(ids, mask_id=4, vocab_size=50000, rng=rng)
    picked = np.array(target) != 0
    assert abs(picked.mean() - 0.15) < 0.005
    src, tgt = np.array(source)[picked], np.array(target)[picked]
    assert abs((src == 4).mean() - 0.8) < 0.02
    assert abs((src == tgt).mean() - 0.1) < 0.02
    assert ((np.array(source) == np.array(ids)) | picked).all()  # unpicked tokens are untouched
    assert all(1 <= s < 50000 for s in source)


def test_masked_stream_replays_and_collates():
    docs = ["我爱北京天安门。今天天气很好。", "第二篇文档。"]
    stream = MaskedChunks(docs, lambda t, n: [2] + [10 + ord(c) % 50 for c in t][: n - 2] + [3], 4, 100, maxlen=16,
                          seed=1, repeat=False)
    first, again = list(stream), list(stream)
    assert first == again and len(first) == 2
    batch = collate_mlm(first)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape
    assert batch["attention_mask"].sum() == sum(len(e["input_ids"]) for e in first)


def test_pretrain_script_runs_a_few_steps(tmp_path, tmp_path_factory):
    folder = hub_folder(tmp_path_factory, "plus")
    tiny_bert(folder, VOCAB / "wobert_plus_vocab.txt")
    lines = (DATA / "zh_plain_text" / "thucnews" / "cnews.val.txt").read_text(encoding="utf-8").splitlines()[:8]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(lines), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("pretrain_wobert", REPO / "scripts" / "pretrain_wobert.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "run"
    before = WoBertForMaskedLM.from_pretrained(folder).get_input_embeddings().weight.detach().clone()
    code = script.main(["--model", str(folder), "--data", str(corpus), "--output-dir", str(out), "--max-steps", "3",
                        "--batch-size", "2", "--maxlen", "64", "--lr", "1e-3", "--residual-attention", "--cpu",
                        "--log-every", "1"])
    assert code == 0
    trained = WoBertForMaskedLM.from_pretrained(out / "final")
    assert trained.config.residual_attention
    assert not torch.equal(trained.get_input_embeddings().weight, before)
    logs = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in logs if "loss" in r]
    assert losses and all(np.isfinite(losses)) and max(losses) < 20
    batch = collate_mlm([{"input_ids": [101, 103, 102], "labels": [0, 1909, 0]}])
    assert torch.isfinite(mlm_loss(trained, batch))
