"""Fault probes for zoo.from_pretrained: truncated and empty files, hostile configs (checked before anything is
allocated), bad weight values, and shard paths that leave the model folder. Every failure is a CheckpointError
that names the file."""

import json
import shutil
import time
from pathlib import Path

import pytest
import torch
import transformers as T
from safetensors.torch import load_file, save_file

import zoo
from zoo.loading import CheckpointError


@pytest.fixture(scope="module")
def bert_folder(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    config = T.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                          intermediate_size=37, max_position_embeddings=64)
    folder = tmp_path_factory.mktemp("bert")
    T.BertForMaskedLM(config).save_pretrained(folder)
    return folder


@pytest.fixture()
def copy(bert_folder, tmp_path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(bert_folder, folder)
    return folder


def edit_config(folder: Path, **changes) -> None:
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))


def edit_weights(folder: Path, edit) -> None:
    state = load_file(folder / "model.safetensors")
    edit(state)
    save_file(state, folder / "model.safetensors")


def refused(folder: Path, file_name: str, match: str = "", **kwargs) -> CheckpointError:
    with pytest.raises(CheckpointError, match=match) as err:
        zoo.from_pretrained(folder, **kwargs)
    assert file_name in str(err.value), str(err.value)
    return err.value


def test_good_checkpoint_loads(bert_folder):
    assert zoo.from_pretrained(bert_folder, head="mlm").config.vocab_size == 99


@pytest.mark.parametrize("keep", [0, 8, 100, -100])
def test_truncated_safetensors(copy, keep):
    data = (copy / "model.safetensors").read_bytes()
    (copy / "model.safetensors").write_bytes(data[:keep] if keep >= 0 else data[:keep])
    refused(copy, "model.safetensors")


@pytest.mark.parametrize("content", [b"", b"\x80\x02", b"PK\x03\x04broken", b"not a pickle"])
def test_empty_or_broken_bin(copy, content):
    (copy / "model.safetensors").unlink()
    (copy / "pytorch_model.bin").write_bytes(content)
    refused(copy, "pytorch_model.bin")


def test_bin_that_is_not_a_tensor_mapping(copy):
    (copy / "model.safetensors").unlink()
    torch.save([torch.zeros(2)], copy / "pytorch_model.bin")
    refused(copy, "pytorch_model.bin", "mapping of names to tensors")


@pytest.mark.parametrize("text", ["[1, 2]", '"bert"', "null", "{bad json", "[" * 100_000])
def test_config_that_is_not_an_object(copy, text):
    (copy / "config.json").write_text(text)
    refused(copy, "config.json")


@pytest.mark.parametrize("changes", [
    {"hidden_size": -32}, {"num_hidden_layers": -1}, {"intermediate_size": 0}, {"vocab_size": "99"},
    {"max_position_embeddings": 64.0}, {"layer_norm_eps": -1e-12}, {"layer_norm_eps": float("nan")},
    {"hidden_dropout_prob": 1.5}, {"num_attention_heads": 5}, {"hidden_act": "exec"},
    {"model_type": "pickle"}, {"type_vocab_size": True},
])
def test_hostile_config_values(copy, changes):
    edit_config(copy, **changes)
    refused(copy, "config.json")


def test_missing_vocab_size_in_gpt_config(tmp_path):
    folder = tmp_path / "gpt"
    T.GPT2LMHeadModel(T.GPT2Config(vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=32)).save_pretrained(
        folder)
    config = json.loads((folder / "config.json").read_text())
    del config["vocab_size"]
    (folder / "config.json").write_text(json.dumps(config))
    refused(folder, "config.json", "vocab_size")


def _load_time(folder) -> float:
    start = time.perf_counter()
    try:
        zoo.from_pretrained(folder, head="mlm")
    except CheckpointError:
        pass
    return time.perf_counter() - start


@pytest.mark.parametrize("changes", [
    {"vocab_size": 3_000_000}, {"vocab_size": 10**9}, {"num_hidden_layers": 100_000},
    {"intermediate_size": 10**9}, {"max_position_embeddings": 10**9}, {"hidden_size": 2**20, "num_attention_heads": 1},
])
def test_absurd_sizes_fail_before_allocating(bert_folder, copy, changes):
    """A config whose sizes disagree with the weights fails as fast as a normal load succeeds (no allocation)."""
    edit_config(copy, **changes)
    refused(copy, "model.safetensors", head="mlm")
    normal = min(_load_time(bert_folder) for _ in range(3))
    hostile = min(_load_time(copy) for _ in range(2))
    assert hostile / normal < 5, f"{changes}: {hostile:.3f}s vs {normal:.3f}s for a good load"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_weights_are_refused(copy, value):
    def poison(state):
        state["bert.encoder.layer.1.output.dense.weight"][3, 4] = value

    edit_weights(copy, poison)
    refused(copy, "model.safetensors", "non-finite")
    model = zoo.from_pretrained(copy, check_weights=False)  # the explicit opt-out
    assert not torch.isfinite(model.layers[1].ffn.down.weight).all()


def test_integer_weights_are_refused(copy):
    def to_int(state):
        name = "bert.embeddings.word_embeddings.weight"
        state[name] = (state[name] * 100).to(torch.int32)

    edit_weights(copy, to_int)
    refused(copy, "model.safetensors", "floating point")


def test_mismatched_attention_shapes(copy):
    def cut(state):
        state["bert.encoder.layer.0.attention.self.key.weight"] = state[
            "bert.encoder.layer.0.attention.self.key.weight"][:, :16].contiguous()

    edit_weights(copy, cut)
    refused(copy, "config.json")


def _shard(folder: Path, weight_map_value: str) -> None:
    """Turn the checkpoint into a two-shard one whose second shard is named ``weight_map_value``."""
    state = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    names = sorted(state)
    save_file({k: state[k] for k in names[:5]}, folder / "part-1.safetensors")
    weight_map = {k: "part-1.safetensors" for k in names[:5]}
    weight_map.update({k: weight_map_value for k in names[5:]})
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    return {k: state[k] for k in names[5:]}


def test_sharded_checkpoint_loads(copy):
    rest = _shard(copy, "part-2.safetensors")
    save_file(rest, copy / "part-2.safetensors")
    assert zoo.from_pretrained(copy).config.vocab_size == 99


@pytest.mark.parametrize("target", ["../outside.safetensors", "sub/../../outside.safetensors",
                                    "..\\outside.safetensors", "/ABSOLUTE"])
def test_shard_paths_stay_in_the_model_folder(copy, target):
    rest = _shard(copy, target)
    outside = copy.parent / "outside.safetensors"
    save_file(rest, outside)  # a valid shard outside the folder: must still not be read
    target = target.replace("/ABSOLUTE", str(outside))
    index = json.loads((copy / "model.safetensors.index.json").read_text())
    index["weight_map"] = {k: (target if v != "part-1.safetensors" else v) for k, v in index["weight_map"].items()}
    (copy / "model.safetensors.index.json").write_text(json.dumps(index))
    refused(copy, "model.safetensors.index.json", "leaves the model folder")


@pytest.mark.parametrize("index", ['[]', '{"weight_map": []}', '{"weight_map": {"a": 3}}', '{}'])
def test_malformed_shard_index(copy, index):
    (copy / "model.safetensors").unlink()
    (copy / "model.safetensors.index.json").write_text(index)
    refused(copy, "model.safetensors.index.json")
