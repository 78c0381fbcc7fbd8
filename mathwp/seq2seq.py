"""UniLM seq2seq pieces shared by training and solving: encoding, batching, the target-masked loss (bert4keras task_seq2seq_ape210k_math_word_problem.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import torch
import torch.nn.functional as F

from zoo.data import length_buckets as zoo_length_buckets
from zoo.data import pad, padding_mask

MAXLEN = 192  # tokens of "[CLS] question [SEP] expression [SEP]" (and of the question alone at inference)
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
MAX_NUMBERS = 20
PLACEHOLDERS = [f"[n{i}]" for i in range(MAX_NUMBERS)]
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_PLACEHOLDER = re.compile(r"(\[n\d+\])")


def split_placeholders(text: str) -> list[str]:
    """Pre-tokenizer: number placeholders "[nK]" as whole pieces (vocab tokens), the rest as it is."""
    return [piece for piece in _PLACEHOLDER.split(text) if piece]


split_placeholders.prefix_safe = True  # a text prefix ending at whitespace splits the same way (zoo.Tokenizer)


def load_tokenizer(vocab, number_placeholders: bool = False):
    """The bert4keras char tokenizer (lowercase, no jieba) over a vocab file or dict; with
    `number_placeholders`, "[nK]" in the text stays one token."""
    from zoo.tokenization import Tokenizer

    vocab = str(vocab) if isinstance(vocab, Path) else vocab
    return Tokenizer(vocab, do_lower_case=True, pre_tokenize=split_placeholders if number_placeholders else None)


def mask_numbers(question: str) -> tuple[str, list[str]]:
    """Replace the first MAX_NUMBERS numbers of the question by "[n0]", "[n1]", ...; returns them in order."""
    numbers: list[str] = []

    def placeholder(m: re.Match) -> str:
        if len(numbers) >= MAX_NUMBERS:
            return m.group(0)
        numbers.append(m.group(0))
        return f"[n{len(numbers) - 1}]"

    return _NUMBER.sub(placeholder, question), numbers


def mask_expression(expression: str, numbers: Sequence[str]) -> str:
    """Write each number of the expression equal in value to a question number as that number's placeholder
    (the first one with that value); other numbers (constants such as 100 or 3.14) stay as they are."""
    values = [Fraction(n) for n in numbers]

    def placeholder(m: re.Match) -> str:
        value = Fraction(m.group(0))
        return f"[n{values.index(value)}]" if value in values else m.group(0)

    return _NUMBER.sub(placeholder, expression)


def unmask_expression(expression: str, numbers: Sequence[str]) -> str:
    """Put the question's numbers back; an unknown placeholder stays (and later fails evaluation)."""

    def number(m: re.Match) -> str:
        k = int(m.group(0)[2:-1])
        return numbers[k] if k < len(numbers) else m.group(0)

    return _PLACEHOLDER.sub(number, expression)


def encode_pair(tokenizer, question: str, expression: str, maxlen: int = MAXLEN) -> tuple[list[int], list[int]]:
    """[CLS] question [SEP] expression [SEP]; segment 1 on "expression [SEP]" (the original's encode, S*E*E)."""
    return tokenizer.encode(question, expression, maxlen=maxlen)


def collate(features: Sequence[dict]) -> dict[str, torch.Tensor]:
    """Right-pad input_ids / token_type_ids with 0 and build the attention mask."""
    ids = [f["input_ids"] for f in features]
    return {"input_ids": pad(ids), "token_type_ids": pad([f["token_type_ids"] for f in features]),
            "attention_mask": padding_mask(ids)}


def length_buckets(features: Sequence[dict], batch_size: int, seed: int = 0) -> list[dict]:
    """Group examples of similar length into batches (one row per batch, for a trainer run with batch size 1):
    sorted by length with random tie order, so padding is minimal and batch order is shuffled by the trainer."""
    buckets = zoo_length_buckets(features, batch_size, key=lambda f: len(f["input_ids"]), seed=seed)
    return [{key: [f[key] for f in bucket] for key in ("input_ids", "token_type_ids")} for bucket in buckets]


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
    logits = model(batch["input_ids"], token_type_ids=batch["token_type_ids"],
                   attention_mask=batch["attention_mask"], logits_mask=F.pad(mask, (0, 1))).logits
    return F.cross_entropy(logits.float(), batch["input_ids"][:, 1:][mask])


def decode_expression(tokenizer, ids: Sequence[int]) -> str:
    """Generated ids -> expression text: stop at the first [SEP], drop specials, glue wordpieces, no spaces.

    Equal to the original's `decode(ids).replace(" ", "")` (its spacing rules only insert spaces), except that
    number placeholders "[nK]" are kept for `unmask_expression`."""
    pieces = []
    end = tokenizer.token_to_id("[SEP]")
    for i in ids:
        i = int(i)
        if i == end:
            break
        token = tokenizer.id_to_token(i)
        if token.startswith("[") and token.endswith("]") and not _PLACEHOLDER.fullmatch(token):
            continue
        pieces.append(token[2:] if token.startswith("##") else token)
    return "".join(pieces).replace(" ", "")
