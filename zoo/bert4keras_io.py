"""Find and read the originals' own layouts: TF checkpoints (Google BERT, Huawei NEZHA, WoBERT / WoNEZHA releases,
bert4keras `save_weights_as_checkpoint`) and bert4keras Keras HDF5 `.weights` files (`model.save_weights`).

    folder/bert_config.json (or config.json) + folder/bert_model.ckpt.index + .data-00000-of-00001 [+ checkpoint]
    folder/config.json + folder/model.ckpt.*                         (the NEZHA-GPT dialog release)
    folder/best_model.weights  (or any *.weights / *.h5) next to its bert_config.json / config.json

A training script's extra head (the SPACES copy head, an automatically named Keras `Dense`) is no BERT layer:
`take_dense_head` takes it out of the HDF5 file by its shapes, and the rest then loads as usual.

`read_original(path)` returns the config as a Hugging Face BERT / NEZHA config dict (model_type "bert" when absolute
position embeddings are stored, else "nezha") and the weights under Hugging Face BERT names, so that
`zoo.loading` and `zoo.convert` treat them like any BERT-family checkpoint.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch

from .bert4keras_names import SKIPPED_TF, keras_to_tf, tf_to_hf
from .loading import CheckpointError

__all__ = ["read_original", "find_original", "take_dense_head", "Original"]

logger = logging.getLogger(__name__)

CONFIG_NAMES = ("bert_config.json", "config.json")
HF_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
KERAS_SUFFIXES = (".weights", ".h5", ".hdf5")


class Original:
    """A located original checkpoint: `folder`, `config_file`, and `checkpoint` (TF prefix) or `weights` (HDF5);
    `layers`: the HDF5 layers once read (`take_dense_head` leaves them there without the head it took)."""

    def __init__(self, folder: Path, config_file: Path, checkpoint: Path | None = None, weights: Path | None = None):
        self.folder, self.config_file, self.checkpoint, self.weights = folder, config_file, checkpoint, weights
        self.layers: dict[str, list[tuple[str, np.ndarray]]] | None = None

    @property
    def source(self) -> Path:
        return self.checkpoint if self.checkpoint is not None else self.weights


def _config_file(folder: Path) -> Path:
    for name in CONFIG_NAMES:
        if (folder / name).is_file():
            return folder / name
    raise CheckpointError(f"{folder} has TensorFlow / bert4keras weights but no bert_config.json or config.json")


def find_original(path) -> Original | None:
    """The original layout at `path` (a folder, a `.weights` / `.h5` file, or a TF checkpoint prefix), or None
    when `path` is something else (a Hugging Face folder, a hub id). An `Original` is returned as it is."""
    from .tf_checkpoint import find_checkpoint

    if isinstance(path, Original):
        return path
    path = Path(path).expanduser()
    if path.is_file() and path.suffix in KERAS_SUFFIXES:
        return Original(path.parent, _config_file(path.parent), weights=path)
    if not path.is_dir() and path.with_name(path.name + ".index").is_file():
        return Original(path.parent, _config_file(path.parent), checkpoint=path)
    if not path.is_dir() or any((path / name).is_file() for name in HF_WEIGHTS):
        return None
    checkpoint = find_checkpoint(path)
    if checkpoint is not None:
        return Original(path, _config_file(path), checkpoint=checkpoint)
    keras = sorted(p for p in path.iterdir() if p.suffix in KERAS_SUFFIXES and p.is_file())
    if len(keras) > 1:
        raise CheckpointError(f"{path} holds several weight files {[p.name for p in keras]}; pass one of them")
    if keras:
        return Original(path, _config_file(path), weights=keras[0])
    return None


def _read_config(file: Path) -> dict:
    try:
        cfg = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{file} is not valid JSON: {err}") from None
    if not isinstance(cfg, dict):
        raise CheckpointError(f"{file} does not hold a JSON object")
    return cfg


def read_tf_names(original: Original) -> dict[str, np.ndarray]:
    """Every tensor of the original under its TF variable name."""
    if original.checkpoint is not None:
        from .tf_checkpoint import TFCheckpoint

        with TFCheckpoint(original.checkpoint) as ckpt:
            return {name: ckpt.read(name) for name in ckpt.names() if not SKIPPED_TF.search(name)}
    from .keras_h5 import read_keras_h5

    layers = original.layers if original.layers is not None else read_keras_h5(original.weights)
    return keras_to_tf(layers, source=str(original.weights))


def _is_dense(weights: list[tuple[str, np.ndarray]], fan_in: int, width: int) -> bool:
    if len(weights) != 2:
        return False
    (k_name, kernel), (b_name, bias) = weights
    leaves = [n.rpartition("/")[2].split(":")[0] for n in (k_name, b_name)]
    return leaves == ["kernel", "bias"] and kernel.shape == (fan_in, width) and bias.shape == (width,)


def take_dense_head(original: Original, width: int) -> tuple[str, np.ndarray, np.ndarray]:
    """(layer name, kernel [hidden, width], bias [width]) of the one layer of a bert4keras HDF5 file that is not
    a BERT / NEZHA layer and is a Dense from the hidden size to `width`, found by its shapes, never by its
    (automatic) name; the layer is removed from `original.layers`, so the rest loads as a BERT / NEZHA model.
    None or several such layers, or a TF checkpoint (which holds the BERT variables only), is a CheckpointError."""
    from .bert4keras_names import keras_layer_variables
    from .keras_h5 import read_keras_h5

    if original.weights is None:
        raise CheckpointError(f"{original.source}: a TF checkpoint holds only the BERT / NEZHA variables; the extra "
                              f"Dense({width}) head is saved in the training script's `model.save_weights` file")
    hidden = _read_config(original.config_file).get("hidden_size")
    if original.layers is None:
        original.layers = read_keras_h5(original.weights)
    extra = {name: w for name, w in original.layers.items() if keras_layer_variables(name) is None}
    found = [name for name, w in extra.items() if _is_dense(w, hidden, width)]
    if len(found) != 1:
        shapes = {name: [tuple(v.shape) for _, v in w] for name, w in extra.items()}
        what = "no Dense layer" if not found else f"{len(found)} Dense layers ({', '.join(found)}), not one,"
        raise CheckpointError(f"{original.weights}: {what} with a [{hidden}, {width}] kernel and a [{width}] bias "
                              f"beside the BERT / NEZHA layers (hidden_size {hidden} from {original.config_file.name});"
                              f" layers outside BERT / NEZHA: {shapes or 'none'}")
    (_, kernel), (_, bias) = original.layers.pop(found[0])
    return found[0], kernel, bias


def read_original(path) -> tuple[Original, dict, dict[str, torch.Tensor]] | None:
    """(located original, HF-style config dict, {HF BERT name: tensor}), or None if `path` is not an original."""
    original = find_original(path)
    if original is None:
        return None
    tensors = tf_to_hf(read_tf_names(original), source=str(original.source))
    cfg = _read_config(original.config_file)
    kind = "bert" if "bert.embeddings.position_embeddings.weight" in tensors else "nezha"
    cfg = {**cfg, "model_type": kind}
    # fine-tuned bert4keras models are often saved with a reduced vocabulary (keep_tokens) next to the pretrained
    # model's config: the stored table decides
    embeddings = tensors.get("bert.embeddings.word_embeddings.weight")
    if embeddings is not None and cfg.get("vocab_size") != embeddings.shape[0]:
        logger.info("%s: vocab_size %s in %s, %d rows stored; using the stored size", original.source,
                    cfg.get("vocab_size"), original.config_file.name, embeddings.shape[0])
        cfg["vocab_size"] = int(embeddings.shape[0])
    cfg.setdefault("layer_norm_eps", 1e-12)  # bert4keras' and Google BERT's LayerNorm epsilon
    if kind == "nezha":
        cfg.setdefault("max_relative_position", 64)
    if cfg.get("embedding_size", cfg.get("hidden_size")) != cfg.get("hidden_size"):
        raise CheckpointError(f"{original.config_file}: embedding_size {cfg['embedding_size']} != hidden_size "
                              f"{cfg.get('hidden_size')} is not supported")
    state = {name: torch.from_numpy(np.asarray(value, dtype=np.float32 if value.dtype.kind == "f" else value.dtype))
             for name, value in tensors.items()}
    return original, cfg, state
