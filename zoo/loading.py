"""Load checkpoints of the public layouts into the zoo transformer.

Supported: our own saves (model_type "zoo"), BERT/RoBERTa (`BertModel`, `BertForMaskedLM`, ...), the
transformers-4 NEZHA layout (model_type "nezha", which transformers 5 no longer knows), `OpenAIGPTLMHeadModel` and
`GPT2LMHeadModel` (CDial-GPT). Weights are read from safetensors when present; a `.bin` is read only through
`torch.load(weights_only=True)`, so a pickle that carries code is refused without running it.

Everything read is validated before the model is allocated: config.json must be an object whose fields have the
right types and ranges, the sizes it claims must match the weight files (checked on a meta-device model, so an
absurd vocab or layer count costs nothing), shard paths must stay inside the model folder, and weights must be
finite floating-point tensors (``check_weights=False`` skips that scan). Every failure is a ``CheckpointError``
that names the file.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import NamedTuple

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from .configuration import ZooConfig
from .modeling import ZooForLM, ZooModel
from .portable import saved_head

logger = logging.getLogger(__name__)

WEIGHT_PATTERNS = ["*.json", "*.txt", "*.model", "*.safetensors"]


_SAVED = object()  # from_pretrained's head when not given: the head the folder was saved with


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded as asked: unsafe, incomplete or of an unknown layout."""


# ----------------------------------------------------------------------------------------------- files


def looks_like_path(name: str) -> bool:
    """Whether `name` is written as a filesystem path (./x, ../x, /x, ~/x, C:\\x, a trailing slash) rather
    than a hub id; such a name is never sent to the hub."""
    return (name in (".", "..") or name.startswith(("./", "../", "/", "~", ".\\", "..\\")) or "\\" in name
            or name.endswith("/") or os.path.isabs(name) or name.count("/") > 1)


def _hub_error(name: str, err: Exception, what: str) -> CheckpointError:
    """One message for a hub id that could not be fetched, saying how to get it."""
    from huggingface_hub import constants
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    download = (f"On a machine with network access run `hf download {name}` (it fills the Hugging Face cache, "
                f"~/.cache/huggingface/hub, which you can copy here) or `hf download {name} --local-dir <folder>` "
                "and pass that folder")
    if isinstance(err, GatedRepoError) or isinstance(getattr(err, "__cause__", None), GatedRepoError):
        reason = "it is gated or private: accept its terms on the hub and log in with `hf auth login`"
    elif isinstance(err, RevisionNotFoundError):
        reason = "the requested revision does not exist"
    elif isinstance(err, RepositoryNotFoundError):
        reason = "no such repository on the hub (or it is private: log in with `hf auth login`)"
    elif constants.HF_HUB_OFFLINE:
        reason = "HF_HUB_OFFLINE is set and it is not in the local Hugging Face cache"
    else:
        reason = f"the hub could not be reached and it is not cached ({type(err).__name__})"
    return CheckpointError(f"{what} {name!r} is not a local folder and could not be loaded from the Hugging Face "
                           f"hub: {reason}. {download}.")


def resolve_folder(name_or_path: str | os.PathLike, revision: str | None = None, cache_dir=None,
                   patterns=None, what: str = "model") -> Path:
    """A local folder as is; otherwise a hub id (`name` or `owner/name`) fetched once through the Hugging Face
    cache (offline: the cache only). A name written as a path is a path. No retries: a hub that is offline or
    unreachable gives one CheckpointError that says how to download the files.

    patterns: the files to fetch (default: configs, vocabularies and safetensors weights, then `.bin` weights
    when a repository has no safetensors)."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise CheckpointError(f"{str(name_or_path)!r} is a file; pass the folder that holds config.json and the weights")
    name = str(name_or_path)
    if isinstance(name_or_path, os.PathLike) or looks_like_path(name):
        raise CheckpointError(f"folder not found: {name!r} (resolved to {path.resolve()})")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError:
        raise CheckpointError(f"{name!r} is neither an existing folder nor a valid hub id ('name' or "
                              "'owner/name': letters, digits, '-', '_', '.')") from None

    def fetch(allow):
        return Path(snapshot_download(name, revision=revision, cache_dir=cache_dir, allow_patterns=allow))

    try:
        folder = fetch(patterns or WEIGHT_PATTERNS)
    except Exception as err:  # huggingface_hub raises several unrelated types for "not available"
        raise _hub_error(name, err, what) from None
    if patterns is None and not list(folder.glob("*.safetensors")):
        try:
            folder = fetch(WEIGHT_PATTERNS + ["*.bin"])
        except Exception as err:
            raise _hub_error(name, err, what) from None
    return folder


def read_config(folder: Path) -> dict:
    file = folder / "config.json"
    if not file.is_file():
        raise CheckpointError(f"no config.json in {folder}")
    return _read_json_object(file)


def _read_json_object(file: Path) -> dict:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{file} is not valid JSON: {err}") from None
    except RecursionError:
        raise CheckpointError(f"{file} is nested too deeply") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{file} must hold a JSON object, not a {type(data).__name__}")
    return data


def _load_safetensors(file: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(file)
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"cannot read {file}: truncated or not a safetensors file ({err})") from None


def _load_bin(file: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError) as err:
        raise CheckpointError(
            f"refused to load {file}: it is not a plain tensor checkpoint ({type(err).__name__}). Only "
            "weights_only pickles are read, so code inside a pickle is never run. Convert it to safetensors on "
            "a machine you trust if you know where it comes from."
        ) from None
    except (EOFError, ValueError, OSError, zipfile.BadZipFile, IndexError, KeyError) as err:
        raise CheckpointError(f"cannot read {file}: empty, truncated or not a torch checkpoint "
                              f"({type(err).__name__}: {err})") from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CheckpointError(f"{file} does not hold a mapping of names to tensors")
    return state


def _shard_names(index: Path) -> list[str]:
    """Shard files named by a sharded checkpoint's index, each a plain relative path inside the folder (checked
    by name, not by resolving: hub caches link shards to blobs elsewhere)."""
    weight_map = _read_json_object(index).get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError(f"{index}: 'weight_map' must be a non-empty object of tensor name -> shard file")
    shards = set()
    for name, shard in weight_map.items():
        if not isinstance(shard, str) or not shard:
            raise CheckpointError(f"{index}: the shard of {name!r} must be a file name, got {shard!r}")
        posix, windows = PurePosixPath(shard), PureWindowsPath(shard)
        if posix.is_absolute() or windows.is_absolute() or windows.drive or ".." in posix.parts or (
                ".." in windows.parts) or "\x00" in shard:
            raise CheckpointError(f"{index}: shard path {shard!r} of {name!r} leaves the model folder")
        shards.add(shard)
    return sorted(shards)


def load_weights(folder: Path) -> dict[str, torch.Tensor]:
    """All tensors of a checkpoint folder: safetensors first, then weights_only pickles; sharded or not."""
    for single, index, loader in (
        ("model.safetensors", "model.safetensors.index.json", _load_safetensors),
        ("pytorch_model.bin", "pytorch_model.bin.index.json", _load_bin),
    ):
        if (folder / single).is_file():
            return loader(folder / single)
        if (folder / index).is_file():
            state = {}
            for shard in _shard_names(folder / index):
                if not (folder / shard).is_file():
                    raise CheckpointError(f"{folder / index} names the shard {shard!r}, which is not in {folder}")
                state.update(loader(folder / shard))
            return state
    files = sorted(p.name for p in folder.iterdir())
    raise CheckpointError(f"no model.safetensors or pytorch_model.bin in {folder} (files: {files})")


def _weights_file(folder: Path) -> Path:
    """The weight file (or shard index) that `load_weights` reads, for error messages."""
    for name in ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                 "pytorch_model.bin.index.json"):
        if (folder / name).is_file():
            return folder / name
    return folder


def check_weight_values(state: dict[str, torch.Tensor], file: Path) -> None:
    """Refuse weights that would load silently and answer garbage: integer/bool tensors (cast on load) and
    NaN or infinite values."""
    wrong = [f"{k} ({v.dtype})" for k, v in state.items() if not (v.is_floating_point() or v.is_complex())]
    if wrong:
        raise CheckpointError(f"{file}: weights must be floating point; got {wrong[:5]}" +
                              (f" and {len(wrong) - 5} more" if len(wrong) > 5 else "") +
                              " (check_weights=False loads them anyway)")
    bad = [k for k, v in state.items() if not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"{file}: non-finite (NaN or infinite) values in {bad[:5]}" +
                              (f" and {len(bad) - 5} more" if len(bad) > 5 else "") +
                              " (check_weights=False loads them anyway)")


def _check_layer_count(config: ZooConfig, state: dict, file: Path) -> None:
    """The config's layer count against the layers present in the weights, before anything is built (a model of
    10^5 layers takes minutes to construct even on the meta device)."""
    present = {int(m.group(1)) for k in state if (m := re.match(r"layers\.(\d+)\.", k))}
    have = max(present) + 1 if present else 0
    if config.num_hidden_layers != have:
        raise CheckpointError(f"{file}: the config has num_hidden_layers={config.num_hidden_layers} but the "
                              f"weights hold {have} layers")


# ------------------------------------------------------------------------------------------ layouts


def _bert_config(cfg: dict, **extra) -> ZooConfig:
    if cfg.get("position_embedding_type", "absolute") != "absolute" and cfg.get("model_type") != "nezha":
        raise CheckpointError(f"position_embedding_type {cfg['position_embedding_type']!r} is not supported")
    keys = (
        "vocab_size hidden_size num_hidden_layers num_attention_heads intermediate_size hidden_act "
        "hidden_dropout_prob attention_probs_dropout_prob max_position_embeddings type_vocab_size "
        "initializer_range layer_norm_eps pad_token_id"
    ).split()
    fields = {k: cfg[k] for k in keys if k in cfg}
    fields.update(extra)
    return ZooConfig(**fields)


# HF name -> zoo name. "tied:decoder" marks an output projection that must equal the word embeddings.
_BERT_LAYER = {
    "attention.output.dense": "attention.out",
    "attention.output.LayerNorm": "norm1",
    "intermediate.dense": "ffn.up",
    "output.dense": "ffn.down",
    "output.LayerNorm": "norm2",
}

_BERT_NAMES = {
    "embeddings.word_embeddings.weight": "embeddings.word_embeddings.weight",
    "embeddings.position_embeddings.weight": "embeddings.position_embeddings.weight",
    "embeddings.token_type_embeddings.weight": "embeddings.token_type_embeddings.weight",
    "embeddings.LayerNorm.weight": "embeddings.norm.weight",
    "embeddings.LayerNorm.bias": "embeddings.norm.bias",
    "pooler.dense.weight": "pooler.dense.weight",
    "pooler.dense.bias": "pooler.dense.bias",
    "cls.predictions.transform.dense.weight": "head.dense.weight",
    "cls.predictions.transform.dense.bias": "head.dense.bias",
    "cls.predictions.transform.LayerNorm.weight": "head.norm.weight",
    "cls.predictions.transform.LayerNorm.bias": "head.norm.bias",
    "cls.predictions.bias": "head.bias",
    "cls.predictions.decoder.bias": "head.bias",
    "cls.predictions.decoder.weight": "tied:decoder",
    "lm_head.dense.weight": "head.dense.weight",
    "lm_head.dense.bias": "head.dense.bias",
    "lm_head.layer_norm.weight": "head.norm.weight",
    "lm_head.layer_norm.bias": "head.norm.bias",
    "lm_head.bias": "head.bias",
    "lm_head.decoder.bias": "head.bias",
    "lm_head.decoder.weight": "tied:decoder",
}

# (zoo name, is a Conv1D whose [in, out] weight needs transposing)
_GPT_LAYER = {
    "attn.c_attn": ("attention.qkv", True),
    "attn.c_proj": ("attention.out", True),
    "mlp.c_fc": ("ffn.up", True),
    "mlp.c_proj": ("ffn.down", True),
    "ln_1": ("norm1", False),
    "ln_2": ("norm2", False),
}

_GPT_NAMES = {
    "tokens_embed.weight": "embeddings.word_embeddings.weight",
    "positions_embed.weight": "embeddings.position_embeddings.weight",
    "wte.weight": "embeddings.word_embeddings.weight",
    "wpe.weight": "embeddings.position_embeddings.weight",
    "ln_f.weight": "final_norm.weight",
    "ln_f.bias": "final_norm.bias",
    "lm_head.weight": "tied:decoder",
}


def _convert_bert(state: dict, prefixes=("bert.", "roberta.", "nezha.")) -> dict:
    """HF BERT-family names -> zoo names (base model keys, plus `head.*`)."""
    out, qkv = {}, {}
    for name, tensor in state.items():
        name = name.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        for prefix in prefixes:
            if name.startswith(prefix):
                name = name[len(prefix):]
                break
        if name.endswith("relative_positions_encoding.positions_encoding"):
            continue  # NEZHA's fixed table, stored as a buffer by some transformers-4 versions: recomputed
        m = re.fullmatch(r"encoder\.layer\.(\d+)\.(.+)", name)
        if m:
            i, rest = m.groups()
            qm = re.fullmatch(r"attention\.self\.(query|key|value)\.(weight|bias)", rest)
            if qm:
                qkv.setdefault((i, qm.group(2)), {})[qm.group(1)] = tensor
                continue
            module, _, param = rest.rpartition(".")
            if module in _BERT_LAYER:
                out[f"layers.{i}.{_BERT_LAYER[module]}.{param}"] = tensor
            else:
                out[f"unknown:{name}"] = tensor
            continue
        if name in _BERT_NAMES:
            out[_BERT_NAMES[name]] = tensor
        elif name in ("embeddings.position_ids", "embeddings.token_type_ids") or name.startswith(
            "cls.seq_relationship."
        ):
            continue  # buffers and the next-sentence head: known, not part of the zoo model
        else:
            out[f"unknown:{name}"] = tensor
    for (i, param), parts in qkv.items():
        if set(parts) != {"query", "key", "value"}:
            raise CheckpointError(f"layer {i}: incomplete attention {param}s (found {sorted(parts)})")
        out[f"layers.{i}.attention.qkv.{param}"] = torch.cat([parts["query"], parts["key"], parts["value"]])
    return out


def _convert_gpt(state: dict) -> dict:
    """OpenAI-GPT / GPT-2 names -> zoo names. Conv1D weights are [in, out], hence the transposes."""
    out = {}
    for name, tensor in state.items():
        if name.startswith("transformer."):
            name = name[len("transformer."):]
        m = re.fullmatch(r"h\.(\d+)\.(.+)", name)
        if m:
            i, rest = m.groups()
            if rest in ("attn.bias", "attn.masked_bias"):
                continue  # legacy causal-mask buffers (CDial-GPT's is 512 wide with 513 positions): not weights
            module, _, param = rest.rpartition(".")
            if module in _GPT_LAYER:
                target, conv = _GPT_LAYER[module]
                out[f"layers.{i}.{target}.{param}"] = tensor.T.contiguous() if conv and param == "weight" else tensor
            else:
                out[f"unknown:{name}"] = tensor
            continue
        if name in _GPT_NAMES:
            out[_GPT_NAMES[name]] = tensor
        elif name == "position_ids":
            continue
        else:
            out[f"unknown:{name}"] = tensor
    return out


def _gpt_config(cfg: dict, gpt2: bool) -> ZooConfig:
    if gpt2:
        for flag, ok in (("scale_attn_weights", True), ("scale_attn_by_inverse_layer_idx", False),
                         ("reorder_and_upcast_attn", False), ("add_cross_attention", False)):
            if cfg.get(flag, ok) != ok:
                raise CheckpointError(f"GPT-2 option {flag}={cfg[flag]!r} is not supported")
        act = cfg.get("activation_function", "gelu_new")
    else:
        act = {"gelu": "gelu_new"}.get(cfg.get("afn", "gelu"), cfg.get("afn"))  # OpenAI-GPT's "gelu" is tanh gelu
    hidden = cfg.get("n_embd", 768)
    return ZooConfig(
        vocab_size=cfg["vocab_size"],
        hidden_size=hidden,
        num_hidden_layers=cfg.get("n_layer", 12),
        num_attention_heads=cfg.get("n_head", 12),
        intermediate_size=cfg.get("n_inner") or 4 * hidden,
        hidden_act=act,
        hidden_dropout_prob=cfg.get("resid_pdrop", 0.1),
        attention_probs_dropout_prob=cfg.get("attn_pdrop", 0.1),
        max_position_embeddings=cfg.get("n_positions", 512),
        type_vocab_size=0,
        initializer_range=cfg.get("initializer_range", 0.02),
        layer_norm_eps=cfg.get("layer_norm_epsilon", 1e-5),
        pad_token_id=cfg.get("pad_token_id"),
        token_type_embedding="shared",
        embedding_norm=False,
        pre_norm=gpt2,
        attention="causal",
        add_pooler=False,
        lm_head_transform=False,
        lm_head_bias=False,
    )


def convert_checkpoint(cfg: dict, state: dict) -> tuple[ZooConfig, dict]:
    """(config.json dict, raw state) -> (ZooConfig, state with zoo names: base keys and `head.*`)."""
    try:
        return _convert_checkpoint(cfg, state)
    except CheckpointError:
        raise
    except KeyError as err:
        raise CheckpointError(f"config.json lacks the field {err}") from None
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"config.json: {err}") from None
    except RuntimeError as err:  # e.g. attention projections of different shapes that cannot be fused
        raise CheckpointError(f"inconsistent weights: {err}") from None


def _convert_checkpoint(cfg: dict, state: dict) -> tuple[ZooConfig, dict]:
    model_type = cfg.get("model_type")
    if model_type == "zoo":
        fields = {k: v for k, v in cfg.items() if k != "model_type"}
        config = ZooConfig(**fields)
        renamed = {k[len("zoo."):] if k.startswith("zoo.") else k: v for k, v in state.items()}
        return config, renamed
    if model_type == "bert":
        return _bert_config(cfg), _convert_bert(state)
    if model_type in ("roberta", "xlm-roberta"):
        offset = cfg.get("pad_token_id", 1) + 1
        config = _bert_config(cfg, position_offset=offset,
                              max_position_embeddings=cfg.get("max_position_embeddings", 514) - offset)
        return config, _convert_bert(state)
    if model_type == "nezha":
        config = _bert_config(
            cfg, position_embedding_type="relative", max_relative_position=cfg.get("max_relative_position", 64)
        )
        return config, _convert_bert(state)
    if model_type in ("openai-gpt", "gpt2"):
        gpt2 = model_type == "gpt2"
        return _gpt_config(cfg, gpt2), _convert_gpt(state)
    raise CheckpointError(
        f"unsupported model_type {model_type!r}; supported: zoo, bert, roberta, nezha, openai-gpt, gpt2"
    )


# ---------------------------------------------------------------------------------- vocab surgery


def apply_vocab_changes(state: dict, keep_tokens=None, compound_tokens=None) -> int | None:
    """bert4keras `keep_tokens` (keep and reorder rows) then `compound_tokens` (append rows = (weighted) mean of
    given rows) on the word embeddings and the MLM bias, in place. Returns the new vocab size (or None)."""
    names = [n for n in ("embeddings.word_embeddings.weight", "head.bias") if n in state]
    if not names or (keep_tokens is None and not compound_tokens):
        return None
    vocab = state[names[0]].shape[0]
    if keep_tokens is not None:
        keep = torch.as_tensor(list(keep_tokens), dtype=torch.long)
        if keep.numel() == 0 or keep.min() < 0 or keep.max() >= vocab:
            raise ValueError(f"keep_tokens must be ids in [0, {vocab})")
        for n in names:
            state[n] = state[n].index_select(0, keep)
    for item in compound_tokens or ():
        ids, weights = (item if isinstance(item, tuple) else (item, None))
        ids = torch.as_tensor(list(ids), dtype=torch.long)
        size = state[names[0]].shape[0]
        if ids.numel() == 0 or ids.min() < 0 or ids.max() >= size:
            raise ValueError(f"compound_tokens entries must be non-empty lists of ids in [0, {size})")
        w = torch.ones(len(ids)) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
        w = w / w.sum()
        for n in names:
            rows = state[n].index_select(0, ids).float()
            new = torch.einsum("i,i...->...", w, rows).to(state[n].dtype)
            state[n] = torch.cat([state[n], new[None]])
    return state[names[0]].shape[0]


# --------------------------------------------------------------------------------------- the entry


def from_pretrained(
    name_or_path: str | os.PathLike,
    head: str | None = _SAVED,
    *,
    attention: str | None = None,
    residual_attention: bool | None = None,
    keep_tokens=None,
    compound_tokens=None,
    dtype: torch.dtype | None = None,
    device: str | torch.device | None = None,
    revision: str | None = None,
    cache_dir=None,
    check_weights: bool = True,
    **overrides,
) -> ZooModel | ZooForLM:
    """Load a checkpoint as a zoo model, in eval mode: a Hugging Face folder or hub id, or the originals' own
    layouts (a TF checkpoint folder or prefix with bert_config.json / config.json, or a bert4keras `.weights` file
    beside its config; see `zoo.bert4keras_io`).

    head: None -> `ZooModel` (encoder + pooler); "mlm" / "lm" -> `ZooForLM` (the tied MLM head, which bert4keras
    also uses for LM and UniLM models); not given: what zoo saved the folder as, else the encoder.
    attention: "bidirectional" | "causal" | "unilm" overrides the checkpoint's pattern (a plain BERT becomes a UniLM
    Seq2Seq model). residual_attention: RealFormer. check_weights: refuse integer or non-finite weights.
    Other keyword arguments override config fields."""
    saved = head is _SAVED
    if saved:
        head = None  # the folder's config decides below
    if head not in (None, "mlm", "lm"):
        raise ValueError(f"head must be None, 'mlm' or 'lm', got {head!r}")
    ckpt = _read_checkpoint(name_or_path, revision=revision, cache_dir=cache_dir)
    if saved:
        head = saved_head(ckpt.raw)
    try:
        config, state = convert_checkpoint(ckpt.raw, ckpt.state)
    except CheckpointError as err:
        raise CheckpointError(f"{ckpt.config_file} with {ckpt.weights_file.name}: {err}") from None
    _check_names(state, ckpt)
    _configure(config, state, ckpt.config_file, overrides, attention=attention, residual_attention=residual_attention,
               vocab_size=apply_vocab_changes(state, keep_tokens, compound_tokens))
    if check_weights:
        check_weight_values(state, ckpt.weights_file)
    _check_layer_count(config, state, ckpt.weights_file)

    model_class = ZooModel if head is None else ZooForLM
    state = _fit_to_model(model_class, config, state, ckpt)
    model = model_class(config)
    model.load_state_dict(state, strict=False)
    if dtype is not None or device is not None:
        model.to(device=device, dtype=dtype)
    return model.eval()


class _Checkpoint(NamedTuple):
    folder: Path
    config_file: Path
    weights_file: Path
    raw: dict
    state: dict[str, torch.Tensor]


def _read_checkpoint(name_or_path, revision=None, cache_dir=None) -> _Checkpoint:
    """The raw config and weights of a Hugging Face folder / hub id, or of the originals' TF checkpoints and
    bert4keras `.weights` files."""
    from .bert4keras_io import read_original

    original = read_original(name_or_path)
    if original is not None:
        located, raw, state = original
        return _Checkpoint(located.source, located.config_file, located.source, raw, state)
    folder = resolve_folder(name_or_path, revision=revision, cache_dir=cache_dir)
    raw = read_config(folder)
    return _Checkpoint(folder, folder / "config.json", _weights_file(folder), raw, load_weights(folder))


def _check_names(state: dict, ckpt: _Checkpoint) -> None:
    """No weight the layout tables do not know; a separate output projection must equal the word embeddings."""
    unknown = sorted(k[len("unknown:"):] for k in state if k.startswith("unknown:"))
    if unknown:
        raise CheckpointError(f"unknown weights in {ckpt.weights_file} (layout {ckpt.raw.get('model_type')!r}): "
                              f"{unknown}")
    decoder = state.pop("tied:decoder", None)
    embed = state.get("embeddings.word_embeddings.weight")
    if decoder is not None and embed is not None and not torch.equal(decoder, embed):
        raise CheckpointError(f"{ckpt.weights_file}: the output projection is not tied to the word embeddings")


def _configure(config: ZooConfig, state: dict, config_file: Path, overrides: dict, **explicit) -> None:
    """Apply keyword overrides (and the explicit ones that are not None) to the converted config, then validate it.
    A checkpoint without pooler weights gets no pooler unless asked for."""
    overrides = {**overrides, **{k: v for k, v in explicit.items() if v is not None}}
    if not any(k.startswith("pooler.") for k in state):
        overrides.setdefault("add_pooler", False)
    for key, value in overrides.items():
        if not hasattr(config, key):
            raise ValueError(f"unknown config override {key!r}")
        setattr(config, key, value)
    try:
        config.validate_fields()
    except ValueError as err:
        raise CheckpointError(f"{config_file}: {err}") from None


def _fit_to_model(model_class, config: ZooConfig, state: dict, ckpt: _Checkpoint) -> dict:
    """The state dict under the model's names, checked against the model's shapes on the meta device (before
    anything is allocated); missing LM-head weights are allowed (randomly initialised), with a warning."""
    with torch.device("meta"):
        target = model_class(config).state_dict()
    if model_class is ZooModel:
        state = {k: v for k, v in state.items() if not k.startswith("head.")}
    else:
        state = {(k if k.startswith("head.") else f"zoo.{k}"): v for k, v in state.items()}
    unexpected = sorted(set(state) - set(target))
    if unexpected:
        raise CheckpointError(f"{ckpt.weights_file}: weights that the model has no place for: {unexpected}")
    mismatched = [f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(target[k].shape)}"
                  for k, v in state.items() if v.shape != target[k].shape]
    if mismatched:
        raise CheckpointError(f"{ckpt.weights_file}: shape mismatches with {ckpt.config_file}: {mismatched}")
    missing = sorted(set(target) - set(state))
    other_missing = [k for k in missing if not k.startswith("head.")]
    if other_missing:
        raise CheckpointError(f"{ckpt.weights_file}: weights missing from the checkpoint: {other_missing}")
    head_missing = [k for k in missing if k.startswith("head.")]
    if head_missing:
        logger.warning("%s has no LM head weights %s; they are randomly initialised and need training",
                       ckpt.folder, head_missing)
    return state
