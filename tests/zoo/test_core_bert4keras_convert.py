"""`zoo convert`: bert4keras fixtures -> Hugging Face folders. Plain BERT loads in vanilla transformers (checked in a
subprocess that never imports our packages) with bert4keras' logits; NEZHA round-trips through the zoo layout."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import zoo
from _bert4keras_helpers import DECODE_CASES, attention, copy_case, decode_record, outputs, source_path, write_vocab
from zoo.convert import convert

VANILLA = r"""
import json, sys
import numpy as np, torch
from transformers import BertForMaskedLM, BertModel, BertTokenizerFast
folder, kind, ids_file = sys.argv[1:]
ids = np.load(ids_file)
model = (BertForMaskedLM if kind == "mlm" else BertModel).from_pretrained(folder).eval()
tok = BertTokenizerFast.from_pretrained(folder)
with torch.no_grad():
    t = torch.as_tensor(ids["token_ids"]).long()
    out = model(t, token_type_ids=torch.as_tensor(ids["segment_ids"]).long(), attention_mask=(t != 0).long())
result = out.logits if kind == "mlm" else out.last_hidden_state
assert not [m for m in sys.modules if m == "zoo" or m.startswith(("zoo.", "wobert", "dialog"))]
np.save(sys.argv[3] + ".out.npy", result.numpy())
print(json.dumps({"tokens": tok.tokenize("你好")}))
"""


def _vanilla(folder, kind, ref, tmp_path):
    ids = tmp_path / "ids.npz"
    np.savez(ids, token_ids=ref["token_ids"], segment_ids=ref["segment_ids"])
    proc = subprocess.run([sys.executable, "-c", VANILLA, str(folder), kind, str(ids)], capture_output=True,
                          text=True, timeout=300, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return np.load(str(ids) + ".out.npy"), json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case,source,kind", [("bert_encoder", "checkpoint", "mlm"), ("bert_lm", "weights", "mlm"),
                                              ("bert_bare", "checkpoint", "base")])
def test_plain_bert_converts_to_vanilla_transformers(case, source, kind, tmp_path):
    src = copy_case(case, tmp_path / "src", keep_weights=True)
    write_vocab(src)
    dst = convert(src if source == "checkpoint" else src / "best_model.weights", tmp_path / "hf")
    config = json.loads((dst / "config.json").read_text())
    assert config["model_type"] == "bert"
    assert {"model.safetensors", "vocab.txt", "tokenizer_config.json"} <= {p.name for p in dst.iterdir()}
    ref = outputs(case)
    got, info = _vanilla(dst, kind, ref, tmp_path)
    expected = ref["mlm_logits"] if kind == "mlm" else ref["sequence_output"]
    if case != "bert_lm":  # vanilla BERT is bidirectional; the LM fixture's outputs are causal
        assert np.abs(got - expected).max() <= 1e-5
    else:
        lm = zoo.from_pretrained(dst, head="mlm", attention="causal")
        t = torch.as_tensor(ref["token_ids"]).long()
        with torch.no_grad():
            ours = lm(t, token_type_ids=torch.as_tensor(ref["segment_ids"]).long(), attention_mask=(t != 0).long())
        assert np.abs(ours.logits.numpy() - expected).max() <= 1e-5
        bidir = zoo.from_pretrained(dst, head="mlm")
        with torch.no_grad():
            ours = bidir(t, token_type_ids=torch.as_tensor(ref["segment_ids"]).long(), attention_mask=(t != 0).long())
        assert np.abs(ours.logits.numpy() - got).max() <= 1e-5
    assert info["tokens"] == ["你", "好"]


@pytest.mark.parametrize("case", DECODE_CASES)
def test_greedy_decode_on_converted_folders(case, tmp_path):
    dst = convert(source_path(case, "weights"), tmp_path / "hf")
    assert json.loads((dst / "config.json").read_text())["model_type"] == ("bert" if case.startswith("bert") else "zoo")
    model = zoo.from_pretrained(dst, head="lm", attention=attention(case))
    record = decode_record(case)
    for run_ in record["runs"]:
        got = zoo.generate(model, torch.tensor([record["prompt"]]),
                           token_type_ids=torch.tensor([record["segment_ids"]]),
                           new_token_type_id=record["new_segment_id"], max_new_tokens=record["maxlen"],
                           eos_token_id=run_["end_id"])
        assert got[0].tolist() == run_["output"]


def test_zoo_convert_command(tmp_path, capsys):
    """`zoo convert SRC DST` (the application layer's command over zoo.convert.convert), with the CLI's one error
    format and exit codes."""
    from nlpzoo.cli import main

    dst = tmp_path / "out"
    source = str(source_path("nezha_encoder", "checkpoint"))
    assert main(["convert", source, str(dst)]) == 0
    assert capsys.readouterr().out.strip() == str(dst)
    assert main(["convert", source, str(dst)]) == 1  # not empty
    assert "zoo convert: error:" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "nothing"), str(tmp_path / "x")]) == 1
    assert "zoo convert: error:" in capsys.readouterr().err
    model = zoo.from_pretrained(dst, head="mlm")
    ref = outputs("nezha_encoder")
    t = torch.as_tensor(ref["token_ids"]).long()
    with torch.no_grad():
        out = model(t, token_type_ids=torch.as_tensor(ref["segment_ids"]).long(), attention_mask=(t != 0).long())
    assert np.abs(out.logits.numpy() - ref["mlm_logits"]).max() <= 1e-5
