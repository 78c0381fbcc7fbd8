"""End-to-end pipeline on a tiny random model: copy-constrained decoding, Summarizer, CLI, eval script."""

import io
import json
import sys
import types

import pytest
import torch
from conftest import DATA

import zoo
from summarize import Summarizer, SummarizeError
from summarize.copy import CopyConstraint, reference_decode
from summarize.data import read_pairs
from summarize.extractor import ClauseExtractor
from summarize.generator import SpacesForSummary
from summarize.vocab import word_tokenizer
from zoo.generation import Step

CAIL = DATA / "cail2020_sfzy" / "train.json"


@pytest.fixture(scope="module")
def doc():
    return read_pairs(CAIL, limit=1)[0]


@pytest.fixture(scope="module")
def summarizer(doc):
    text, summary = doc
    chars = sorted(set(text + summary + "abcdefghijklmnopqrstuvwxyz0123456789") - set(" \n\t\u3000"))
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "原告", "被告"] + chars)}
    torch.manual_seed(0)
    cfg = zoo.ZooConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=256, attention="unilm")
    extractor = ClauseExtractor(input_size=32, hidden_size=16, threshold=0.5)
    return Summarizer(SpacesForSummary(cfg), word_tokenizer(vocab), extractor, max_new_tokens=12)


def test_copy_decoding_matches_spaces_reference(summarizer, doc):
    model, tok = summarizer.generator, summarizer.tokenizer
    with torch.no_grad():
        for i in range(3):
            torch.manual_seed(i)
            for p in model.copy_head.parameters():
                p.normal_(0, 2.0)  # make all three copy labels occur
            prompt = tok.encode(doc[0][:60])[0]
            expected = reference_decode(model, prompt, tok.start_id, tok.end_id, 15)
            got = summarizer.generate([doc[0][:60]], max_new_tokens=15, max_source_tokens=512)[0]
            assert got == tok.decode(expected)


def test_copy_constraint_restricts_to_source_ngrams():
    sources = [[2, 10, 11, 12, 3]]
    fixed = torch.tensor([[0.0, 0.3, 0.7]])  # prefers "continue a copy"
    proc = CopyConstraint(sources, start_id=2, k_sparse=3)
    output = types.SimpleNamespace(copy_logits=fixed.log()[:, None])  # what the model's forward returns

    def step(generated):
        return Step(torch.tensor(generated, dtype=torch.long).reshape(1, -1), output, torch.tensor([3]))

    state = proc.initial_state(1)
    logits = torch.arange(20.0)[None]
    out, state = proc(step([]), logits, state)
    # state 0 forbids label 2 -> argmax among (0, 1, -1): label 1 -> any source token allowed, top-3 kept
    assert int(state[0, 0]) == 1
    assert set(torch.nonzero(out[0] > -1000).flatten().tolist()) == {10, 11, 12}
    out, state = proc(step([10]), logits, state)
    # state 2: the token after [10] in the source is 11 only
    assert int(state[0, 0]) == 2 and torch.nonzero(out[0] > -1000).flatten().tolist() == [11]
    out, state = proc(step([10, 12]), logits, state)
    # state 3: (10, 12) never occurs -> fallback to all source tokens, state 1
    assert int(state[0, 0]) == 1 and set(torch.nonzero(out[0] > -1000).flatten().tolist()) == {10, 11, 12}


def test_copy_state_follows_each_document_through_beams(summarizer):
    model = summarizer.generator
    saved = {k: v.clone() for k, v in model.copy_head.state_dict().items()}
    try:
        with torch.no_grad():
            model.copy_head.weight.zero_()
            model.copy_head.bias.copy_(torch.tensor([0.0, 10.0, 0.0]))  # always "start a copy"
        docs = ["原告与被告", "一二三四五六七八九"]
        produced = ""
        for beams in (1, 3):
            outs = summarizer.generate(docs, num_beams=beams, max_new_tokens=6)
            for doc, out in zip(docs, outs):  # [CLS]/[SEP] of the source are allowed too (decoded away)
                assert set(out) <= set(doc), (beams, doc, out)
                produced += out
        assert len(produced) >= 6
    finally:
        model.copy_head.load_state_dict(saved)


def test_summarize_end_to_end(summarizer, doc):
    summary = summarizer.summarize(doc[0])
    assert isinstance(summary, str) and 0 < len(summary) <= 12 * 6
    batch = summarizer.summarize_batch([doc[0], "原告与被告合同纠纷一案。"], batch_size=2)
    assert batch[0] == summary and len(batch) == 2
    beams = summarizer.summarize_batch([doc[0][:200], "原告与被告合同纠纷一案。"], num_beams=3)
    assert len(beams) == 2 and all(isinstance(s, str) for s in beams)
    free = summarizer.summarize(doc[0], copy=False, no_repeat_ngram_size=2, repetition_penalty=1.2)
    assert isinstance(free, str)
    ex = summarizer.extract(doc[0])
    assert len(ex.clauses) == len(ex.probs) == 105 and ex.extract


def test_bad_inputs(summarizer):
    with pytest.raises(SummarizeError):
        summarizer.summarize("")
    with pytest.raises(SummarizeError):
        summarizer.summarize("   \n ")
    with pytest.raises(TypeError):
        summarizer.summarize(None)
    with pytest.raises(TypeError):
        summarizer.summarize_batch("一段文字")
    with pytest.raises(ValueError):
        summarizer.summarize("原告。", unknown_option=1)
    assert isinstance(summarizer.summarize("原告"), str)  # a single clause
    assert isinstance(summarizer.summarize("no chinese at all, just english."), str)
    long_text = "原告与被告合同纠纷一案，" * 9000  # ~100,000 characters
    ex = summarizer.extract(long_text)
    assert len(ex.clauses) == 256
    assert isinstance(summarizer.summarize(long_text, max_new_tokens=4), str)


def test_save_and_load_pipeline(summarizer, doc, tmp_path):
    summarizer.save_pretrained(tmp_path / "pipe")
    loaded = Summarizer.from_pretrained(tmp_path / "pipe")
    assert loaded.summarize(doc[0]) == summarizer.summarize(doc[0])
    assert loaded.threshold == 0.5
    with pytest.raises(FileNotFoundError):
        Summarizer.from_pretrained(tmp_path / "missing")
    from summarize.pipeline import DEFAULT_PATH

    if not (DEFAULT_PATH / "pipeline.json").exists():  # no trained default is shipped yet
        with pytest.raises(FileNotFoundError, match="no default pipeline"):
            Summarizer.from_pretrained()


def test_half_precision_storage_loads_as_float32(summarizer, doc, tmp_path):
    from safetensors import safe_open

    summarizer.save_pretrained(tmp_path / "half", generator_dtype=torch.float16)
    with safe_open(str(tmp_path / "half" / "generator" / "model.safetensors"), "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F16"}
    loaded = Summarizer.from_pretrained(tmp_path / "half")
    assert loaded.generator.dtype == torch.float32
    for name, p in summarizer.generator.state_dict().items():
        assert torch.equal(loaded.generator.state_dict()[name], p.half().float()), name
    assert isinstance(loaded.summarize(doc[0]), str)


def test_cli(summarizer, doc, tmp_path, capsys, monkeypatch):
    from nlpzoo.cli import main

    summarizer.save_pretrained(tmp_path / "pipe")
    expected = summarizer.summarize(doc[0])
    path = tmp_path / "doc.txt"
    path.write_text(doc[0], encoding="utf-8")
    assert main(["summarize", "--model", str(tmp_path / "pipe"), "--file", str(path), "--json"]) == 0
    record = json.loads(capsys.readouterr().out.strip())
    assert record["summary"] == expected and record["clauses"] == 105
    monkeypatch.setattr(sys, "stdin", io.StringIO("原告与被告合同纠纷一案。\n\n被告辩称。\n"))
    assert main(["summarize", "--model", str(tmp_path / "pipe"), "--lines", "-"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2
    assert main(["summarize", "--model", str(tmp_path / "pipe"), "  "]) == 1
    assert "empty" in capsys.readouterr().err
    assert main(["summarize", "--model", str(tmp_path / "missing"), "text"]) == 1  # runtime: no model


def test_read_pairs_formats():
    cail = read_pairs(CAIL)
    assert len(cail) == 20 and cail[0][1].startswith("原告与被告侵权责任纠纷一案")
    lcsts = read_pairs(DATA / "lcsts_clge" / "val.tsv", limit=3)
    assert len(lcsts) == 3 and len(lcsts[0][0]) > len(lcsts[0][1])
    csl = read_pairs(DATA / "csl_ts" / "dev.tsv", limit=2)
    assert len(csl) == 2 and "to title" not in csl[0]


def test_min_new_tokens_prevents_an_empty_summary(summarizer, doc):
    head = summarizer.generator.head
    assert head.bias is not None
    saved = head.bias.detach().clone()
    try:
        with torch.no_grad():
            head.bias[summarizer.tokenizer.end_id] = 1e4  # the end token wins every step
        assert summarizer.generate([doc[0][:80]], copy=False) == [""]
        out = summarizer.generate([doc[0][:80]], copy=False, min_new_tokens=3, max_new_tokens=3)[0]
        assert len(out) >= 3
        beams = summarizer.generate([doc[0][:80]], num_beams=3, min_new_tokens=2, max_new_tokens=4)[0]
        assert beams  # with the copy constraint and beams too
    finally:
        with torch.no_grad():
            head.bias.copy_(saved)
