"""The TF V2 checkpoint and Keras HDF5 readers: agreement between the two independent writers (TF's Saver and
Keras' HDF5 save_weights), crc32c, and clear errors naming file and tensor on corrupt or truncated files."""

import shutil
import struct

import numpy as np
import pytest

import zoo
from _bert4keras_helpers import CASES, FIXTURES, copy_case
from zoo.bert4keras_names import keras_layer_variables, keras_to_tf, tf_to_hf
from zoo.keras_h5 import read_keras_h5
from zoo.loading import CheckpointError
from zoo.tf_checkpoint import CheckpointFormatError, TFCheckpoint, _raw_update, crc32c, find_checkpoint

h5py = pytest.importorskip("h5py")


def _prefix(case):
    return find_checkpoint(FIXTURES / case)


def test_crc32c_known_values(monkeypatch):
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert crc32c(b"") == 0
    data = np.random.default_rng(0).bytes(300_000 + 17)  # the chunked numpy path
    expected = _raw_update(0xFFFFFFFF, data) ^ 0xFFFFFFFF
    assert crc32c(data) == expected
    monkeypatch.setattr("zoo.tf_checkpoint._BATCH", 7)  # several numpy passes, chained
    assert crc32c(data) == expected


@pytest.mark.parametrize("case", CASES)
def test_tf_checkpoint_equals_hdf5_weights(case):
    """Two writers, two readers, one model: every TF variable equals the HDF5 weight bert4keras maps to it."""
    ckpt = TFCheckpoint(_prefix(case))
    from_h5 = keras_to_tf(read_keras_h5(FIXTURES / case / "best_model.weights"))
    assert sorted(from_h5) == ckpt.names()
    for name in ckpt.names():
        value = ckpt.read(name)
        assert value.dtype == np.float32 and value.shape == ckpt.shape(name)
        np.testing.assert_array_equal(value, from_h5[name])


def test_checkpoint_names_and_kernel_transpose():
    ckpt = TFCheckpoint(_prefix("bert_encoder"))
    names = ckpt.names()
    assert "bert/embeddings/position_embeddings" in names
    assert "bert/embeddings/position_embeddings" not in TFCheckpoint(_prefix("nezha_encoder")).names()
    hf = tf_to_hf({n: ckpt.read(n) for n in names})
    kernel = ckpt.read("bert/encoder/layer_1/intermediate/dense/kernel")
    np.testing.assert_array_equal(hf["bert.encoder.layer.1.intermediate.dense.weight"], kernel.T)
    assert hf["cls.predictions.bias"].shape == (48,)
    assert hf["bert.embeddings.LayerNorm.weight"].shape == (16,)


def test_unknown_tf_variable_is_named():
    with pytest.raises(CheckpointError, match="bert/encoder/layer_0/something/kernel"):
        tf_to_hf({"bert/encoder/layer_0/something/kernel": np.zeros((2, 2), np.float32)})
    with pytest.raises(CheckpointError, match="save_format='h5'"):
        tf_to_hf({"layer_with_weights-0/embeddings/.ATTRIBUTES/VARIABLE_VALUE": np.zeros((2, 2), np.float32)})
    dropped = tf_to_hf({"global_step": np.zeros((), np.int64),
                        "bert/pooler/dense/bias/adam_m": np.zeros(2, np.float32)})
    assert dropped == {}


def test_keras_layer_table():
    assert keras_layer_variables("Transformer-11-MultiHeadSelfAttention")[0] == \
        "bert/encoder/layer_11/attention/self/query/kernel"
    assert keras_layer_variables("MLM-Bias") == ["cls/predictions/output_bias"]
    assert keras_layer_variables("Embedding-Relative-Position") == []
    assert keras_layer_variables("Decoder-Output") is None
    with pytest.raises(CheckpointError, match="Decoder-Output"):
        keras_to_tf({"Decoder-Output": [("x", np.zeros(1))]})
    with pytest.raises(CheckpointError, match="MLM-Norm"):
        keras_to_tf({"MLM-Norm": [("MLM-Norm/beta:0", np.zeros(2))]})
    gamma, beta = np.ones(2), np.zeros(2)  # LayerNormalization weights match by name, in either build order
    norm = keras_to_tf({"MLM-Norm": [("MLM-Norm/gamma:0", gamma), ("MLM-Norm/beta:0", beta)]})
    assert norm["cls/predictions/transform/LayerNorm/gamma"] is gamma
    assert norm["cls/predictions/transform/LayerNorm/beta"] is beta
    with pytest.raises(CheckpointError, match="not in bert4keras' order"):  # bias where the kernel belongs
        keras_to_tf({"Pooler-Dense": [("Pooler-Dense/bias:0", np.zeros(2)),
                                      ("Pooler-Dense/kernel:0", np.zeros((2, 2)))]})


# ------------------------------------------------------------------------- corrupt and truncated files

@pytest.fixture
def broken(tmp_path):
    return copy_case("bert_encoder", tmp_path / "bert_encoder", keep_weights=True)


def _entry_offset(folder, name):
    ckpt = TFCheckpoint(find_checkpoint(folder))
    entry = ckpt._entry(name)
    return entry.offset, entry.size


def test_flipped_data_byte_names_file_and_tensor(broken):
    name = "bert/encoder/layer_0/attention/self/key/kernel"
    offset, size = _entry_offset(broken, name)
    data = broken / "bert_model.ckpt.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[offset + size // 2] ^= 0x40
    data.write_bytes(bytes(raw))
    with pytest.raises(CheckpointFormatError, match=r"data-00000-of-00001.*key/kernel.*crc32c"):
        zoo.from_pretrained(broken)


def test_truncated_data_names_file_and_tensor(broken):
    data = broken / "bert_model.ckpt.data-00000-of-00001"
    raw = data.read_bytes()
    data.write_bytes(raw[: len(raw) - 100])
    with pytest.raises(CheckpointFormatError, match=r"data-00000-of-00001 is truncated: tensor '[^']+'"):
        zoo.from_pretrained(broken)


def test_missing_shard_is_named(broken):
    (broken / "bert_model.ckpt.data-00000-of-00001").unlink()
    with pytest.raises(CheckpointFormatError, match="missing data shard"):
        zoo.from_pretrained(broken)


@pytest.mark.parametrize("cut", [10, 60, 400])
def test_truncated_index_is_named(broken, cut):
    index = broken / "bert_model.ckpt.index"
    index.write_bytes(index.read_bytes()[:-cut])
    with pytest.raises(CheckpointFormatError, match=r"bert_model\.ckpt\.index"):
        zoo.from_pretrained(broken)


def test_corrupted_index_block_fails_its_crc(broken):
    index = broken / "bert_model.ckpt.index"
    raw = bytearray(index.read_bytes())
    raw[20] ^= 0x01  # inside the first data block
    index.write_bytes(bytes(raw))
    with pytest.raises(CheckpointFormatError, match=r"bert_model\.ckpt\.index.*crc32c"):
        zoo.from_pretrained(broken)


def test_compressed_index_block_is_refused_clearly(broken):
    index = broken / "bert_model.ckpt.index"
    raw = bytearray(index.read_bytes())
    footer = len(raw) - 48
    # the index block handle in the footer tells where that block (and its trailer's type byte) sits
    pos = footer
    for _ in range(2):  # skip the metaindex handle
        while raw[pos] & 0x80:
            pos += 1
        pos += 1

    def varint(p):
        value = shift = 0
        while True:
            b = raw[p]
            value |= (b & 0x7F) << shift
            p += 1
            if not b & 0x80:
                return value, p
            shift += 7

    offset, pos = varint(pos)
    size, _ = varint(pos)
    raw[offset + size] = 1  # snappy
    index.write_bytes(bytes(raw))
    with pytest.raises(CheckpointFormatError, match="snappy-compressed"):
        TFCheckpoint(broken / "bert_model.ckpt")


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "bert_config.json").write_text("{}")
    (tmp_path / "model.ckpt.index").write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointFormatError, match="bad magic number"):
        zoo.from_pretrained(tmp_path)


def test_index_entry_with_wrong_size_is_caught(broken):
    """An index whose entry sizes disagree with the shapes (a mismatched index/data pair) is refused."""
    other = find_checkpoint(FIXTURES / "nezha_encoder")
    shutil.copyfile(other.with_name(other.name + ".index"), broken / "bert_model.ckpt.index")
    with pytest.raises(CheckpointError):
        zoo.from_pretrained(broken)


def test_mismatched_config_names_the_tensor(broken):
    cfg = (broken / "bert_config.json").read_text().replace('"intermediate_size": 32', '"intermediate_size": 64')
    (broken / "bert_config.json").write_text(cfg)
    with pytest.raises(CheckpointError, match=r"shape mismatches.*ffn\.up\.weight"):
        zoo.from_pretrained(broken)


def test_reduced_vocabulary_follows_the_stored_table(broken):
    """A fine-tuned model saved with keep_tokens next to the pretrained config: the stored rows decide."""
    cfg = (broken / "bert_config.json").read_text().replace('"vocab_size": 48', '"vocab_size": 21128')
    (broken / "bert_config.json").write_text(cfg)
    assert zoo.from_pretrained(broken, head="mlm").config.vocab_size == 48


def test_truncated_hdf5_is_named(broken):
    weights = broken / "best_model.weights"
    raw = weights.read_bytes()
    weights.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match=r"best_model\.weights"):
        zoo.from_pretrained(weights)


def test_hdf5_layer_with_missing_weight_is_named(broken):
    weights = broken / "best_model.weights"
    with h5py.File(weights, "r+") as f:
        group = f["MLM-Dense"]
        group.attrs["weight_names"] = group.attrs["weight_names"][:1]
    with pytest.raises(CheckpointError, match="MLM-Dense"):
        zoo.from_pretrained(weights, head="mlm")


def test_hdf5_with_string_data_is_refused(broken):
    weights = broken / "best_model.weights"
    with h5py.File(weights, "r+") as f:
        group = f["MLM-Bias"]
        name = group.attrs["weight_names"][0]
        name = name.decode() if isinstance(name, bytes) else name
        del group[name]
        group[name] = np.array([b"import os"], dtype="S9")
    with pytest.raises(CheckpointError, match=r"MLM-Bias.*not a numeric array"):
        zoo.from_pretrained(weights, head="mlm")


def test_tf_format_keras_checkpoint_is_explained(tmp_path):
    (tmp_path / "bert_config.json").write_text("{}")
    (tmp_path / "best_model.weights.index").write_bytes(b"")
    (tmp_path / "best_model.weights").write_bytes(b"not hdf5")
    with pytest.raises(CheckpointError, match="save_format='h5'"):
        read_keras_h5(tmp_path / "best_model.weights")


def test_several_checkpoints_without_state_file(tmp_path):
    folder = copy_case("bert_bare", tmp_path / "two")
    (folder / "checkpoint").unlink()
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copyfile(folder / f"bert_model.ckpt{suffix}", folder / f"bert_model.ckpt-2{suffix}")
    with pytest.raises(CheckpointError, match="several checkpoints"):
        zoo.from_pretrained(folder)
    assert zoo.from_pretrained(folder / "bert_model.ckpt-2").config.num_hidden_layers == 2


def test_header_reports_one_shard():
    assert TFCheckpoint(_prefix("bert_lm")).num_shards == 1
    raw = (_prefix("bert_lm").with_name("bert_model.ckpt.index")).read_bytes()
    assert struct.unpack("<Q", raw[-8:])[0] == 0xDB4775248B80FB57
