"""KV cache for step-by-step decoding of causal and UniLM models."""

from __future__ import annotations

import torch


class KVCache:
    """Per-layer keys and values in preallocated buffers, plus what masks need about past positions.

    Buffers grow by doubling, so appending one token costs a slice write, not a concatenation of the whole
    past. `key_mask` ([B, length] bool, True = real token) and `segments` (the cumulative segment sums used by
    the UniLM mask) cover every cached position. `reorder` follows beams.
    """

    def __init__(self, num_layers: int, capacity: int = 0):
        self.num_layers = num_layers
        self.capacity = capacity
        self.length = 0
        self._keys: list[torch.Tensor | None] = [None] * num_layers
        self._values: list[torch.Tensor | None] = [None] * num_layers
        self.key_mask: torch.Tensor | None = None
        self.segments: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.length

    def update(self, layer: int, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store [B, heads, q_len, d] keys/values after the cached ones; return all keys/values so far."""
        start, end = self.length, self.length + key.shape[-2]
        buf_k, buf_v = self._keys[layer], self._values[layer]
        if buf_k is None or buf_k.shape[-2] < end:
            size = max(end, self.capacity, 2 * (buf_k.shape[-2] if buf_k is not None else 0))
            new_k = key.new_empty(*key.shape[:-2], size, key.shape[-1])
            new_v = value.new_empty(*value.shape[:-2], size, value.shape[-1])
            if buf_k is not None and start:
                new_k[..., :start, :] = buf_k[..., :start, :]
                new_v[..., :start, :] = buf_v[..., :start, :]
            self._keys[layer], self._values[layer] = buf_k, buf_v = new_k, new_v
        buf_k[..., start:end, :] = key
        buf_v[..., start:end, :] = value
        return buf_k[..., :end, :], buf_v[..., :end, :]

    def advance(self, q_len: int, key_mask: torch.Tensor | None, segments: torch.Tensor | None) -> None:
        """Called once per forward after every layer stored its keys: commit the new length and mask state."""
        self.length += q_len
        self.key_mask = key_mask
        self.segments = segments

    def reorder(self, index: torch.Tensor) -> None:
        """Select batch rows (beam reordering, dropping finished rows)."""
        for i in range(self.num_layers):
            if self._keys[i] is not None:
                self._keys[i] = self._keys[i].index_select(0, index)
                self._values[i] = self._values[i].index_select(0, index)
        if self.key_mask is not None:
            self.key_mask = self.key_mask.index_select(0, index)
        if self.segments is not None:
            self.segments = self.segments.index_select(0, index)
