"""Multi-objective pre-training of a small base model: MLM, UniLM seq2seq and causal LM batches in one run.

One :class:`~zoo.modeling.ZooForLM` learns all three objectives the packages fine-tune with. Every batch holds a
single task, so the attention pattern is switched per batch:

* ``"mlm"``: bidirectional attention (UniLM with every token in segment 0); BERT's dynamic masking, 15% of the
  non-special tokens as targets, of which 80% become [MASK], 10% a random token and 10% stay.
* ``"seq2seq"``: UniLM attention over ``[CLS] source [SEP] target [SEP]`` (target in segment 1); the loss is the
  next-token cross-entropy over the target segment, as the math solver and the summarizer train.
* ``"lm"``: causal attention over any token/segment sequence with explicit labels (-100 = ignored), e.g. the
  NEZHA-GPT dialog layout ``[CLS] u1 [SEP] u2 [SEP] ...`` with alternating segments.

Examples are grouped into length-sorted buckets of one task (one dataset row per batch) so that CPU training wastes
little on padding; masking happens in :func:`collate_buckets` with torch's RNG, which the trainer checkpoints.
"""

from __future__ import annotations

import random
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F

from zoo.data import pad, padding_mask
from zoo.segmentation import text_segmentate
from zoo.tokenization import is_cjk_character, is_punctuation, normalize_with_map

__all__ = ["SPECIAL_TOKENS", "TASKS", "build_char_vocab", "text_chunks", "task_buckets", "collate_buckets",
           "mask_tokens", "pretraining_loss"]

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TASKS = ("mlm", "seq2seq", "lm")
IGNORE_INDEX = -100


def build_char_vocab(texts: Iterable[str], min_count: int = 2, extra_tokens: Sequence[str] = (),
                     max_size: int | None = None) -> list[str]:
    """A character-level BERT vocab from raw text: specials, ``extra_tokens``, then characters by frequency.

    Characters are counted after the tokenizer's own ``do_lower_case`` normalization (lowercase, accents
    stripped; full-width punctuation such as "，" stays as it is, so it gets its own token). Every kept character that is neither CJK nor
    punctuation also gets a ``##`` continuation piece, so any run of letters or digits tokenizes piece by piece
    instead of becoming [UNK]; digits and ASCII letters are always kept.
    """
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(normalize_with_map(text)[0])
    always = "0123456789abcdefghijklmnopqrstuvwxyz"
    chars = [c for c, n in counts.most_common() if n >= min_count and not c.isspace()
             and unicodedata.category(c)[0] != "C" and c not in always]
    if max_size is not None:
        chars = chars[: max(0, max_size - len(SPECIAL_TOKENS) - len(extra_tokens) - 2 * len(always))]
    tokens = [*SPECIAL_TOKENS, *(t for t in extra_tokens if t not in SPECIAL_TOKENS), *always, *chars]
    tokens += [f"##{c}" for c in [*always, *chars] if not is_cjk_character(c) and not is_punctuation(c)]
    seen: set[str] = set()
    return [t for t in tokens if not (t in seen or seen.add(t))]


def text_chunks(text: str, max_chars: int) -> list[str]:
    """Cut a document at sentence and clause ends into pieces of at most ``max_chars`` characters, then glue
    neighbours while they fit (longer runs without a separator are cut hard)."""
    chunks, current = [], ""
    for piece in text_segmentate(text, max_chars, "\n。！？!?；;，,"):
        for start in range(0, len(piece), max_chars):
            part = piece[start : start + max_chars]
            if current and len(current) + len(part) > max_chars:
                chunks.append(current)
                current = ""
            current += part
    if current.strip():
        chunks.append(current)
    return chunks


def task_buckets(examples: Sequence[dict], batch_size: int, seed: int = 0, max_tokens: int | None = None
                 ) -> list[dict]:
    """Rows of one batch each: examples of one task sorted by length (random tie order) and chunked.

    An example is ``{"task", "input_ids", "token_type_ids"[, "labels"]}``; ``max_tokens`` caps
    ``batch * longest`` so long-sequence batches get fewer rows.
    """
    rng = random.Random(seed)
    rows = []
    for task in TASKS:
        group = sorted((e for e in examples if e["task"] == task), key=lambda e: (len(e["input_ids"]), rng.random()))
        start = 0
        while start < len(group):
            size = batch_size
            if max_tokens:  # the longest example of a full batch decides how many rows fit
                longest = len(group[min(len(group), start + batch_size) - 1]["input_ids"])
                size = max(1, min(batch_size, max_tokens // max(1, longest)))
            chunk = group[start : start + size]
            start += size
            row = {"task": task, "input_ids": [e["input_ids"] for e in chunk],
                   "token_type_ids": [e["token_type_ids"] for e in chunk],
                   "labels": [e.get("labels") or [] for e in chunk]}
            rows.append(row)
    return rows


def mask_tokens(input_ids: torch.Tensor, special: torch.Tensor, mask_id: int, vocab_size: int,
                first_regular: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's dynamic masking: (masked input, labels with IGNORE_INDEX off-target); ``special`` marks positions
    that are never targets (specials and padding). Random replacements are drawn from the regular tokens."""
    probs = torch.rand(input_ids.shape, generator=generator)
    targets = (probs < 0.15) & ~special
    labels = torch.where(targets, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    action = torch.rand(input_ids.shape, generator=generator)
    source = input_ids.clone()
    source[targets & (action < 0.8)] = mask_id
    swap = targets & (action >= 0.8) & (action < 0.9)
    source[swap] = torch.randint(first_regular, vocab_size, (int(swap.sum()),), generator=generator)
    return source, labels


def collate_buckets(rows: Sequence[dict], *, mask_id: int, vocab_size: int, num_special: int) -> dict:
    """Collate a trainer batch of bucket rows (all of one task) into tensors; MLM rows are masked here."""
    task = rows[0]["task"]
    if any(r["task"] != task for r in rows):
        raise ValueError("a batch mixes pre-training tasks")
    ids = [x for r in rows for x in r["input_ids"]]
    batch = {"task": task, "input_ids": pad(ids), "token_type_ids": pad([x for r in rows for x in r["token_type_ids"]]),
             "attention_mask": padding_mask(ids)}
    if task == "mlm":
        special = (batch["input_ids"] < num_special) | ~batch["attention_mask"].bool()
        batch["input_ids"], batch["labels"] = mask_tokens(batch["input_ids"], special, mask_id, vocab_size,
                                                          num_special)
    elif task == "lm":
        batch["labels"] = pad([x for r in rows for x in r["labels"]], IGNORE_INDEX)
    return batch


def pretraining_loss(model, batch: dict) -> torch.Tensor:
    """The batch's objective; sets ``model.config.attention`` to the pattern that objective needs."""
    task = batch["task"]
    config = getattr(model, "module", model).config
    ids, types, attn = batch["input_ids"], batch["token_type_ids"], batch["attention_mask"]
    if task == "mlm":
        config.attention = "unilm"
        labels = batch["labels"]
        keep = labels != IGNORE_INDEX
        if not keep.any():
            keep[:, 0] = True  # no target drawn: score [CLS] so the loss stays defined
            labels = torch.where(keep, ids, labels)
        logits = model(ids, token_type_ids=torch.zeros_like(types), attention_mask=attn, logits_mask=keep).logits
        return F.cross_entropy(logits.float(), labels[keep])
    if task == "seq2seq":
        config.attention = "unilm"
        keep = (types[:, 1:] * attn[:, 1:]).bool()
        logits = model(ids, token_type_ids=types, attention_mask=attn, logits_mask=F.pad(keep, (0, 1))).logits
        return F.cross_entropy(logits.float(), ids[:, 1:][keep])
    if task == "lm":
        config.attention = "causal"
        labels = batch["labels"]
        keep = labels[:, 1:] != IGNORE_INDEX
        logits = model(ids, token_type_ids=types, attention_mask=attn, logits_mask=F.pad(keep, (0, 1))).logits
        return F.cross_entropy(logits.float(), labels[:, 1:][keep])
    raise ValueError(f"unknown pre-training task {task!r}; expected one of {TASKS}")
