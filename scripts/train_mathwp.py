"""Train the ape210k UniLM seq2seq solver (spec §4.3) on the zoo training frame.

From scratch (a small BERT-shaped model over the simplified Google Chinese vocab) or from any BERT-family
checkpoint the core loads (`--init`, vocab simplified with keep_tokens as the original). A seeded slice of the
first data file is held out as the dev set (ids in OUTPUT/dev_ids.txt). The final model goes to OUTPUT/final; with
--eval-every, the best dev model so far (greedy accuracy) also to OUTPUT/best.

    python scripts/train_mathwp.py --output runs/mathwp --epochs 20 --learning-rate 5e-4
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import torch

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
DEFAULT_DATA = [SHARED / "data" / "ape210k" / "valid.ape.json", SHARED / "data" / "math23k" / "math23k_trainpool.jsonl"]
DEFAULT_VOCAB = SHARED / "vocab" / "derived" / "ape210k_simplified_vocab.txt"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", type=Path, default=DEFAULT_DATA, help="ape210k/Math23K JSON-lines files")
    p.add_argument("--dev-size", type=int, default=500, help="problems of the first file held out for dev")
    p.add_argument("--dev-eval-size", type=int, default=None, help="dev problems scored during training (default all)")
    p.add_argument("--vocab", type=Path, default=DEFAULT_VOCAB, help="vocab for a from-scratch model")
    p.add_argument("--init", default=None, help="BERT-family checkpoint (folder/hub id) to fine-tune instead")
    p.add_argument("--number-placeholders", action="store_true",
                   help="from scratch: the model reads/writes question numbers as [n0], [n1], ... tokens")
    p.add_argument("--no-trim-vocab", dest="trim_vocab", action="store_false",
                   help="from scratch: keep the whole vocab (default: only tokens of the training data + digits)")
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--intermediate", type=int, default=1024)
    p.add_argument("--maxlen", type=int, default=192)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=5e-4)
    p.add_argument("--warmup-steps", type=int, default=300)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--ema-decay", type=float, default=None)
    p.add_argument("--eval-every", type=int, default=None,
                   help="steps between dev evaluations that keep the best model in OUTPUT/best (default: none)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--device", default="cpu")
    return p.parse_args(argv)


def split(problems: list, dev_size: int, seed: int) -> tuple[list, list]:
    """Seeded (train, dev) split: dev_size problems of `problems` held out."""
    order = list(range(len(problems)))
    random.Random(seed).shuffle(order)
    dev = set(order[:dev_size])
    return [p for i, p in enumerate(problems) if i not in dev], [p for i, p in enumerate(problems) if i in dev]


def build_model(args: argparse.Namespace, tokenizer):
    """A from-scratch ZooForLM (UniLM attention) or a loaded checkpoint with the vocab simplified."""
    import zoo

    if args.init:
        return zoo.from_pretrained(args.init, head="mlm", attention="unilm", keep_tokens=args.keep_tokens)
    config = zoo.ZooConfig(
        vocab_size=len(tokenizer), hidden_size=args.hidden, num_hidden_layers=args.layers,
        num_attention_heads=args.heads, intermediate_size=args.intermediate,
        max_position_embeddings=max(256, args.maxlen + 64), type_vocab_size=2, hidden_act="gelu",
        attention="unilm", pad_token_id=0, hidden_dropout_prob=args.dropout,
        attention_probs_dropout_prob=args.dropout,
    )  # fmt: skip
    return zoo.ZooForLM(config)


def load_vocab_for(args: argparse.Namespace):
    """Tokenizer over the training vocab; with --init, the checkpoint's vocab simplified (4 specials)."""
    from zoo.tokenization import load_vocab, simplify_vocab

    from mathwp.seq2seq import PLACEHOLDERS, SPECIALS, load_tokenizer

    args.keep_tokens = None
    if not args.init:
        vocab = load_vocab(args.vocab)
        if args.number_placeholders:
            vocab.update({t: len(vocab) + i for i, t in enumerate(PLACEHOLDERS) if t not in vocab})
        return load_tokenizer(vocab, args.number_placeholders)
    from huggingface_hub import snapshot_download

    folder = Path(args.init) if Path(args.init).is_dir() else Path(snapshot_download(args.init))
    full = load_vocab(folder / "vocab.txt")
    if args.number_placeholders and not all(t in full for t in PLACEHOLDERS):
        raise ValueError("--number-placeholders with --init needs a checkpoint whose vocab has [n0]..[n19] "
                         "(e.g. the base from scripts/pretrain_base.py)")
    keep = SPECIALS + PLACEHOLDERS if args.number_placeholders else SPECIALS
    vocab, args.keep_tokens = simplify_vocab(full, startswith=keep)
    return load_tokenizer(vocab, args.number_placeholders)


def trim_vocab(tokenizer, encoded: list[list[int]], number_placeholders: bool):
    """Keep the specials, every token the training data uses, the digit pieces (so any number still
    tokenizes) and the placeholders; unused rows would stay random in a from-scratch model. Training encodings
    are unchanged."""
    from mathwp.seq2seq import PLACEHOLDERS, load_tokenizer

    keep = set(range(4)) | {i for ids in encoded for i in ids}
    keep |= set(tokenizer.tokens_to_ids([*"0123456789.", *(f"##{d}" for d in "0123456789")]))
    if number_placeholders:
        keep |= set(tokenizer.tokens_to_ids(PLACEHOLDERS))
    tokens = [tokenizer.id_to_token(i) for i in sorted(keep)]
    return load_tokenizer({t: i for i, t in enumerate(tokens)}, number_placeholders)


def mask_sample(sample: tuple[str, str, str]) -> tuple[str, str, str]:
    """(question, expression, answer) with the question's numbers as placeholders in question and expression."""
    from mathwp.seq2seq import mask_expression, mask_numbers

    question, numbers = mask_numbers(sample[0])
    return question, mask_expression(sample[1], numbers), sample[2]


def encode_all(tokenizer, samples: list, maxlen: int) -> dict[str, list]:
    """input_ids / token_type_ids columns of "[CLS] question [SEP] expression [SEP]"."""
    from mathwp.seq2seq import encode_pair

    features = {"input_ids": [], "token_type_ids": []}
    for question, expression, _ in samples:
        ids, segs = encode_pair(tokenizer, question, expression, maxlen)
        features["input_ids"].append(ids)
        features["token_type_ids"].append(segs)
    return features


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from datasets import Dataset
    from zoo.training import Trainer, TrainingArguments

    from mathwp import Solver
    from mathwp.data import prepared, read_problems
    from mathwp.seq2seq import collate_bucket, length_buckets, unilm_loss

    first = read_problems(args.data[0])
    train_problems, dev = split(first, args.dev_size, args.seed)
    for path in args.data[1:]:
        train_problems += read_problems(path)
    tokenizer = load_vocab_for(args)
    samples = [s for _, s in prepared(train_problems)]
    if args.number_placeholders:
        samples = [mask_sample(s) for s in samples]
    features = encode_all(tokenizer, samples, args.maxlen)
    if args.trim_vocab and not args.init:
        tokenizer = trim_vocab(tokenizer, features["input_ids"], args.number_placeholders)
        features = encode_all(tokenizer, samples, args.maxlen)
    rows = [dict(zip(features, values)) for values in zip(*features.values())]
    train_set = Dataset.from_list(length_buckets(rows, args.batch_size, args.seed))
    dev_samples = [(p, s) for p, s in prepared(dev)][: args.dev_eval_size]
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "dev_ids.txt").write_text("\n".join(p.id for p in dev) + "\n", encoding="utf-8")
    print(f"train {len(samples)} samples, vocab {len(tokenizer)}, dev {len(dev_samples)} (of {len(dev)} held out)", file=sys.stderr)

    model = build_model(args, tokenizer)
    solver = Solver(model, tokenizer, maxlen=args.maxlen, number_placeholders=args.number_placeholders)
    best = {"accuracy": -1.0}

    def eval_fn(m) -> dict:
        """Greedy dev accuracy; the best (>=) model so far is saved to OUTPUT/best."""
        from mathwp.safe_math import is_equal, safe_eval

        was_training = m.training
        start = time.time()
        results = solver.solve([s[0] for _, s in dev_samples], batch_size=64)
        correct = sum(r.value is not None and is_equal(r.value, safe_eval(s[2])) for r, (_, s) in zip(results, dev_samples))
        accuracy = correct / max(1, len(dev_samples))
        if accuracy >= best["accuracy"]:
            best["accuracy"] = accuracy
            solver.save_pretrained(args.output / "best")
        m.train(was_training)
        metrics = {"dev_accuracy": accuracy, "best_dev_accuracy": best["accuracy"], "eval_s": time.time() - start}
        print(json.dumps(metrics), file=sys.stderr, flush=True)
        return metrics

    targs = TrainingArguments(
        output_dir=str(args.output), learning_rate=args.learning_rate, weight_decay=args.weight_decay,
        batch_size=1, max_steps=args.max_steps, num_epochs=args.epochs, warmup_steps=args.warmup_steps,
        ema_decay=args.ema_decay, seed=args.seed, log_every=50, eval_every=args.eval_every,
        save_every=len(train_set), cpu=args.device == "cpu",
    )  # fmt: skip  (batch_size=1: each dataset row is a length bucket of --batch-size examples)
    trainer = Trainer(model.to(args.device), targs, train_set, collate_fn=collate_bucket, loss_fn=unilm_loss,
                      eval_fn=eval_fn if args.eval_every else None)  # fmt: skip
    result = trainer.train()
    with trainer.ema_applied() as final:
        Solver(final, tokenizer, maxlen=args.maxlen, number_placeholders=args.number_placeholders).save_pretrained(
            args.output / "final"
        )
    summary = {"steps": result["global_step"], "train_loss": result["loss"], "final": str(args.output / "final")}
    if args.eval_every:
        summary["best_dev_accuracy"] = best["accuracy"]
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
