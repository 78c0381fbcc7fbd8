"""ZooConfig: one config for every transformer in the zoo (BERT, RoBERTa, NEZHA, OpenAI-GPT, GPT-2 layouts)."""

from __future__ import annotations

import math
from numbers import Real

from transformers import PretrainedConfig

ATTENTION_KINDS = ("bidirectional", "causal", "unilm")
POSITION_KINDS = ("absolute", "relative", "none")
TOKEN_TYPE_KINDS = ("segment", "shared", "none")
ACTIVATIONS = ("gelu", "gelu_new", "relu", "silu", "swish", "tanh")

# (field, smallest allowed value) of the integer sizes
_INT_FIELDS = (
    ("vocab_size", 1), ("hidden_size", 1), ("num_hidden_layers", 1), ("num_attention_heads", 1),
    ("intermediate_size", 1), ("max_position_embeddings", 0), ("type_vocab_size", 0), ("position_offset", 0),
    ("max_relative_position", 1),
)
_BOOL_FIELDS = ("embedding_norm", "pre_norm", "residual_attention", "add_pooler", "lm_head_transform", "lm_head_bias")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _field_errors(config) -> list[str]:
    """Type and range problems of the numeric and boolean fields (a JSON config may hold anything)."""
    errors = []
    for name, low in _INT_FIELDS:
        value = getattr(config, name)
        if not _is_int(value) or value < low:
            errors.append(f"{name} must be an int >= {low}, got {value!r}")
    for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, Real) or not 0 <= value < 1:
            errors.append(f"{name} must be a number in [0, 1), got {value!r}")
    eps = config.layer_norm_eps
    if isinstance(eps, bool) or not isinstance(eps, Real) or not (math.isfinite(eps) and 0 < eps < 1):
        errors.append(f"layer_norm_eps must be a number in (0, 1), got {eps!r}")
    init = config.initializer_range
    if isinstance(init, bool) or not isinstance(init, Real) or not (math.isfinite(init) and init >= 0):
        errors.append(f"initializer_range must be a finite number >= 0, got {init!r}")
    for name in _BOOL_FIELDS:
        if not isinstance(getattr(config, name), bool):
            errors.append(f"{name} must be true or false, got {getattr(config, name)!r}")
    pad = config.pad_token_id
    if pad is not None and not _is_int(pad):
        errors.append(f"pad_token_id must be an int or null, got {pad!r}")
    return errors


class ZooConfig(PretrainedConfig):
    """Hyper-parameters of the zoo transformer.

    The fields that differ between the original families:
      * ``position_embedding_type``: "absolute" (BERT/GPT), "relative" (NEZHA: functional Shaw-style
        relative positions clipped at ``max_relative_position``, shared across heads) or "none".
      * ``token_type_embedding``: "segment" (BERT's own table of ``type_vocab_size`` rows), "shared"
        (OpenAI-GPT/GPT-2 embed token type ids with the word embeddings, so they are vocab ids) or "none".
      * ``pre_norm``: GPT-2 puts LayerNorm before each sub-block and after the last one; BERT and
        OpenAI-GPT normalise after the residual add.
      * ``attention``: the default mask pattern, "bidirectional", "causal" or "unilm" (prefix LM whose
        prefix is the segment-0 part, as bert4keras' UniLM_Mask).
      * ``residual_attention``: RealFormer, the running sum of pre-softmax scores across layers.
      * ``lm_head_transform``/``lm_head_bias``: BERT's MLM head (dense, act, LayerNorm, bias) versus GPT's
        bare tied projection.
    """

    model_type = "zoo"

    def __init__(
        self,
        vocab_size: int = 21128,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.1,
        attention_probs_dropout_prob: float = 0.1,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        pad_token_id: int | None = 0,
        position_embedding_type: str = "absolute",
        position_offset: int = 0,
        max_relative_position: int = 64,
        token_type_embedding: str = "segment",
        embedding_norm: bool = True,
        pre_norm: bool = False,
        attention: str = "bidirectional",
        residual_attention: bool = False,
        add_pooler: bool = True,
        lm_head_transform: bool = True,
        lm_head_bias: bool = True,
        **kwargs,
    ):
        fields = {k: v for k, v in locals().items() if k not in ("self", "kwargs", "pad_token_id", "__class__")}
        kwargs.setdefault("tie_word_embeddings", True)
        super().__init__(pad_token_id=pad_token_id, **kwargs)
        for name, value in fields.items():
            setattr(self, name, value)
        self.validate_fields()

    def validate_fields(self) -> None:
        """Raise ValueError on a wrongly typed, out-of-range or inconsistent config instead of failing deep inside
        forward (or allocating a negative or absurd size)."""
        errors = _field_errors(self)
        if errors:
            raise ValueError("; ".join(errors))
        checks = [
            (self.attention in ATTENTION_KINDS, f"attention must be one of {ATTENTION_KINDS}, got {self.attention!r}"),
            (
                self.position_embedding_type in POSITION_KINDS,
                f"position_embedding_type must be one of {POSITION_KINDS}, got {self.position_embedding_type!r}",
            ),
            (
                self.token_type_embedding in TOKEN_TYPE_KINDS,
                f"token_type_embedding must be one of {TOKEN_TYPE_KINDS}, got {self.token_type_embedding!r}",
            ),
            (self.hidden_act in ACTIVATIONS, f"hidden_act must be one of {ACTIVATIONS}, got {self.hidden_act!r}"),
            (
                self.num_attention_heads > 0 and self.hidden_size % self.num_attention_heads == 0,
                f"hidden_size {self.hidden_size} is not divisible by num_attention_heads {self.num_attention_heads}",
            ),
            (self.vocab_size > 0 and self.num_hidden_layers > 0, "vocab_size and num_hidden_layers must be positive"),
            (self.max_relative_position > 0, "max_relative_position must be positive"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def to_dict(self) -> dict:
        """As transformers', plus `zoo_requires`: model_type "zoo" needs this package, and the config says so."""
        from .portable import REQUIRES

        return {**super().to_dict(), "zoo_requires": REQUIRES}

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads
