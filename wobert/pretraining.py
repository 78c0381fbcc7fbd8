"""WoBERT's MLM pre-training data recipe (ZhuiyiTechnology/WoBERT train.py).

Documents are cut with bert4keras ``text_segmentate(text, 32, "\\n。")`` and the pieces greedily concatenated
while a chunk stays within 1.3 * maxlen characters; each chunk is encoded with ``maxlen`` and masked per token
(all tokens, [CLS]/[SEP] included, as the original): r < 0.12 -> [MASK]; r < 0.135 -> kept; r < 0.15 -> a
uniform random id in [1, V-1]; the target is the original token for those and 0 (ignored) otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch

from zoo.data import pad, padding_mask
from zoo.segmentation import text_segmentate

__all__ = ["document_chunks", "random_masking", "MaskedChunks", "collate_mlm", "mlm_loss"]


def document_chunks(text: str, maxlen: int = 512) -> Iterator[str]:
    """WoBERT ``text_process``: sentence-ish pieces concatenated up to 1.3 * maxlen characters."""
    result = ""
    for piece in text_segmentate(text, 32, "\n。"):
        if result and len(result) + len(piece) > maxlen * 1.3:
            yield result
            result = ""
        result += piece
    if result:
        yield result


def random_masking(token_ids: list[int], mask_id: int, vocab_size: int, rng: np.random.Generator
                   ) -> tuple[list[int], list[int]]:
    """``(source, target)`` with WoBERT's 12% [MASK] / 1.5% keep / 1.5% random split of the 15%."""
    source, target = [], []
    for r, t in zip(rng.random(len(token_ids)), token_ids):
        if r < 0.15 * 0.8:
            source.append(mask_id)
            target.append(t)
        elif r < 0.15 * 0.9:
            source.append(t)
            target.append(t)
        elif r < 0.15:
            source.append(int(rng.integers(vocab_size - 1)) + 1)
            target.append(t)
        else:
            source.append(t)
            target.append(0)
    return source, target


class MaskedChunks:
    """Re-iterable stream of masked examples ``{"input_ids", "labels"}`` from an iterable of documents.

    ``documents`` is re-iterated each pass (``repeat=True`` cycles forever, as WoBERT's corpus did); the masking
    RNG is re-seeded at every ``iter()``, so a resumed run replays the same masks.
    """

    def __init__(self, documents: Iterable[str], encode: Callable[[str, int], list[int]], mask_id: int,
                 vocab_size: int, maxlen: int = 512, seed: int = 0, repeat: bool = True):
        self.documents, self.encode, self.mask_id = documents, encode, mask_id
        self.vocab_size, self.maxlen, self.seed, self.repeat = vocab_size, maxlen, seed, repeat

    def __iter__(self) -> Iterator[dict[str, list[int]]]:
        rng = np.random.default_rng(self.seed)
        while True:
            produced = False
            for doc in self.documents:
                for chunk in document_chunks(doc, self.maxlen):
                    ids = self.encode(chunk, self.maxlen)
                    source, target = random_masking(ids, self.mask_id, self.vocab_size, rng)
                    produced = True
                    yield {"input_ids": source, "labels": target}
            if not (self.repeat and produced):
                return


def collate_mlm(examples: list[dict[str, list[int]]], pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Right-pad a list of examples into input_ids / attention_mask / labels tensors (labels pad = 0 = ignored)."""
    ids = [e["input_ids"] for e in examples]
    return {"input_ids": pad(ids, pad_id), "attention_mask": padding_mask(ids),
            "labels": pad([e["labels"] for e in examples])}


def mlm_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy of the logits over the targets != 0, averaged (0 when a batch has no target)."""
    logits = model(batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    labels = batch["labels"]
    total = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=0,
                                              reduction="sum")
    return total / (labels != 0).sum().clamp(min=1)
