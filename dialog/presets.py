"""Named sizes of a from-scratch dialog LM and its config per format family (NEZHA-GPT or CDial-GPT)."""

from __future__ import annotations

PRESETS = {
    "tiny": dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64),
    "default": dict(hidden_size=128, num_hidden_layers=4, num_attention_heads=4, intermediate_size=512),  # shipped
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
}


def model_config(family: str, vocab_size: int, preset: str = "default", maxlen: int = 128, dropout: float = 0.1,
                 **sizes):
    """ZooConfig of a from-scratch causal LM: NEZHA-GPT (relative positions, segment embeddings) or CDial-GPT
    (absolute positions, speaker tokens embedded by the word table). `sizes` (hidden_size, ...) override the
    preset; None values are ignored."""
    import zoo

    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known: {sorted(PRESETS)}")
    if family not in ("nezha-gpt", "cdial-gpt"):
        raise ValueError(f"family must be 'nezha-gpt' or 'cdial-gpt', got {family!r}")
    nezha = family == "nezha-gpt"
    shape = {**PRESETS[preset], **{k: v for k, v in sizes.items() if v is not None}}
    return zoo.ZooConfig(
        vocab_size=vocab_size, **shape, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
        position_embedding_type="relative" if nezha else "absolute", max_position_embeddings=maxlen,
        attention="causal", add_pooler=False, token_type_embedding="segment" if nezha else "shared",
        type_vocab_size=2 if nezha else 0)


def add_decoding_arguments(parser) -> None:
    """Sampling overrides of a model's decoding preset (shared by the training and evaluation scripts)."""
    group = parser.add_argument_group("decoding (default: the family's preset; stored with a trained model)")
    group.add_argument("--top-k", type=int, default=None, help="0 turns top-k filtering off")
    group.add_argument("--top-p", type=float, default=None, help="1 turns nucleus filtering off")
    group.add_argument("--temperature", type=float, default=None)
    group.add_argument("--repetition-penalty", type=float, default=None)
    group.add_argument("--no-repeat-ngram-size", type=int, default=None)
    group.add_argument("--max-new-tokens", type=int, default=None)


def decoding_options(args) -> dict:
    """The decoding options given by `add_decoding_arguments`, as ChatBot options (top-k 0 / top-p 1: off)."""
    names = ("temperature", "repetition_penalty", "no_repeat_ngram_size", "max_new_tokens")
    options = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if args.top_k is not None:
        options["top_k"] = args.top_k or None
    if args.top_p is not None:
        options["top_p"] = None if args.top_p >= 1 else args.top_p
    return options
