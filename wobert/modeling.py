"""WoBERT models: the zoo core encoder loading the hub checkpoints' BertForMaskedLM layout, and a fill-mask helper.

    >>> from wobert import WoBertForMaskedLM, WoBertTokenizer, fill_mask
    >>> tok = WoBertTokenizer.from_pretrained("junnyu/wobert_chinese_plus_base")
    >>> model = WoBertForMaskedLM.from_pretrained("junnyu/wobert_chinese_plus_base")
    >>> fill_mask(model, tok, "今天[MASK]很好，我[MASK]去公园玩。")  # doctest: +SKIP
    [[('天气', ...), ('阳光', ...), ('天', ...), ('心情', ...), ('空气', ...)],
     [('想', ...), ('要', ...), ('打算', ...), ('准备', ...), ('就', ...)]]
"""

from __future__ import annotations

import os

import torch

import zoo
from zoo.modeling import ZooForLM, ZooModel

__all__ = ["WoBertModel", "WoBertForMaskedLM", "fill_mask"]


def _load(cls, name_or_path, head, **kwargs):
    loaded = zoo.from_pretrained(name_or_path, head=head, **kwargs)
    model = cls(loaded.config)
    model.load_state_dict(loaded.state_dict())
    return model.to(next(loaded.parameters()).device).eval()


class WoBertModel(ZooModel):
    """WoBERT encoder (+ pooler). ``from_pretrained`` reads hub BERT layouts (junnyu/wobert_chinese_*) and zoo
    folders; keyword arguments go to ``zoo.from_pretrained`` (``attention="unilm"``, ``keep_tokens``, ...)."""

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *args, **kwargs) -> WoBertModel:
        return _load(cls, name_or_path, None, **kwargs)


class WoBertForMaskedLM(ZooForLM):
    """WoBERT encoder + tied MLM head; ``from_pretrained`` as for ``WoBertModel``."""

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *args, **kwargs) -> WoBertForMaskedLM:
        return _load(cls, name_or_path, "mlm", **kwargs)


@torch.no_grad()
def fill_mask(model: ZooForLM, tokenizer, text: str, top_k: int = 5) -> list[list[tuple[str, float]]]:
    """Top-``top_k`` ``(token, probability)`` for every ``[MASK]`` in ``text``, left to right."""
    if top_k < 1:
        raise ValueError("top_k must be >= 1")
    enc = tokenizer(text, return_tensors="pt")
    device = next(model.parameters()).device
    mask = enc["input_ids"][0] == tokenizer.mask_token_id
    if not mask.any():
        raise ValueError(f"no {tokenizer.mask_token} in the text")
    logits = model(enc["input_ids"].to(device), token_type_ids=enc["token_type_ids"].to(device),
                   attention_mask=enc["attention_mask"].to(device)).logits[0, mask.to(device)]
    probs, ids = logits.float().softmax(-1).topk(min(top_k, logits.shape[-1]), dim=-1)
    return [list(zip(tokenizer.convert_ids_to_tokens(row_ids.tolist()), row_probs.tolist()))
            for row_ids, row_probs in zip(ids, probs)]
