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


def assemble(pattern: str, q_len: int, k_len: int, *, key_mask: torch.Tensor | None = None,
             segments: torch.Tensor | None = None, fused: bool = True, device=None):
    """The visibility of one forward pass: padding keys (``key_mask`` [B, K] bool), then the model's pattern
    ("bidirectional", "causal", or "unilm" from the segment ``cumsum`` [B, K]).

    Returns (visible or None, is_causal). When the fused kernel runs a causal pattern over a whole unpadded
    sequence (no cache), no mask is built and ``is_causal`` asks the kernel to apply causality itself."""
    causal_pattern = pattern == "causal" and q_len > 1
    kernel_causal = causal_pattern and fused and q_len == k_len and key_mask is None
    visible = combine(
        key_padding(key_mask) if key_mask is not None else None,
        causal(q_len, k_len, device) if causal_pattern and not kernel_causal else None,
        unilm(segments, q_len) if segments is not None and q_len > 1 else None,
    )
    return visible, kernel_causal
