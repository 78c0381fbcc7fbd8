"""Sentence vectors from any encoder the zoo core loads: pooling (BERT-whitening's `first-last-avg`, `last-avg`, `cls`, `pooler`), length-sorted batching, whitening."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from zoo.data import pad, padding_mask

from whitening.whitening import Whitening

POOLINGS = ("cls", "pooler", "mean", "last-avg", "first-last-avg", "max")
DEFAULT_POOLING = "first-last-avg"
ENCODER_CONFIG = "encoder_config.json"


def _masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp_min(1e-9)


def pool(hidden_states: Sequence[torch.Tensor], attention_mask: torch.Tensor, pooling: str,
         pooler_dense: torch.nn.Module | None = None) -> torch.Tensor:
    """Sentence vectors [B, H] from hidden states (embeddings, layer 1, ..., layer N), padding masked out.

    cls: last layer at position 0; pooler: `pooler_dense` on it without tanh (bert4keras with_pool='linear');
    mean / last-avg: masked token mean of the last layer; first-last-avg: average of the masked means of the
    first Transformer layer (hidden_states[1]) and the last; max: masked max over tokens of the last layer.
    """
    last = hidden_states[-1]
    if pooling == "cls":
        return last[:, 0]
    if pooling == "pooler":
        if pooler_dense is None:
            raise ValueError("pooling='pooler' needs a model with a pooler (this checkpoint has none)")
        return pooler_dense(last[:, 0])
    if pooling in ("mean", "last-avg"):
        return _masked_mean(last, attention_mask)
    if pooling == "first-last-avg":
        if len(hidden_states) < 2:
            raise ValueError("first-last-avg needs all hidden states")
        return (_masked_mean(hidden_states[1], attention_mask) + _masked_mean(last, attention_mask)) / 2
    if pooling == "max":
        return last.masked_fill(~attention_mask.bool().unsqueeze(-1), float("-inf")).max(dim=1).values
    raise ValueError(f"unknown pooling {pooling!r}; choose one of {POOLINGS}")


def _sentence_transformers_defaults(folder: Path) -> tuple[str | None, int | None]:
    """(pooling, max_length) from a sentence-transformers folder's configs, when present."""
    pooling = max_length = None
    pool_cfg = folder / "1_Pooling" / "config.json"
    if pool_cfg.is_file():
        cfg = json.loads(pool_cfg.read_text(encoding="utf-8"))
        modes = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max"}
        chosen = [name for key, name in modes.items() if cfg.get(key)]
        pooling = chosen[0] if len(chosen) == 1 else None
    st_cfg = folder / "sentence_bert_config.json"
    if st_cfg.is_file():
        max_length = json.loads(st_cfg.read_text(encoding="utf-8")).get("max_seq_length")
    return pooling, max_length


class SentenceEncoder:
    """Sentence embeddings from a BERT-family encoder loaded by `zoo.from_pretrained`.

    Args:
        name_or_path: a folder or hub id (any checkpoint the core loads), or an already loaded `zoo.ZooModel`
            (then `tokenizer` is required).
        pooling: one of POOLINGS. Default: the folder's sentence-transformers pooling if it has one, else
            "first-last-avg" (the BERT-whitening default).
        max_length: tokens per sentence incl. [CLS]/[SEP]; longer inputs are truncated, counted and warned about.
            Default: sentence-transformers' max_seq_length if present, else min(tokenizer limit, positions, 512).
        tokenizer: an HF tokenizer, or a bert4keras-style object whose `encode(text)` returns (ids, segments)
            (e.g. `zoo.tokenization.Tokenizer`). Default: `AutoTokenizer` of the folder.
        whitening: a fitted `Whitening` or a folder saved by it, applied after pooling.
        device: "cpu", "cuda", ...; default cuda when available.
    """

    def __init__(self, name_or_path: str | os.PathLike | torch.nn.Module, pooling: str | None = None,
                 max_length: int | None = None, *, tokenizer: Any = None,
                 whitening: Whitening | str | os.PathLike | None = None, device: str | None = None) -> None:
        import zoo

        folder = None
        if isinstance(name_or_path, torch.nn.Module):
            if tokenizer is None:
                raise ValueError("pass tokenizer= when giving a loaded model")
            self.model = name_or_path.eval()
        else:
            from zoo.loading import resolve_folder

            folder = resolve_folder(name_or_path)
            self.model = zoo.from_pretrained(folder, head=None)
        if tokenizer is None:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(folder)
        self.tokenizer = tokenizer
        st_pooling, st_max_length = _sentence_transformers_defaults(folder) if folder else (None, None)
        self.pooling = pooling or st_pooling or DEFAULT_POOLING
        if self.pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {self.pooling!r}; choose one of {POOLINGS}")
        if self.pooling == "pooler" and getattr(self.model, "pooler", None) is None:
            raise ValueError("pooling='pooler' needs a checkpoint with pooler weights; this one has none")
        self.max_length = int(max_length or st_max_length or self._default_max_length())
        if self.max_length < 2:
            raise ValueError(f"max_length must be >= 2 (room for [CLS] and [SEP]), got {self.max_length}")
        if isinstance(whitening, (str, os.PathLike)):
            whitening = Whitening.from_pretrained(whitening)
        self.whitening = whitening
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device)
        self.num_truncated = 0

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, **overrides: Any) -> SentenceEncoder:
        """Load a folder written by `save_pretrained` (pooling, max_length and whitening come back), or any
        encoder folder / hub id the constructor takes; keyword arguments override the saved settings."""
        from zoo.loading import resolve_folder

        folder = resolve_folder(name_or_path)
        settings: dict[str, Any] = {}
        if (folder / ENCODER_CONFIG).is_file():
            saved = json.loads((folder / ENCODER_CONFIG).read_text(encoding="utf-8"))
            settings = {"pooling": saved.get("pooling"), "max_length": saved.get("max_length")}
            if saved.get("whitening"):
                settings["whitening"] = folder / saved["whitening"]
        return cls(folder, **{**settings, **overrides})

    def save_pretrained(self, folder: str | os.PathLike) -> None:
        """Write the encoder (standard BERT layout when it is one), its tokenizer, the whitening (``whitening/``)
        and ``encoder_config.json`` (pooling, max_length), loadable by `from_pretrained`."""
        from zoo.hf_compat import write_tokenizer_config

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(folder)
        if hasattr(self.tokenizer, "save_pretrained"):
            self.tokenizer.save_pretrained(folder)
        elif hasattr(self.tokenizer, "vocab"):  # a bert4keras-style tokenizer: its vocab as a BERT tokenizer
            tokens = {i: t for t, i in self.tokenizer.vocab.items()}
            (folder / "vocab.txt").write_text("".join(tokens.get(i, f"[unused_{i}]") + "\n"
                                                      for i in range(max(tokens) + 1)), encoding="utf-8")
            write_tokenizer_config(folder, model_max_length=self.max_length)
        else:
            raise ValueError(f"cannot save a tokenizer of type {type(self.tokenizer).__name__}")
        config = {"pooling": self.pooling, "max_length": self.max_length, "whitening": None}
        if self.whitening is not None:
            self.whitening.save_pretrained(folder / "whitening")
            config["whitening"] = "whitening"
        (folder / ENCODER_CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    def _default_max_length(self) -> int:
        limits = [512, getattr(self.model.config, "max_position_embeddings", 512)]
        tok_limit = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(tok_limit, int) and 0 < tok_limit < 1_000_000:
            limits.append(tok_limit)
        return min(limits)

    @property
    def dimension(self) -> int:
        """Length of the returned vectors."""
        if self.whitening is not None and self.whitening.get_embedding_dimension():
            return self.whitening.get_embedding_dimension()
        return self.model.config.hidden_size

    # ---------------------------------------------------------------------------------------- tokenization
    def _tokenize(self, sentences: list[str]) -> tuple[list[list[int]], int]:
        """Token ids per sentence (truncated to max_length, keeping the final [SEP]) and how many were cut."""
        tok, limit = self.tokenizer, self.max_length
        if getattr(tok, "is_fast", False):
            enc = tok(sentences, truncation=True, max_length=limit, return_token_type_ids=False,
                      return_attention_mask=False)
            return enc["input_ids"], sum(bool(e.overflowing) for e in enc.encodings)
        if hasattr(tok, "model_max_length"):  # slow HF tokenizer: measure, then cut
            full = tok(sentences, truncation=False, return_token_type_ids=False, return_attention_mask=False,
                       verbose=False)["input_ids"]
        else:
            full = [tok.encode(s)[0] for s in sentences]
        cut = [ids if len(ids) <= limit else ids[:limit - 1] + ids[-1:] for ids in full]
        return cut, sum(len(ids) > limit for ids in full)

    @property
    def _pad_id(self) -> int:
        pad = getattr(self.tokenizer, "pad_token_id", None)
        return 0 if pad is None else int(pad)

    # -------------------------------------------------------------------------------------------- encoding
    def _forward(self, batch_ids: list[list[int]]) -> torch.Tensor:
        input_ids = pad(batch_ids, self._pad_id).to(self.device)
        mask = padding_mask(batch_ids).to(self.device)
        out = self.model(input_ids, token_type_ids=torch.zeros_like(input_ids), attention_mask=mask,
                         output_hidden_states=self.pooling == "first-last-avg")
        states = out.hidden_states if self.pooling == "first-last-avg" else (out.last_hidden_state,)
        pooler = self.model.pooler.dense if self.pooling == "pooler" else None
        vectors = pool(states, mask, self.pooling, pooler).float()
        if self.whitening is not None:
            vectors = self.whitening.to(self.device).transform(vectors)
        return vectors

    def encode(self, sentences: str | Sequence[str], batch_size: int = 32, show_progress_bar: bool = False,
               normalize: bool = False, convert_to_numpy: bool = True, convert_to_tensor: bool = False,
               device: str | None = None) -> np.ndarray | torch.Tensor:
        """Vectors [N, dim] float32 in input order (one string gives [dim]).

        Sentences are sorted by token length so each batch pads little; results are written into one
        preallocated CPU array, so memory does not grow with the number of batches. normalize: L2 rows
        (after whitening). convert_to_tensor returns a CPU torch tensor instead of a numpy array.
        """
        single = isinstance(sentences, str)
        sentences = [sentences] if single else list(sentences)
        bad = [i for i, s in enumerate(sentences) if not isinstance(s, str)]
        if bad:
            raise TypeError(f"sentences must be strings; item {bad[0]} is {type(sentences[bad[0]]).__name__}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if device is not None and torch.device(device) != self.device:
            self.device = torch.device(device)
            self.model.to(self.device)
        ids, self.num_truncated = self._tokenize(sentences) if sentences else ([], 0)
        if self.num_truncated:
            warnings.warn(f"{self.num_truncated} of {len(sentences)} sentences were longer than max_length="
                          f"{self.max_length} tokens and were truncated", stacklevel=2)
        out = torch.empty((len(sentences), self.dimension), dtype=torch.float32)
        order = sorted(range(len(sentences)), key=lambda i: -len(ids[i]))
        starts = range(0, len(order), batch_size)
        with torch.inference_mode():
            for start in tqdm(starts, desc="encode", disable=not show_progress_bar):
                rows = order[start:start + batch_size]
                vectors = self._forward([ids[i] for i in rows])
                if normalize:
                    vectors = torch.nn.functional.normalize(vectors, dim=-1, eps=1e-8)
                out[torch.tensor(rows)] = vectors.cpu()
        result = out[0] if single else out
        return result if convert_to_tensor or not convert_to_numpy else result.numpy()

    def fit_whitening(self, sentences: Sequence[str], n_components: int | None = None, regularization: float = 0.0,
                      batch_size: int = 32, chunk_size: int = 4096) -> Whitening:
        """Fit (and attach) a whitening on the pooled vectors of `sentences`, streamed in chunks."""
        self.whitening = None
        whitening = Whitening(n_components=n_components, regularization=regularization)
        for start in range(0, len(sentences), chunk_size):
            whitening.partial_fit(self.encode(sentences[start:start + chunk_size], batch_size=batch_size))
        self.whitening = whitening.finalize()
        return whitening
