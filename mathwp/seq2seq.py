"""UniLM seq2seq pieces shared by training and solving: encoding, batching, the target-masked loss (spec §4.3)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

MAXLEN = 192  # tokens of "[CLS] question [SEP] expression [SEP]" (and of the question alone at inference)
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]


def load_tokenizer(vocab: str | Path):
    """The bert4keras char tokenizer (lowercase, no jieba) over a vocab file."""
    from zoo.tokenization import Tokenizer

    return Tokenizer(str(vocab), do_lower_case=True)


def encode_pair(tokenizer, question: str, expression: str, maxlen: int = MAXLEN) -> tuple[list[int], list[int]]:
    """[CLS] question [SEP] expression [SEP]; segment 1 on "expression [SEP]" (the original's encode, S*E*E)."""
    return tokenizer.encode(question, expression, maxlen=maxlen)


def collate(features: Sequence[dict]) -> dict[str, torch.Tensor]:
    """Right-pad input_ids / token_type_ids with 0 and build the attention mask."""
    width = max(len(f["input_ids"]) for f in features)
    ids = torch.zeros(len(features), width, dtype=torch.long)
    segs = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for row, f in enumerate(features):
        n = len(f["input_ids"])
        ids[row, :n] = torch.as_tensor(f["input_ids"])
        segs[row, :n] = torch.as_tensor(f["token_type_ids"])
        mask[row, :n] = 1
    return {"input_ids": ids, "token_type_ids": segs, "attention_mask": mask}


def length_buckets(features: Sequence[dict], batch_size: int, seed: int = 0) -> list[dict]:
    """Group examples of similar length into batches (one row per batch, for a trainer run with batch size 1):
    sorted by length with random tie order, so padding is minimal and batch order is shuffled by the trainer."""
    rng = random.Random(seed)
    order = sorted(range(len(features)), key=lambda i: (len(features[i]["input_ids"]), rng.random()))
    return [
        {key: [features[i][key] for i in order[start : start + batch_size]] for key in ("input_ids", "token_type_ids")}
        for start in range(0, len(order), batch_size)
    ]


def collate_bucket(rows: Sequence[dict]) -> dict[str, torch.Tensor]:
    """Collate for `length_buckets` rows: each row already holds a whole batch."""
    features = [
        {"input_ids": ids, "token_type_ids": segs}
        for row in rows
        for ids, segs in zip(row["input_ids"], row["token_type_ids"])
    ]
    return collate(features)


def target_mask(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """[B, L-1] bool: position t predicts token t+1 iff token t+1 is a real segment-1 token (expression + [SEP])."""
    return (batch["token_type_ids"][:, 1:] * batch["attention_mask"][:, 1:]).bool()


def unilm_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy of token t+1 predicted at t over the target segment only, averaged over target tokens.

    The LM head runs on the target positions alone (same values as slicing the full logits, far cheaper)."""
    mask = target_mask(batch)
    hidden = model.zoo(
        batch["input_ids"], token_type_ids=batch["token_type_ids"], attention_mask=batch["attention_mask"]
    ).last_hidden_state
    hidden = hidden[:, :-1][mask]
    logits = model.head(model.head.transform(hidden), model.get_input_embeddings().weight)
    return F.cross_entropy(logits.float(), batch["input_ids"][:, 1:][mask])


def decode_expression(tokenizer, ids: Sequence[int]) -> str:
    """Generated ids -> expression text: stop at the first [SEP], drop specials, glue wordpieces, no spaces.

    Equal to the original's `decode(ids).replace(" ", "")`: its spacing rules only insert spaces."""
    pieces = []
    end = tokenizer.token_to_id("[SEP]")
    for i in ids:
        i = int(i)
        if i == end:
            break
        token = tokenizer.id_to_token(i)
        if token.startswith("[") and token.endswith("]"):
            continue
        pieces.append(token[2:] if token.startswith("##") else token)
    return "".join(pieces).replace(" ", "")
