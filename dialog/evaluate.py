"""Dialog evaluation: perplexity of reference responses, BLEU-2/4 and distinct-1/2 of sampled replies.

Each dialog with at least two utterances gives one case: the last utterance is the reference response, the ones
before it the history (truncated to the latest turns that fit the model, as for replies)."""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F

from dialog.formats import IGNORE_INDEX, DialogInputs
from dialog.metrics import bleu, distinct


def cases(dialogs: Iterable[Sequence[str]]) -> list[tuple[list[str], str]]:
    """(history, reference) pairs from dialogs with >= 2 utterances and a non-empty last one."""
    return [(list(d[:-1]), d[-1]) for d in dialogs if len(d) >= 2 and d[-1].strip()]


def pad_batch(samples: Sequence[DialogInputs], pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Right-padded input_ids/token_type_ids/attention_mask/labels (labels -100 on padding)."""
    width = max(len(s) for s in samples)
    out = {
        "input_ids": torch.full((len(samples), width), pad_id, dtype=torch.long),
        "token_type_ids": torch.zeros((len(samples), width), dtype=torch.long),
        "attention_mask": torch.zeros((len(samples), width), dtype=torch.long),
        "labels": torch.full((len(samples), width), IGNORE_INDEX, dtype=torch.long),
    }
    for row, s in enumerate(samples):
        n = len(s)
        out["input_ids"][row, :n] = torch.tensor(s.input_ids)
        out["token_type_ids"][row, :n] = torch.tensor(s.token_type_ids)
        out["attention_mask"][row, :n] = 1
        out["labels"][row, :n] = torch.tensor(s.labels if s.labels is not None else s.input_ids)
    return out


def lm_loss(model, batch: dict[str, torch.Tensor], reduction: str = "mean") -> torch.Tensor:
    """Next-token cross entropy over the labelled positions (labels aligned with input_ids, shifted here)."""
    logits = model(batch["input_ids"], token_type_ids=batch["token_type_ids"],
                   attention_mask=batch["attention_mask"]).logits
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)).float(), batch["labels"][:, 1:].reshape(-1),
                           ignore_index=IGNORE_INDEX, reduction=reduction)


def _fit(bot, history: list[str], response: str) -> DialogInputs:
    room = bot.max_length - len(bot.format.utterance_ids(response)) - 1
    if room < len(bot.format.build_inputs([])) + 1:
        response = bot.format.cut_left(response, bot.max_length // 2)
        room = bot.max_length - len(bot.format.utterance_ids(response)) - 1
    return bot.format.response_sample(bot.format.truncate_history(history, room), response)


@torch.inference_mode()
def perplexity(bot, pairs: Sequence[tuple[list[str], str]], batch_size: int = 16, progress=None) -> float:
    """exp(mean NLL per reference-response token, end token included)."""
    total, count = 0.0, 0
    pad = getattr(bot.format, "pad_id", 0)
    for start in range(0, len(pairs), batch_size):
        chunk = [_fit(bot, h, r) for h, r in pairs[start:start + batch_size]]
        batch = {k: v.to(bot.device) for k, v in pad_batch(chunk, pad).items()}
        total += float(lm_loss(bot.model, batch, reduction="sum"))
        count += int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
        if progress is not None:
            progress.update(len(chunk))
    return math.exp(total / max(count, 1))


def sample_replies(bot, pairs: Sequence[tuple[list[str], str]], batch_size: int = 16, seed: int = 0,
                   progress=None, **options) -> list[str]:
    replies: list[str] = []
    for i, start in enumerate(range(0, len(pairs), batch_size)):
        histories = [h for h, _ in pairs[start:start + batch_size]]
        replies += bot.reply_batch(histories, seed=seed + i, **options)
        if progress is not None:
            progress.update(len(histories))
    return replies


def evaluate(bot, dialogs: Iterable[Sequence[str]], batch_size: int = 16, seed: int = 0, show_progress: bool = True,
             **options) -> dict:
    """PPL of references, BLEU-2/4 and distinct-1/2 (in %) of sampled replies with the bot's preset."""
    from tqdm.auto import tqdm

    pairs = cases(dialogs)
    if not pairs:
        raise ValueError("no dialog with at least two utterances to evaluate")
    with tqdm(total=len(pairs), desc="perplexity", disable=not show_progress) as bar:
        ppl = perplexity(bot, pairs, batch_size, bar)
    with tqdm(total=len(pairs), desc="sampling", disable=not show_progress) as bar:
        replies = sample_replies(bot, pairs, batch_size, seed, bar, **options)
    refs = [r for _, r in pairs]
    return {
        "cases": len(pairs),
        "ppl": round(ppl, 3),
        "bleu2": round(100 * bleu(replies, refs, 2), 3),
        "bleu4": round(100 * bleu(replies, refs, 4), 3),
        "distinct1": round(100 * distinct(replies, 1), 3),
        "distinct2": round(100 * distinct(replies, 2), 3),
        "empty_replies": sum(1 for r in replies if not r.strip()),
        "examples": [{"history": h, "reference": r, "reply": y} for (h, r), y in list(zip(pairs, replies))[:3]],
    }
