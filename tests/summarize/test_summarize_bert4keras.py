"""The SPACES training script's own `model.save_weights` file loads as SpacesForSummary and reproduces bert4keras.

Fixture: tests/fixtures/bert4keras/nezha_spaces (made by make_spaces_fixture.py with bert4keras itself: a NEZHA UniLM
with keep_tokens / compound_tokens and the automatically named Dense(3, softmax) copy head on 'MLM-Norm')."""

import json
import shutil

import numpy as np
import pytest
import torch
from _bert4keras_helpers import FIXTURES

import zoo
from summarize import Summarizer
from summarize.extractor import ClauseExtractor
from summarize.generator import SpacesForSummary
from zoo.loading import CheckpointError

h5py = pytest.importorskip("h5py")

SPACES = FIXTURES / "nezha_spaces"
WEIGHTS = SPACES / "best_model.weights"


def _copy(dst):
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("bert_config.json", "vocab.txt", "best_model.weights"):
        shutil.copyfile(SPACES / name, dst / name)
    return dst


def _bert4keras_outputs(model):
    with np.load(SPACES / "outputs.npz") as f:
        rec = dict(f)
    ids, segments = torch.from_numpy(rec["token_ids"]).long(), torch.from_numpy(rec["segment_ids"]).long()
    with torch.no_grad():
        out = model(ids, token_type_ids=segments, attention_mask=(ids != 0).long())
    return rec, out.logits.softmax(-1).numpy(), out.copy_logits.softmax(-1).numpy()


@pytest.mark.parametrize("where", ["file", "folder"])
def test_spaces_weights_reproduce_bert4keras(where):
    model = SpacesForSummary.from_pretrained(WEIGHTS if where == "file" else SPACES)
    assert model.config.attention == "unilm" and model.config.vocab_size == 49  # 47 kept + 2 compound tokens
    rec, mlm, copy = _bert4keras_outputs(model)
    assert rec["copy_probs"].shape == copy.shape and rec["mlm_probs"].shape == mlm.shape
    np.testing.assert_allclose(mlm, rec["mlm_probs"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(copy, rec["copy_probs"], atol=1e-5, rtol=0)


def _str(name):
    return name.decode() if isinstance(name, bytes) else str(name)


def _edit_layers(file, rename=None, add=None, drop=None):
    """Rename / add / drop a layer group of a Keras HDF5 weights file, keeping `layer_names` in step."""
    with h5py.File(file, "r+") as f:
        names = [_str(n) for n in f.attrs["layer_names"]]
        if rename:
            old, new = rename
            f.move(old, new)
            weight_names = [_str(w).replace(old, new, 1) for w in f[new].attrs["weight_names"]]
            for w_old, w_new in zip(f[new].attrs["weight_names"], weight_names):
                f[new].move(_str(w_old), w_new)
            f[new].attrs["weight_names"] = [w.encode() for w in weight_names]
            names = [new if n == old else n for n in names]
        if add:
            name, kernel, bias = add
            group = f.create_group(name)
            group.create_dataset(f"{name}/kernel:0", data=kernel)
            group.create_dataset(f"{name}/bias:0", data=bias)
            group.attrs["weight_names"] = [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()]
            names.append(name)
        if drop:
            del f[drop]
            names.remove(drop)
        f.attrs["layer_names"] = [n.encode() for n in names]


def _dense_name():
    with h5py.File(WEIGHTS, "r") as f:
        extra = [_str(n) for n in f.attrs["layer_names"] if _str(n).startswith("dense")]
    assert len(extra) == 1
    return extra[0]


def test_copy_head_found_by_shape_whatever_its_name(tmp_path):
    folder = _copy(tmp_path / "renamed")
    _edit_layers(folder / "best_model.weights", rename=(_dense_name(), "Transformer-9-Copy"))
    rec, mlm, copy = _bert4keras_outputs(SpacesForSummary.from_pretrained(folder))
    np.testing.assert_allclose(copy, rec["copy_probs"], atol=1e-5, rtol=0)


def test_two_candidate_heads_are_refused(tmp_path):
    folder = _copy(tmp_path / "two")
    rng = np.random.default_rng(0)
    _edit_layers(folder / "best_model.weights",
                 add=("dense_99", rng.standard_normal((16, 3)).astype("float32"), np.zeros(3, "float32")))
    with pytest.raises(CheckpointError, match=r"2 Dense layers \(dense_\d+, dense_99\), not one") as err:
        SpacesForSummary.from_pretrained(folder)
    assert str(folder / "best_model.weights") in str(err.value) and "dense_99" in str(err.value)


@pytest.mark.parametrize("case", ["dropped", "wrong_shape", "plain_unilm"])
def test_missing_head_is_refused(tmp_path, case):
    if case == "plain_unilm":  # a bert4keras UniLM saved without any copy head
        file = tmp_path / "best_model.weights"
        shutil.copyfile(FIXTURES / "bert_unilm" / "best_model.weights", file)
        shutil.copyfile(FIXTURES / "bert_unilm" / "bert_config.json", tmp_path / "bert_config.json")
    else:
        file = _copy(tmp_path / case) / "best_model.weights"
        _edit_layers(file, drop=_dense_name())
        if case == "wrong_shape":  # a Dense(3) that does not read the hidden state (16) is no copy head
            _edit_layers(file, add=("dense", np.zeros((8, 3), "float32"), np.zeros(3, "float32")))
    with pytest.raises(CheckpointError, match=r"no Dense layer with a \[16, 3\] kernel") as err:
        SpacesForSummary.from_pretrained(file)
    assert str(file) in str(err.value)


def test_tf_checkpoint_has_no_copy_head():
    with pytest.raises(CheckpointError, match="TF checkpoint holds only"):
        SpacesForSummary.from_pretrained(FIXTURES / "nezha_unilm")


def test_plain_loader_still_refuses_the_extra_layer():
    with pytest.raises(CheckpointError, match="no place in a BERT / NEZHA model"):
        zoo.from_pretrained(WEIGHTS, head="mlm", attention="unilm")


@pytest.mark.parametrize("with_spec", [False, True])
def test_summarizer_from_spaces_generator_and_our_extractor(tmp_path, with_spec):
    _copy(tmp_path / "generator")
    torch.manual_seed(0)
    ClauseExtractor(input_size=16, hidden_size=8, threshold=0.3).save_pretrained(tmp_path / "extractor")
    if with_spec:
        spec = {"generator": "generator", "extractor": "extractor", "options": {"max_new_tokens": 6}}
        (tmp_path / "pipeline.json").write_text(json.dumps(spec))
    summarizer = Summarizer.from_pretrained(tmp_path, **({} if with_spec else {"max_new_tokens": 6}))
    direct = SpacesForSummary.from_pretrained(WEIGHTS)
    assert torch.equal(summarizer.generator.copy_head.weight, direct.copy_head.weight)
    assert summarizer.extractor is not None and summarizer.threshold == 0.3
    text = "今天天气很好，我想去公园玩。他说你们来吃饭。"
    extraction = summarizer.extract(text)
    assert len(extraction.probs) == len(extraction.clauses) == 3 and extraction.probs != [1.0] * 3
    summary = summarizer.summarize(text)
    assert isinstance(summary, str) and summarizer.options["max_new_tokens"] == 6


def test_summarizer_refuses_a_vocab_of_the_wrong_size(tmp_path):
    folder = _copy(tmp_path / "generator")
    lines = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
    (folder / "vocab.txt").write_text("\n".join(lines[:-2]) + "\n", encoding="utf-8")  # without compound words
    with pytest.raises(ValueError, match="47 tokens, the generator 49 embedding rows"):
        Summarizer.from_pretrained(tmp_path, max_new_tokens=6)
