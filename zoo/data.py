"""Batching helpers shared by the packages' collate functions."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import torch
from torch.nn.utils.rnn import pad_sequence


def pad(sequences: Sequence[Sequence[int]], value: int = 0, left: bool = False) -> torch.Tensor:
    """Stack integer sequences of different lengths into a LongTensor [N, longest], padded with `value` on the
    right (or on the left, which generation prefers)."""
    if not sequences:
        raise ValueError("pad needs at least one sequence")
    tensors = [torch.as_tensor(list(s), dtype=torch.long) for s in sequences]
    return pad_sequence(tensors, batch_first=True, padding_value=value, padding_side="left" if left else "right")


def padding_mask(sequences: Sequence[Sequence[int]], left: bool = False) -> torch.Tensor:
    """The attention mask (1 = token, 0 = padding) matching `pad(sequences, left=left)`."""
    return pad([[1] * len(s) for s in sequences], 0, left)


def prompt_batch(input_ids: Sequence[Sequence[int]], token_type_ids: Sequence[Sequence[int]] | None = None,
                 pad_id: int = 0, device=None) -> dict[str, torch.Tensor]:
    """Generation inputs for prompts of different lengths: left-padded ``input_ids`` (with `pad_id`),
    ``token_type_ids`` (0 where not given) and the matching ``attention_mask``, on `device`."""
    types = token_type_ids if token_type_ids is not None else [[0] * len(p) for p in input_ids]
    batch = {"input_ids": pad(input_ids, pad_id, left=True), "token_type_ids": pad(types, 0, left=True),
             "attention_mask": padding_mask(input_ids, left=True)}
    return {k: v.to(device) for k, v in batch.items()} if device is not None else batch


def length_buckets(items: Sequence, batch_size: int, key: Callable = len, seed: int | None = None) -> list[list]:
    """Batches of items of similar length (sorted by `key`, then chunked): far less padding. Equal lengths keep
    their order, or are shuffled with `seed`. A trainer run with batch size 1 then shuffles the batches."""
    if seed is None:
        ordered = sorted(items, key=key)
    else:
        rng = random.Random(seed)
        ordered = sorted(items, key=lambda item: (key(item), rng.random()))
    return [ordered[i:i + batch_size] for i in range(0, len(ordered), batch_size)]
