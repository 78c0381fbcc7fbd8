"""Train the ape210k UniLM seq2seq solver (bert4keras' ape210k example) on the zoo training frame.

From scratch (a small BERT-shaped model over the simplified Google Chinese vocab) or from any BERT-family
checkpoint the core loads (`--init`, vocab simplified with keep_tokens as the original). A seeded slice of the
first data file is held out as the dev set (ids in OUTPUT/dev_ids.txt). The final model goes to OUTPUT/final; with
--eval-every, the best dev model so far (greedy accuracy) also to OUTPUT/best.

    python scripts/train_mathwp.py --output runs/mathwp --epochs 20 --learning-rate 5e-4
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

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
    p.add_argument("--preset", default="small",
                   help="model size from scratch (mathwp.presets: tiny, default, small, base)")
    p.add_argument("--hidden", type=int, default=None, help="override the preset's hidden size")
    p.add_argument("--layers", type=int, default=None)
    p.add_argument("--heads", type=int, default=None)
    p.add_argument("--intermediate", type=int, default=None)
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


def build_model(args: argparse.Namespace, tokenizer, keep_tokens):
    """A from-scratch ZooForLM (UniLM attention) of the chosen preset, or a loaded checkpoint with the vocab
    simplified."""
    import zoo

    from mathwp.presets import model_config

    if args.init:
        return zoo.from_pretrained(args.init, head="mlm", attention="unilm", keep_tokens=keep_tokens)
    return zoo.ZooForLM(model_config(len(tokenizer), args.preset, args.maxlen, args.dropout,
                                     hidden_size=args.hidden, num_hidden_layers=args.layers,
                                     num_attention_heads=args.heads, intermediate_size=args.intermediate))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from datasets import Dataset
    from zoo.training import Trainer, TrainingArguments

    from mathwp import Solver
    from mathwp.data import prepared, read_problems
    from mathwp.seq2seq import collate_bucket, unilm_loss
    from mathwp.training import build_tokenizer, dev_accuracy, split_dev, training_buckets

    first = read_problems(args.data[0])
    train_problems, dev = split_dev(first, args.dev_size, args.seed)
    for path in args.data[1:]:
        train_problems += read_problems(path)
    tokenizer, keep_tokens = build_tokenizer(args.vocab, args.init, args.number_placeholders)
    samples = [s for _, s in prepared(train_problems)]
    buckets, tokenizer = training_buckets(samples, tokenizer, args.maxlen, args.batch_size, args.seed,
                                          args.number_placeholders, trim=args.trim_vocab and not args.init)
    train_set = Dataset.from_list(buckets)
    dev_samples = [(p, s) for p, s in prepared(dev)][: args.dev_eval_size]
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "dev_ids.txt").write_text("\n".join(p.id for p in dev) + "\n", encoding="utf-8")
    print(f"train {len(samples)} samples, vocab {len(tokenizer)}, dev {len(dev_samples)} (of {len(dev)} held out)", file=sys.stderr)

    model = build_model(args, tokenizer, keep_tokens)
    solver = Solver(model, tokenizer, maxlen=args.maxlen, number_placeholders=args.number_placeholders)
    best = {"accuracy": -1.0}

    def eval_fn(m) -> dict:
        """Greedy dev accuracy; the best (>=) model so far is saved to OUTPUT/best."""
        was_training = m.training
        start = time.time()
        accuracy = dev_accuracy(solver, dev_samples)
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
