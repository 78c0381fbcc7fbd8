"""Tiny training run used by tests/zoo/test_training.py; runs alone or under ``accelerate launch``.

Writes ``OUT/final/model.safetensors`` (EMA weights when ``--ema`` is given). With the environment variable
``ZOO_TEST_KILL_AT=N`` the process SIGKILLs itself when optimizer step N starts, to test resuming.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from zoo.training import Trainer, TrainingArguments  # noqa: E402

VOCAB, CLASSES = 40, 5


class Tiny(nn.Module):
    """Embedding -> mean -> LayerNorm -> dropout -> linear classifier (plus an unused layer)."""

    def __init__(self, hidden: int = 16, dropout: float = 0.1):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, hidden)
        self.ln = nn.LayerNorm(hidden)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, CLASSES)
        self.pooler = nn.Linear(hidden, hidden)  # unused by the loss, like a pooler under an LM loss (DDP must cope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.ln(self.emb(x).mean(1))))


def make_examples(n: int = 37, length: int = 6) -> list[dict]:
    g = torch.Generator().manual_seed(1234)
    x = torch.randint(0, VOCAB, (n, length), generator=g)
    y = x.sum(1) % CLASSES
    return [{"x": x[i], "y": y[i]} for i in range(n)]


def make_dataset(kind: str, n: int):
    examples = make_examples(n)
    if kind == "list":
        return examples
    import datasets

    ds = datasets.Dataset.from_dict({"x": [e["x"].tolist() for e in examples], "y": [int(e["y"]) for e in examples]})
    ds = ds.with_format("torch")
    return ds.to_iterable_dataset() if kind == "iterable" else ds


def loss_fn(model: nn.Module, batch: dict) -> torch.Tensor:
    return nn.functional.cross_entropy(model(batch["x"]), batch["y"])


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--data", default="list", choices=["list", "hf", "iterable"])
    p.add_argument("--examples", type=int, default=37)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--accum", type=int, default=1)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--warmup", type=int, default=0)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--ema", type=float, default=None)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--save-every", type=int, default=None)
    p.add_argument("--mixed-precision", default="no")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> Trainer:
    a = parse(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = Tiny(dropout=a.dropout)
    args = TrainingArguments(output_dir=a.out, learning_rate=a.lr, batch_size=a.batch_size,
                             gradient_accumulation_steps=a.accum, num_epochs=a.epochs, max_steps=a.max_steps,
                             warmup_steps=a.warmup, ema_decay=a.ema, save_every=a.save_every, log_every=2,
                             mixed_precision=a.mixed_precision, cpu=True, progress_bar=False)
    kill_at = int(os.environ.get("ZOO_TEST_KILL_AT", "0"))
    trainer: Trainer

    def loss_with_kill_hook(model: nn.Module, batch: dict) -> torch.Tensor:
        if kill_at and trainer.state.global_step + 1 == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return loss_fn(model, batch)

    trainer = Trainer(model, args, make_dataset(a.data, a.examples), loss_fn=loss_with_kill_hook)
    result = trainer.train()
    trainer.save_model(Path(a.out) / "final")
    if trainer.is_main_process:
        print(json.dumps({"global_step": result["global_step"], "loss": result["loss"],
                          "num_processes": trainer.accelerator.num_processes}))
    return trainer


if __name__ == "__main__":
    # destroy the process group before exit: left to interpreter teardown, gloo's threads can abort the process
    # ("terminate called without an active exception") after a run that succeeded
    main().accelerator.end_training()
