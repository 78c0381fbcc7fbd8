"""Name tables: Google-BERT / bert4keras TF variable names and bert4keras Keras layer names -> Hugging Face BERT names.

Two steps, one direction each:
  * bert4keras layer (`Embedding-Token`, `Transformer-3-MultiHeadSelfAttention`, `MLM-Bias`, ...) -> the TF
    variable names that bert4keras' own `variable_mapping` gives it (the names `save_weights_as_checkpoint`
    writes and the Google BERT / Huawei NEZHA releases use), in the layer's weight order;
  * TF variable name -> Hugging Face BERT name (`bert.encoder.layer.3.attention.self.query.weight`), the one
    place where TF's [in, out] dense kernels become torch's [out, in] weights.
The HF names then load through `zoo.loading` like any BERT / NEZHA checkpoint. NEZHA has the BERT names minus
`bert/embeddings/position_embeddings` (its relative positions are a fixed sinusoid table, computed, not stored).
The MLM head is tied to the word embeddings in bert4keras (the `Embedding-Token` layer in 'dense' mode), so only its
transform (`MLM-Dense`, `MLM-Norm`) and bias (`MLM-Bias`) are weights; LM and UniLM models use the same head.
"""

from __future__ import annotations

import re

import numpy as np

from .loading import CheckpointError

__all__ = ["keras_layer_variables", "keras_to_tf", "tf_to_hf", "SKIPPED_TF"]

# TF variables that are training state or heads the zoo model has no place for
SKIPPED_TF = re.compile(
    r"(^|/)(global_step|bad_steps|good_steps|loss_scale|beta1_power|beta2_power)$|/(adam_[mv]|Adam(_1)?)$|"
    r"^_CHECKPOINTABLE_OBJECT_GRAPH$|^cls/seq_relationship/"
)

_LAYER_TF = {
    "attention/self/query": "attention.self.query",
    "attention/self/key": "attention.self.key",
    "attention/self/value": "attention.self.value",
    "attention/output/dense": "attention.output.dense",
    "attention/output/LayerNorm": "attention.output.LayerNorm",
    "intermediate/dense": "intermediate.dense",
    "output/dense": "output.dense",
    "output/LayerNorm": "output.LayerNorm",
}
_GLOBAL_TF = {
    "bert/embeddings/word_embeddings": "bert.embeddings.word_embeddings.weight",
    "bert/embeddings/token_type_embeddings": "bert.embeddings.token_type_embeddings.weight",
    "bert/embeddings/position_embeddings": "bert.embeddings.position_embeddings.weight",
    "bert/embeddings/LayerNorm": "bert.embeddings.LayerNorm",
    "bert/pooler/dense": "bert.pooler.dense",
    "cls/predictions/transform/dense": "cls.predictions.transform.dense",
    "cls/predictions/transform/LayerNorm": "cls.predictions.transform.LayerNorm",
    "cls/predictions/output_bias": "cls.predictions.bias",
}
_PARAM = {"kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias"}


def _hf_name(tf_name: str) -> str | None:
    if tf_name in _GLOBAL_TF and tf_name.endswith(("_embeddings", "output_bias")):
        return _GLOBAL_TF[tf_name]
    module, _, param = tf_name.rpartition("/")
    if param not in _PARAM:
        return None
    if module in _GLOBAL_TF:
        return f"{_GLOBAL_TF[module]}.{_PARAM[param]}"
    m = re.fullmatch(r"bert/encoder/layer_(\d+)/(.+)", module)
    if m and m.group(2) in _LAYER_TF:
        return f"bert.encoder.layer.{m.group(1)}.{_LAYER_TF[m.group(2)]}.{_PARAM[param]}"
    return None


def tf_to_hf(tensors: dict[str, np.ndarray], source: str = "checkpoint") -> dict[str, np.ndarray]:
    """Google-BERT TF names -> HF BERT names; dense kernels transposed to [out, in]. Training state (optimizer
    slots, global_step) and the next-sentence head are dropped; any other unknown name is an error."""
    out, unknown = {}, []
    for name, value in tensors.items():
        if SKIPPED_TF.search(name):
            continue
        hf = _hf_name(name)
        if hf is None:
            unknown.append(name)
            continue
        if name.endswith("/kernel"):
            if value.ndim != 2:
                raise CheckpointError(f"{source}: tensor {name!r} has shape {value.shape}; a dense kernel is 2-D")
            value = value.T
        out[hf] = np.ascontiguousarray(value)
    if unknown:
        hint = ""
        if any("embedding_hidden_mapping_in" in n for n in unknown):
            hint = " (an embedding_size different from hidden_size, as ALBERT / small ELECTRA, is not supported)"
        elif any(n.startswith("layer_with_weights-") for n in unknown):
            hint = (" (a tf.keras TF-format `save_weights` checkpoint, named by object paths: re-save it in bert4keras "
                    "with `model.save_weights(path, save_format='h5')` or `save_weights_as_checkpoint(path)`)")
        raise CheckpointError(f"{source}: variables with no place in a BERT / NEZHA model: {sorted(unknown)}{hint}")
    return out


# -------------------------------------------------------------------------------- bert4keras layers

def keras_layer_variables(layer: str) -> list[str] | None:
    """The TF variable names of a bert4keras layer, in its weight order (bert4keras' `BERT.variable_mapping`);
    [] for weightless or fixed layers; None for a layer name that is not part of a BERT / NEZHA model."""
    fixed = {
        "Embedding-Token": ["bert/embeddings/word_embeddings"],
        "Embedding-Segment": ["bert/embeddings/token_type_embeddings"],
        "Embedding-Position": ["bert/embeddings/position_embeddings"],
        "Embedding-Norm": ["bert/embeddings/LayerNorm/beta", "bert/embeddings/LayerNorm/gamma"],
        "Pooler-Dense": ["bert/pooler/dense/kernel", "bert/pooler/dense/bias"],
        "MLM-Dense": ["cls/predictions/transform/dense/kernel", "cls/predictions/transform/dense/bias"],
        "MLM-Norm": ["cls/predictions/transform/LayerNorm/beta", "cls/predictions/transform/LayerNorm/gamma"],
        "MLM-Bias": ["cls/predictions/output_bias"],
        "NSP-Proba": ["cls/seq_relationship/output_weights", "cls/seq_relationship/output_bias"],
        "Embedding-Relative-Position": [],  # NEZHA's fixed sinusoid table, recomputed by the zoo model
    }
    if layer in fixed:
        return fixed[layer]
    m = re.fullmatch(r"Transformer-(\d+)-(MultiHeadSelfAttention|FeedForward)(-Norm)?", layer)
    if m:
        p = f"bert/encoder/layer_{m.group(1)}/"
        if m.group(2) == "MultiHeadSelfAttention":
            if m.group(3):
                return [p + "attention/output/LayerNorm/beta", p + "attention/output/LayerNorm/gamma"]
            return [p + f"attention/{part}/{param}" for part in ("self/query", "self/key", "self/value",
                                                                   "output/dense") for param in ("kernel", "bias")]
        if m.group(3):
            return [p + "output/LayerNorm/beta", p + "output/LayerNorm/gamma"]
        return [p + "intermediate/dense/kernel", p + "intermediate/dense/bias",
                p + "output/dense/kernel", p + "output/dense/bias"]
    return None


def keras_to_tf(layers: dict[str, list[tuple[str, np.ndarray]]], source: str = "weights file") -> dict[str, np.ndarray]:
    """{bert4keras layer: [(keras weight name, value), ...] in weight order} -> {TF variable name: value}."""
    out, unknown = {}, []
    for layer, weights in layers.items():
        names = keras_layer_variables(layer)
        if names is None:
            unknown.append(layer)
            continue
        if not names:
            continue
        if len(names) != len(weights):
            raise CheckpointError(f"{source}: layer {layer!r} has {len(weights)} weights "
                                  f"{[w for w, _ in weights]}, a bert4keras BERT layer of that name has {len(names)}")
        leaves = [w.rpartition("/")[2].split(":")[0] for w, _ in weights]
        if sorted(leaves) == ["beta", "gamma"]:  # LayerNormalization: matched by name, whatever the build order
            weights = sorted(weights, key=lambda w: w[0].rpartition("/")[2])
        for tf_name, (weight_name, value) in zip(names, weights):
            if tf_name == "cls/seq_relationship/output_weights":
                value = value.T  # bert4keras keeps it as a Dense kernel [in, out]; Google BERT stores [out, in]
            leaf = weight_name.rpartition("/")[2].split(":")[0]
            ndim = 2 if tf_name.endswith(("/kernel", "embeddings", "output_weights")) else 1
            if value.ndim != ndim:
                raise CheckpointError(f"{source}: layer {layer!r}: weight {weight_name!r} ({leaf}, shape "
                                      f"{value.shape}) is where bert4keras keeps {tf_name!r}; the layer's weights "
                                      "are not in bert4keras' order")
            out[tf_name] = value
    if unknown:
        raise CheckpointError(f"{source}: layers with no place in a BERT / NEZHA model: {sorted(unknown)}")
    return out
