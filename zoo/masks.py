"""Attention patterns as small composable functions.

Every function returns a boolean "visible" tensor broadcastable to [batch, 1, query, key] (True = the query may
attend to the key). `to_bias` turns it into the additive float bias that attention consumes. Queries are the last
`q_len` positions of a sequence of `k_len` keys (the first `k_len - q_len` come from a KV cache).
"""

from __future__ import annotations

import torch


def key_padding(attention_mask: torch.Tensor) -> torch.Tensor:
    """[B, K] 1/0 (or bool) padding mask -> [B, 1, 1, K]: padding keys are invisible."""
    return attention_mask.bool()[:, None, None, :]


def causal(q_len: int, k_len: int, device=None) -> torch.Tensor:
    """Key j is visible from query i iff j <= i (positions counted over the whole sequence)."""
    q = torch.arange(k_len - q_len, k_len, device=device)[:, None]
    k = torch.arange(k_len, device=device)[None, :]
    return (k <= q)[None, None]


def segment_cumsum(token_type_ids: torch.Tensor, past: torch.Tensor | None = None) -> torch.Tensor:
    """Cumulative sum of segment ids along the sequence, continuing a cached prefix's sums."""
    c = torch.cumsum(token_type_ids.long(), dim=-1)
    if past is not None and past.shape[-1] > 0:
        c = torch.cat([past, c + past[:, -1:]], dim=-1)
    return c


def unilm(cumsum: torch.Tensor, q_len: int) -> torch.Tensor:
    """UniLM prefix-LM pattern (bert4keras `UniLM_Mask`): with c = cumsum(segment ids), key j is visible from query i iff
    c[j] <= c[i]. Segment 0 is bidirectional, segment 1 sees segment 0 and itself causally. [B, 1, Q, K]."""
    return cumsum[:, None, None, :] <= cumsum[:, None, -q_len:, None]


def combine(*masks: torch.Tensor | None) -> torch.Tensor | None:
    """Logical AND of the given masks, skipping None."""
    out = None
    for m in masks:
        if m is not None:
            out = m if out is None else out & m
    return out


def to_bias(visible: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """Boolean visibility -> additive bias (0 or the dtype's most negative finite value).

    A finite value keeps rows with no visible key (padding queries) finite instead of NaN."""
    if visible is None:
        return None
    bias = torch.zeros(visible.shape, dtype=dtype, device=visible.device)
    return bias.masked_fill_(~visible, torch.finfo(dtype).min)
