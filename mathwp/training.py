"""Training data for the ape210k solver: the seeded dev split, the tokenizer (from scratch or a checkpoint's
simplified vocab), vocab trimming, number masking and the encoded length buckets the trainer reads."""

from __future__ import annotations

import random
from pathlib import Path

from .seq2seq import PLACEHOLDERS, SPECIALS, encode_pair, length_buckets, load_tokenizer, mask_expression, mask_numbers

DIGIT_PIECES = [*"0123456789.", *(f"##{d}" for d in "0123456789")]


def split_dev(problems: list, dev_size: int, seed: int) -> tuple[list, list]:
    """Seeded (train, dev) split: dev_size problems of `problems` held out."""
    order = list(range(len(problems)))
    random.Random(seed).shuffle(order)
    dev = set(order[:dev_size])
    return [p for i, p in enumerate(problems) if i not in dev], [p for i, p in enumerate(problems) if i in dev]


def build_tokenizer(vocab: str | Path, init: str | None = None, number_placeholders: bool = False):
    """(tokenizer, keep_tokens): over `vocab` for a from-scratch model (placeholders appended when used), or over
    the vocab of checkpoint `init` simplified as the original (4 specials; keep_tokens for loading)."""
    from zoo.tokenization import Tokenizer, load_vocab, simplify_vocab

    if not init:
        vocab = load_vocab(vocab)
        if number_placeholders:
            vocab.update({t: len(vocab) + i for i, t in enumerate(PLACEHOLDERS) if t not in vocab})
        return load_tokenizer(vocab, number_placeholders), None
    from zoo.loading import resolve_folder

    full = load_vocab(resolve_folder(init) / "vocab.txt")
    if number_placeholders and not all(t in full for t in PLACEHOLDERS):
        raise ValueError("number placeholders with an init checkpoint need a vocab that has [n0]..[n19] "
                         "(e.g. the base from scripts/pretrain_base.py)")
    keep = SPECIALS + PLACEHOLDERS if number_placeholders else SPECIALS
    vocab, keep_tokens = simplify_vocab(full, startswith=keep)
    if number_placeholders:
        return load_tokenizer(vocab, number_placeholders), keep_tokens
    return Tokenizer(vocab, do_lower_case=True), keep_tokens


def trim_vocab(tokenizer, encoded: list[list[int]], number_placeholders: bool):
    """Keep the specials, every token the training data uses, the digit pieces (so any number still
    tokenizes) and the placeholders; unused rows would stay random in a from-scratch model. Training encodings
    are unchanged."""
    keep = set(range(len(SPECIALS))) | {i for ids in encoded for i in ids}
    keep |= set(tokenizer.tokens_to_ids(DIGIT_PIECES))
    if number_placeholders:
        keep |= set(tokenizer.tokens_to_ids(PLACEHOLDERS))
    tokens = [tokenizer.id_to_token(i) for i in sorted(keep)]
    return load_tokenizer({t: i for i, t in enumerate(tokens)}, number_placeholders)


def mask_sample(sample: tuple[str, str, str]) -> tuple[str, str, str]:
    """(question, expression, answer) with the question's numbers as placeholders in question and expression."""
    question, numbers = mask_numbers(sample[0])
    return question, mask_expression(sample[1], numbers), sample[2]


def encode_all(tokenizer, samples: list, maxlen: int) -> dict[str, list]:
    """input_ids / token_type_ids columns of "[CLS] question [SEP] expression [SEP]"."""
    features = {"input_ids": [], "token_type_ids": []}
    for question, expression, _ in samples:
        ids, segs = encode_pair(tokenizer, question, expression, maxlen)
        features["input_ids"].append(ids)
        features["token_type_ids"].append(segs)
    return features


def training_buckets(samples: list, tokenizer, maxlen: int, batch_size: int, seed: int,
                     number_placeholders: bool = False, trim: bool = False):
    """(length buckets of encoded samples, tokenizer): numbers masked when `number_placeholders`; with `trim`
    the vocab is cut to what the data uses (the returned tokenizer) and the samples re-encoded with it."""
    if number_placeholders:
        samples = [mask_sample(s) for s in samples]
    features = encode_all(tokenizer, samples, maxlen)
    if trim:
        tokenizer = trim_vocab(tokenizer, features["input_ids"], number_placeholders)
        features = encode_all(tokenizer, samples, maxlen)
    rows = [dict(zip(features, values)) for values in zip(*features.values())]
    return length_buckets(rows, batch_size, seed), tokenizer


def dev_accuracy(solver, dev_samples: list, batch_size: int = 64) -> float:
    """Share of (problem, (question, expression, answer)) pairs whose solved value equals the answer."""
    from .safe_math import is_equal, safe_eval

    results = solver.solve([s[0] for _, s in dev_samples], batch_size=batch_size)
    correct = sum(r.value is not None and is_equal(r.value, safe_eval(s[2])) for r, (_, s) in zip(results, dev_samples))
    return correct / max(1, len(dev_samples))
