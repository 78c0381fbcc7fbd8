"""Named sizes of a from-scratch ape210k solver (a BERT-shaped UniLM seq2seq model)."""

from __future__ import annotations

PRESETS = {
    "tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64),
    "default": dict(hidden_size=128, num_hidden_layers=4, num_attention_heads=4, intermediate_size=512),  # shipped
    "small": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
}


def model_config(vocab_size: int, preset: str = "small", maxlen: int = 192, dropout: float = 0.1, **sizes):
    """ZooConfig of a from-scratch UniLM solver with room for `maxlen` tokens; `sizes` (hidden_size, ...)
    override the preset, None values are ignored."""
    import zoo

    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known: {sorted(PRESETS)}")
    shape = {**PRESETS[preset], **{k: v for k, v in sizes.items() if v is not None}}
    return zoo.ZooConfig(
        vocab_size=vocab_size, **shape, max_position_embeddings=max(256, maxlen + 64), type_vocab_size=2,
        hidden_act="gelu", attention="unilm", pad_token_id=0, hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout)
