"""Read Keras HDF5 weight files (`model.save_weights('best_model.weights')` under Keras 2 / tf.keras 2) with h5py.

Only datasets are read: the file's `layer_names` attribute gives the layers in model order, each layer group's
`weight_names` attribute its weights in layer order. Nothing is deserialized or executed. h5py is an optional
extra: `pip install "nlpzoo[bert4keras]"`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .loading import CheckpointError

__all__ = ["read_keras_h5", "is_hdf5"]

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_hdf5(path: Path) -> bool:
    """The HDF5 signature at offset 0 (where Keras writes it; HDF5 also allows 512, 1024, ...)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if head == HDF5_SIGNATURE:
                return True
            for offset in (512, 1024, 2048):
                f.seek(offset)
                if f.read(8) == HDF5_SIGNATURE:
                    return True
    except OSError:
        return False
    return False


def _names(attr) -> list[str]:
    return [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in np.atleast_1d(attr)]


def read_keras_h5(path: str | Path) -> dict[str, list[tuple[str, np.ndarray]]]:
    """{layer name: [(weight name, array), ...]} for every layer with weights, in model order."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no weights file {path}")
    if not is_hdf5(path):
        if path.with_name(path.name + ".index").is_file():
            raise CheckpointError(
                f"{path}: this is a TensorFlow-format Keras checkpoint (tf.keras `save_weights` without an .h5 "
                "suffix), whose names are object paths, not bert4keras layer names. Re-save it in bert4keras with "
                "`model.save_weights(path, save_format='h5')`, or `save_weights_as_checkpoint(path)`")
        raise CheckpointError(f"{path} is not a Keras HDF5 weights file (no HDF5 signature)")
    try:
        import h5py
    except ImportError:
        raise CheckpointError(f"reading {path} needs h5py: pip install 'nlpzoo[bert4keras]' (or pip install h5py)") \
            from None
    layer, weight = None, None
    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f  # a full model.save() file holds them here
            if "layer_names" not in root.attrs:
                raise CheckpointError(f"{path} has no Keras 'layer_names' attribute: not a Keras weights file")
            out = {}
            for layer in _names(root.attrs["layer_names"]):
                group = root[layer]
                names = _names(group.attrs.get("weight_names", []))
                values = []
                for weight in names:
                    dataset = group[weight]
                    if not isinstance(dataset, h5py.Dataset) or dataset.dtype.kind not in "fiub":
                        raise CheckpointError(f"{path}: weight {weight!r} of layer {layer!r} is not a numeric array")
                    values.append((weight, np.asarray(dataset[()])))
                if values:
                    out[layer] = values
            return out
    except CheckpointError:
        raise
    except (OSError, KeyError, ValueError, RuntimeError) as err:
        where = f" (layer {layer!r}, weight {weight!r})" if layer else ""
        raise CheckpointError(f"{path}: cannot read the HDF5 weights{where}: truncated or corrupted? "
                              f"{type(err).__name__}: {err}") from None
