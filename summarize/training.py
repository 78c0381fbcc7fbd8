"""Training stages B-E on the zoo training frame: clause vectors, k-fold extractor with threshold selection,
out-of-fold seq2seq data and the generator (bojone/SPACES stages B-E)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import torch

from zoo.training import Trainer, TrainingArguments

from .extract import CLAUSE_SEPS, extract_oracle
from .extractor import ClauseExtractor, clause_vectors, masked_bce, pad_documents, select_clauses
from .generator import K_SPARSE, Seq2SeqDataset, SpacesForSummary, collate, generator_loss
from .metrics import rouge

THRESHOLD_GRID = tuple(round(0.05 * i, 2) for i in range(1, 14))


def oracle_records(pairs: Sequence[tuple[str, str]], user_dict=None) -> list[dict]:
    """Stage A for many documents: [{"clauses", "labels", "summary", "oracle_main"}] from (text, summary)."""
    out = []
    for text, summary in pairs:
        o = extract_oracle(text, summary, **({"user_dict": user_dict} if user_dict else {}))
        out.append({"clauses": o.clauses, "labels": o.labels, "summary": summary, "oracle_main": o.main})
    return out


def vectorize(records: Sequence[dict], encoder, tokenizer, maxlen: int = 512, batch_size: int = 64,
              device=None) -> list[torch.Tensor]:
    """Stage B: clause vectors [n_clauses, hidden] per record."""
    return [clause_vectors(encoder, tokenizer, r["clauses"], maxlen, batch_size, device) for r in records]


def fold_split(n: int, fold: int, num_folds: int) -> tuple[list[int], list[int]]:
    """SPACES ``data_split``: validation = indices with i % num_folds == fold."""
    valid = [i for i in range(n) if i % num_folds == fold]
    return [i for i in range(n) if i % num_folds != fold], valid


def _extractor_batches(vectors, records):
    return [(v, r["labels"]) for v, r in zip(vectors, records)]


def _extractor_collate(items):
    x, mask, y = pad_documents([v for v, _ in items], [lab for _, lab in items])
    return {"x": x, "mask": mask, "y": y}


def _extractor_loss(model, batch):
    return masked_bce(model(batch["x"], batch["mask"]), batch["y"], batch["mask"])


def predict_probs(model: ClauseExtractor, vectors: Sequence[torch.Tensor], batch_size: int = 64) -> list[list[float]]:
    """Selection probabilities per document (eval mode)."""
    device = next(model.parameters()).device
    out = []
    for s in range(0, len(vectors), batch_size):
        chunk = list(vectors[s:s + batch_size])
        x, mask, _ = pad_documents(chunk)
        p = model.predict_proba(x.to(device), mask.to(device)).cpu()
        out.extend(p[i, :len(v)].tolist() for i, v in enumerate(chunk))
    return out


def extract_score(records: Sequence[dict], probs: Sequence[Sequence[float]], threshold: float) -> float:
    """Mean char-level main metric of the thresholded extracts against the gold summaries."""
    scores = [rouge(select_clauses(r["clauses"], p, threshold), r["summary"], "char")["main"]
              for r, p in zip(records, probs)]
    return sum(scores) / max(len(scores), 1)


def choose_threshold(records: Sequence[dict], probs: Sequence[Sequence[float]],
                     grid: Sequence[float] = THRESHOLD_GRID) -> tuple[float, float]:
    """The threshold of ``grid`` with the best out-of-fold char-level main metric: (threshold, score)."""
    scored = [(extract_score(records, probs, t), -t) for t in grid]
    best, neg_t = max(scored)
    return -neg_t, best


def train_extractor_kfold(vectors: Sequence[torch.Tensor], records: Sequence[dict], output_dir: str | Path,
                          num_folds: int = 15, folds: Sequence[int] | None = None, hidden_size: int = 384,
                          epochs: int = 20, batch_size: int = 64, learning_rate: float = 1e-3,
                          seed: int = 42, **extractor_kwargs) -> tuple[list[list[float] | None], dict]:
    """Stage C: one extractor per fold (Adam lr 1e-3, masked BCE, constant LR), saved to ``output_dir/fold-k``.

    Returns out-of-fold probabilities per document (None for documents of folds not trained) and
    ``{"threshold", "oof_char_main"}`` chosen on those out-of-fold predictions.
    """
    if len(vectors) != len(records) or not records:
        raise ValueError("need as many clause-vector sets as records, and at least one")
    output_dir = Path(output_dir)
    oof: list[list[float] | None] = [None] * len(records)
    data = _extractor_batches(vectors, records)
    for fold in folds if folds is not None else range(num_folds):
        train_idx, valid_idx = fold_split(len(records), fold, num_folds)
        model = ClauseExtractor(input_size=vectors[0].shape[-1], hidden_size=hidden_size, **extractor_kwargs)
        args = TrainingArguments(output_dir=str(output_dir / f"run-{fold}"), learning_rate=learning_rate,
                                 weight_decay=0.0, batch_size=batch_size, num_epochs=epochs, max_grad_norm=None,
                                 lr_schedule="constant", adam_epsilon=1e-7, seed=seed + fold, log_every=10 ** 9,
                                 resume=False, save_final_checkpoint=False, progress_bar=False)
        trainer = Trainer(model, args, [data[i] for i in train_idx] or data, collate_fn=_extractor_collate,
                          loss_fn=_extractor_loss)
        trainer.train()
        model = trainer.unwrapped_model.cpu()
        for i, p in zip(valid_idx, predict_probs(model, [vectors[i] for i in valid_idx])):
            oof[i] = p
        model.save_pretrained(output_dir / f"fold-{fold}")
    done = [i for i, p in enumerate(oof) if p is not None]
    threshold, score = choose_threshold([records[i] for i in done], [oof[i] for i in done])
    return oof, {"threshold": threshold, "oof_char_main": score}


def seq2seq_records(records: Sequence[dict], probs: Sequence[Sequence[float] | None], threshold: float) -> list[dict]:
    """Stage D: {"source_1": predicted extract, "source_2": oracle extract, "target": summary} per document;
    documents without an out-of-fold prediction use the oracle extract for both."""
    out = []
    for r, p in zip(records, probs):
        oracle = "".join(r["clauses"][j] for j in r["labels"])
        predicted = select_clauses(r["clauses"], p, threshold) if p is not None else oracle
        out.append({"source_1": predicted or oracle, "source_2": oracle, "target": r["summary"]})
    return out


def clause_target_records(records: Sequence[dict], max_chars: int = 32) -> list[dict]:
    """Extractive auxiliary pairs for training a generator from random weights: source = the whole text, target =
    its clause with the best char-level main ROUGE against the reference (trailing punctuation dropped, at most
    ``max_chars``). They teach the generator to find and copy a salient span of its source, which a small model
    without pretraining does not learn from a few thousand abstractive pairs alone."""
    out = []
    for r in records:
        clauses = [c.rstrip(CLAUSE_SEPS) for c in r["clauses"]]
        scored = [(rouge(c, r["summary"], "char")["main"], -i) for i, c in enumerate(clauses) if c.strip()]
        if not scored:
            continue
        best = clauses[-max(scored)[1]][:max_chars]
        out.append({"source_1": "".join(r["clauses"]), "source_2": None, "target": best})
    return out


def train_generator(model: SpacesForSummary, tokenizer, records: Sequence[dict], args: TrainingArguments,
                    maxlen: int = 1024, noise: float = 0.15, k_sparse: int | None = K_SPARSE,
                    eval_fn: Callable | None = None) -> Trainer:
    """Stage E: train with sparse softmax (top ``k_sparse``; None = full softmax) + 2 * copy loss on noisy
    inputs, with EMA when ``args.ema_decay`` is set."""
    dataset = Seq2SeqDataset(records, tokenizer, maxlen=maxlen, noise=noise, train=True, seed=args.seed)
    trainer = Trainer(model, args, dataset, collate_fn=lambda s: collate(s, tokenizer.pad_id or 0),
                      loss_fn=partial(generator_loss, k_sparse=k_sparse), eval_fn=eval_fn)
    trainer.train()
    return trainer
