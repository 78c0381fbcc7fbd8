"""Batching helpers shared by the packages' collate functions."""

from __future__ import annotations

from collections.abc import Sequence

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
