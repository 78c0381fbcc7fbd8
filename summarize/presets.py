"""Named sizes of a from-scratch SPACES generator (UniLM with BERT's MLM head; FFN = 4 x hidden)."""

from __future__ import annotations

PRESETS = {  # name -> (hidden, layers, heads)
    "tiny": (16, 1, 2),
    "small": (128, 2, 4),
    "default": (256, 4, 4),  # the shipped pipeline's generator
    "base": (768, 12, 12),
}


def generator_config(vocab_size: int, size: str = "default", max_positions: int = 512,
                     positions: str = "absolute"):
    """ZooConfig of a from-scratch generator; `size` is a preset name or "hidden,layers,heads"."""
    import zoo

    if size in PRESETS:
        hidden, layers, heads = PRESETS[size]
    else:
        try:
            hidden, layers, heads = (int(x) for x in size.split(","))
        except ValueError:
            raise ValueError(f"size must be one of {sorted(PRESETS)} or 'hidden,layers,heads', got {size!r}") from None
    return zoo.ZooConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                         num_attention_heads=heads, intermediate_size=4 * hidden,
                         max_position_embeddings=max_positions, attention="unilm",
                         position_embedding_type=positions)
