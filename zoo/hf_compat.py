"""What a Hugging Face user expects of an LM: `labels` losses, tuple outputs and HF's `generate()`.

`zoo.generate` is our fast batched engine; `model.generate(...)` is transformers' `GenerationMixin.generate`
(HF semantics: prompt + new tokens, a `GenerationConfig`, streamers, `pipeline("text-generation")`), driven
through HF's own cache classes. UniLM prefix-LMs are refused there: HF's loop feeds new tokens without the segment
bookkeeping the UniLM mask needs, so they decode with `zoo.generate`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import GenerationMixin
from transformers.cache_utils import Cache

IGNORE_INDEX = -100


def lm_loss(attention: str, logits: torch.Tensor, labels: torch.Tensor, token_type_ids=None, attention_mask=None,
            num_items_in_batch=None) -> torch.Tensor:
    """The standard loss for the model's attention pattern, with -100 labels ignored.

    "bidirectional": masked LM, the logit at t scores labels[t] (DataCollatorForLanguageModeling with mlm=True).
    "causal": the logit at t scores labels[t + 1] (the shift happens here, as in HF's causal LMs).
    "unilm": as "causal", but only where token t + 1 is in the target segment (token type 1) and not padding,
    as bert4keras' seq2seq loss.
    `num_items_in_batch` (passed by transformers' Trainer under gradient accumulation) divides the summed loss
    instead of the local token count."""
    if labels.shape != logits.shape[:2]:
        raise ValueError(f"labels have shape {tuple(labels.shape)}, expected {tuple(logits.shape[:2])}")
    if attention != "bidirectional":
        logits, labels = logits[:, :-1], labels[:, 1:].clone()
        if attention == "unilm":
            if token_type_ids is None:
                raise ValueError("a UniLM loss needs token_type_ids (1 marks the target segment)")
            keep = token_type_ids[:, 1:].bool()
            if attention_mask is not None:
                keep &= attention_mask[:, 1:].bool()
            labels[~keep] = IGNORE_INDEX
    flat_logits = logits.reshape(-1, logits.shape[-1]).float()
    flat_labels = labels.reshape(-1).to(flat_logits.device)
    if num_items_in_batch is not None:
        total = F.cross_entropy(flat_logits, flat_labels, ignore_index=IGNORE_INDEX, reduction="sum")
        return total / num_items_in_batch
    return F.cross_entropy(flat_logits, flat_labels, ignore_index=IGNORE_INDEX)


class HFCacheView:
    """Presents a transformers `Cache` (e.g. `DynamicCache`) through the interface the zoo layers call.

    HF's generate keeps passing the full attention mask, so no padding state is stored here."""

    def __init__(self, cache: Cache):
        self.hf = cache
        self.length = cache.get_seq_length()
        self.key_mask = None
        self.segments = None

    def update(self, layer: int, key: torch.Tensor, value: torch.Tensor):
        return self.hf.update(key, value, layer)

    def advance(self, q_len: int, key_mask, segments) -> None:
        self.length += q_len


def as_zoo_cache(cache):
    """A transformers Cache -> a view the zoo layers can use; our own KVCache (or None) unchanged."""
    return HFCacheView(cache) if isinstance(cache, Cache) else cache


class ZooGenerationMixin(GenerationMixin):
    """transformers' generate() for causal zoo LMs (positions follow the attention mask, as GPT-2's)."""

    def generate(self, inputs=None, *args, **kwargs):
        """transformers' `GenerationMixin.generate` (returns prompt + new tokens). Our faster engine, with
        bert4keras-exact beams and UniLM support, is `zoo.generate(model, input_ids, ...)` (new tokens only)."""
        self._check_hf_generation()
        return super().generate(inputs, *args, **kwargs)

    def _check_hf_generation(self) -> None:
        attention = self.config.attention
        if attention != "causal":
            raise ValueError(
                f"transformers' generate() cannot drive this {attention!r} model (a UniLM prefix LM needs its "
                "segment-aware mask at every step): use zoo.generate(model, input_ids, token_type_ids=..., "
                "max_new_tokens=...) instead"
                if attention == "unilm" else
                f"transformers' generate() needs a causal LM; this model's attention is {attention!r}"
            )

    def prepare_inputs_for_generation(self, input_ids, *args, **kwargs):
        """transformers' own preparation (its cache argument is `cache` from 5.24, `past_key_values` before),
        plus position ids that follow the attention mask, so left-padded rows count their positions from 0."""
        self._check_hf_generation()  # also when GenerationMixin.generate is called unbound
        inputs = super().prepare_inputs_for_generation(input_ids, *args, **kwargs)
        mask = inputs.get("attention_mask")
        if inputs.get("position_ids") is None and mask is not None and mask.dim() == 2:
            positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
            inputs["position_ids"] = positions[:, -inputs["input_ids"].shape[1]:]
        return inputs


def write_tokenizer_config(folder, tokenizer_class: str = "BertTokenizer", **fields) -> None:
    """`tokenizer_config.json` so that `AutoTokenizer.from_pretrained(folder)` builds the tokenizer that matches
    the folder's vocab.txt ("BertTokenizer": the bert4keras char tokenizer; "WoBertTokenizer" after
    `import wobert`: jieba words, as the SPACES generator)."""
    import json
    from pathlib import Path

    config = {"tokenizer_class": tokenizer_class, "do_lower_case": True, **fields}
    path = Path(folder) / "tokenizer_config.json"
    path.write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
