"""Training frame: the one loop helper every nlpzoo training script uses, built on `accelerate`.

Features: mixed precision, gradient accumulation, AdamW whose weight decay skips normalisation layers (by module
type and by name) and all biases, linear warm-up then linear decay (or constant), optional EMA of the weights
(what evaluation sees and :meth:`Trainer.save_model` writes), gradient clipping, a periodic evaluation hook, tqdm
progress and a ``log.jsonl``, and checkpoints that survive a kill mid-run: each one is written to a temporary
folder, fsynced, renamed, and then ``output_dir/checkpoint-last`` (a symlink) is switched to it atomically.
Each checkpoint carries the SHA-256 of its files (``checksums.json``); the last two are kept while training (only
the final one once the run is complete), and resuming verifies the checksums first, falling back to the previous
checkpoint with a warning when the newest is damaged.
Resuming restores weights, optimizer, scheduler, EMA, grad scaler, every process's RNG states and the position in
the seeded data order, so a killed and resumed run ends with the same weights as an uninterrupted one.

Data order: one seeded permutation per epoch (``seed + epoch``) over the whole dataset; each micro-step takes the
next ``batch_size * num_processes`` examples and process ``r`` gets the ``r``-th slice, so a run on 2 processes
sees exactly the examples of a 1-process run with twice the batch size. A last partial chunk is split evenly
between processes (a remainder smaller than the number of processes is dropped) or dropped with ``drop_last``.
The last accumulation window of an epoch may hold fewer micro-batches; its loss is averaged over those.
Exact replay of randomness drawn while loading data (dataset ``__getitem__``, ``collate_fn``) needs
``num_workers=0``; iterables are always read in the main process.
Iterables (a ``datasets.IterableDataset``, a torch ``IterableDataset``, a generator) are read in order; they need
``max_steps`` and, resumed, are re-read from the start and skipped to the saved position.

Scripts run unchanged under ``accelerate launch`` (DDP, one machine or several with a shared ``output_dir``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import re
import shutil
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from zoo.ema import ExponentialMovingAverage

__all__ = ["TrainingArguments", "Trainer", "TrainerState", "parameter_groups", "lr_lambda", "verify_checkpoint"]

logger = logging.getLogger(__name__)

CHECKPOINT_LINK = "checkpoint-last"
CHECKSUMS = "checksums.json"
_CHECKPOINT_RE = re.compile(r"^checkpoint-\d{8}$")
_STATE_VERSION = 1
_MIXED_PRECISION = ("no", "fp16", "bf16")
_SCHEDULES = ("linear", "constant")
_NORM_TYPES: tuple[type, ...] = tuple(
    t
    for t in (
        nn.LayerNorm,
        nn.GroupNorm,
        nn.modules.batchnorm._NormBase,
        getattr(nn, "RMSNorm", None),
        nn.LocalResponseNorm,
    )
    if t is not None
)


def _check_int(name: str, value: Any, minimum: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = f"an int >= {minimum}" + (" or None" if optional else "")
        raise ValueError(f"TrainingArguments.{name} must be {kind}, got {value!r}")


def _check_float(name: str, value: Any, low: float, high: float = math.inf, *, open_low: bool = False,
                 optional: bool = False) -> None:
    if value is None and optional:
        return
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    ok = ok and (value > low if open_low else value >= low) and value < high if ok else False
    if not ok:
        bound = f"{'>' if open_low else '>='} {low}" + (f" and < {high}" if high != math.inf else "")
        raise ValueError(f"TrainingArguments.{name} must be a finite number {bound}"
                         + (" or None" if optional else "") + f", got {value!r}")


@dataclass
class TrainingArguments:
    """Options of :class:`Trainer`. ``batch_size`` is per process; a "step" is one optimizer update.

    ``max_steps`` (when set) overrides ``num_epochs`` and cycles through the data; ``warmup_steps`` ramps the
    learning rate linearly from 0, then ``lr_schedule`` "linear" decays it to 0 at the last step or "constant"
    keeps it. ``adam_epsilon`` defaults to bert4keras's 1e-6. ``cpu`` forces the CPU even with a GPU.
    """

    output_dir: str | os.PathLike
    learning_rate: float = 2e-5
    weight_decay: float = 0.01
    batch_size: int = 16
    gradient_accumulation_steps: int = 1
    max_steps: int | None = None
    num_epochs: int = 1
    warmup_steps: int = 0
    max_grad_norm: float | None = 1.0
    ema_decay: float | None = None
    mixed_precision: str = "no"
    seed: int = 42
    log_every: int = 50
    eval_every: int | None = None
    save_every: int | None = None
    lr_schedule: str = "linear"
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_epsilon: float = 1e-6
    shuffle: bool = True
    drop_last: bool = False
    num_workers: int = 0
    resume: bool = True
    save_final_checkpoint: bool = True
    cpu: bool = False
    progress_bar: bool = True
    find_unused_parameters: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.output_dir, (str, os.PathLike)) or not str(self.output_dir):
            raise ValueError(f"TrainingArguments.output_dir must be a non-empty path, got {self.output_dir!r}")
        _check_float("learning_rate", self.learning_rate, 0.0, open_low=True)
        _check_float("weight_decay", self.weight_decay, 0.0)
        _check_int("batch_size", self.batch_size, 1)
        _check_int("gradient_accumulation_steps", self.gradient_accumulation_steps, 1)
        _check_int("max_steps", self.max_steps, 1, optional=True)
        _check_int("num_epochs", self.num_epochs, 1)
        _check_int("warmup_steps", self.warmup_steps, 0)
        _check_float("max_grad_norm", self.max_grad_norm, 0.0, open_low=True, optional=True)
        _check_float("ema_decay", self.ema_decay, 0.0, 1.0, optional=True)
        _check_int("seed", self.seed, 0)
        _check_int("log_every", self.log_every, 1)
        _check_int("eval_every", self.eval_every, 1, optional=True)
        _check_int("save_every", self.save_every, 1, optional=True)
        _check_int("num_workers", self.num_workers, 0)
        _check_float("adam_epsilon", self.adam_epsilon, 0.0, open_low=True)
        if self.mixed_precision not in _MIXED_PRECISION:
            raise ValueError(f"TrainingArguments.mixed_precision must be one of {_MIXED_PRECISION}, "
                             f"got {self.mixed_precision!r}")
        if self.lr_schedule not in _SCHEDULES:
            raise ValueError(f"TrainingArguments.lr_schedule must be one of {_SCHEDULES}, got {self.lr_schedule!r}")
        betas = tuple(self.adam_betas) if isinstance(self.adam_betas, (tuple, list)) else ()
        if len(betas) != 2:
            raise ValueError(f"TrainingArguments.adam_betas must be two numbers in [0, 1), got {self.adam_betas!r}")
        for b in betas:
            _check_float("adam_betas", b, 0.0, 1.0)
        self.adam_betas = (float(betas[0]), float(betas[1]))


@dataclass
class TrainerState:
    """Where training stands: optimizer steps done, epoch, examples of this epoch consumed (all processes)."""

    global_step: int = 0
    epoch: int = 0
    examples_seen: int = 0
    history: list[dict] = field(default_factory=list)


# ---------------------------------------------------------------- optimizer and schedule


def _is_norm(module: nn.Module) -> bool:
    return isinstance(module, _NORM_TYPES) or "norm" in type(module).__name__.lower()


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: decay for weights; none for biases and for parameters of normalisation layers.

    A parameter is excluded when its module is a normalisation layer (torch norm types, or any class whose name
    contains "Norm"), or its name contains "bias" or "norm" (bert4keras: names containing Norm or bias).
    Frozen parameters are left out; a parameter shared by several modules appears once.
    """
    decay, no_decay, seen = [], [], set()
    for module_name, module in model.named_modules():
        norm = _is_norm(module)
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            full = f"{module_name}.{name}".lower()
            (no_decay if norm or "bias" in full or "norm" in full else decay).append(p)
    if not decay and not no_decay:
        raise ValueError("the model has no trainable parameters")
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def lr_lambda(step: int, warmup_steps: int, total_steps: int, schedule: str = "linear") -> float:
    """LR multiplier: ``step / warmup`` during warm-up, then constant or linear decay to 0 at ``total_steps``."""
    if step < warmup_steps:
        return step / warmup_steps
    if schedule == "constant":
        return 1.0
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


# ---------------------------------------------------------------- data order


def _is_map_style(dataset: Any) -> bool:
    if isinstance(dataset, torch.utils.data.IterableDataset):
        return False
    return hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")


def _rank_slice(n: int, batch_size: int, rank: int, world: int, drop_last: bool) -> slice | None:
    """This process's part of a global chunk of ``n`` examples, or None when the chunk yields no batch."""
    if n == batch_size * world:
        return slice(rank * batch_size, (rank + 1) * batch_size)
    per = 0 if drop_last else n // world
    return slice(rank * per, (rank + 1) * per) if per else None


def _micro_batches_per_epoch(n: int, batch_size: int, world: int, drop_last: bool) -> int:
    full, rest = divmod(n, batch_size * world)
    return full + int(_rank_slice(rest, batch_size, 0, world, drop_last) is not None) if rest else full


def _chunks(iterable: Iterable, size: int) -> Iterator[list]:
    it = iter(iterable)
    while chunk := list(islice(it, size)):
        yield chunk


# ---------------------------------------------------------------- files


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _torch_save(obj: Any, path: Path) -> None:
    torch.save(obj, path)
    _fsync(path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as reader:
        for block in iter(lambda: reader.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_checksums(folder: Path) -> None:
    sums = {p.name: _sha256(p) for p in sorted(folder.iterdir()) if p.is_file() and p.name != CHECKSUMS}
    path = folder / CHECKSUMS
    path.write_text(json.dumps(sums, indent=2), encoding="utf-8")
    _fsync(path)


def verify_checkpoint(folder: str | os.PathLike) -> str | None:
    """Why the training checkpoint ``folder`` cannot be resumed from (missing or changed files), or None if it
    can. A checkpoint written before checksums existed is accepted when its trainer_state.json reads."""
    folder = Path(folder)
    if not folder.is_dir():
        return f"{folder} is missing"
    try:
        json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return f"{folder / 'trainer_state.json'} is unreadable ({type(err).__name__})"
    if not (folder / CHECKSUMS).is_file():
        return None
    try:
        sums = json.loads((folder / CHECKSUMS).read_text(encoding="utf-8"))
        if not isinstance(sums, dict):
            raise ValueError("not an object")
    except (OSError, ValueError) as err:
        return f"{folder / CHECKSUMS} is unreadable ({type(err).__name__})"
    for name, expected in sums.items():
        path = folder / str(name)
        if Path(str(name)).name != name or not path.is_file():
            return f"{path} is missing"
        if _sha256(path) != expected:
            return f"{path} does not match its checksum"
    return None


def _checkpoint_step(path: Path) -> int:
    return int(path.name.rsplit("-", 1)[1])


def _torch_load(path: Path) -> Any:
    return torch.load(path, map_location="cpu", weights_only=True)


def _rng_state() -> dict:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": random.getstate(), "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss,
                                                    cached), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _record_step(line: str) -> int | None:
    """The step of a ``log.jsonl`` line; None for a blank or torn line (a kill mid-write)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record.get("step", 0) if isinstance(record, dict) else None


def _default_loss(model: nn.Module, batch: Any) -> torch.Tensor:
    if not isinstance(batch, Mapping):
        raise ValueError("without loss_fn the batch must be a mapping passed as model(**batch) whose output has "
                         f"a .loss; got a {type(batch).__name__}: pass loss_fn=lambda model, batch: loss")
    out = model(**batch)
    loss = out.get("loss") if isinstance(out, Mapping) else getattr(out, "loss", None)
    if loss is None:
        raise ValueError("the model output has no loss: pass loss_fn=lambda model, batch: loss")
    return loss


# ---------------------------------------------------------------- trainer


class Trainer:
    """Train ``model`` on ``train_dataset`` with ``loss_fn(model, batch) -> scalar loss``.

    ``collate_fn`` turns a list of examples into a batch (default: torch's ``default_collate``); the batch is moved
    to the device. ``loss_fn`` receives the prepared model (DDP-wrapped under several processes): call it, and use
    :attr:`unwrapped_model` for anything else. ``eval_fn(model) -> dict`` gets the unwrapped model in eval mode with
    EMA weights (when on), under ``torch.no_grad``, every ``eval_every`` steps and at the end, on every process.
    """

    def __init__(self, model: nn.Module, args: TrainingArguments, train_dataset: Any,
                 collate_fn: Callable[[list], Any] | None = None,
                 loss_fn: Callable[[nn.Module, Any], torch.Tensor] | None = None,
                 eval_fn: Callable[[nn.Module], Mapping[str, Any]] | None = None):
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs

        if not isinstance(args, TrainingArguments):
            raise ValueError(f"args must be a TrainingArguments, got {type(args).__name__}")
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if train_dataset is None or isinstance(train_dataset, (str, bytes, Mapping)):
            raise ValueError("train_dataset must be a map-style dataset (len + indexing) or an iterable of "
                             f"examples, got {type(train_dataset).__name__}")
        for name, fn in (("collate_fn", collate_fn), ("loss_fn", loss_fn), ("eval_fn", eval_fn)):
            if fn is not None and not callable(fn):
                raise ValueError(f"{name} must be callable, got {type(fn).__name__}")
        self.args = args
        self.train_dataset = train_dataset
        self.collate_fn = collate_fn or torch.utils.data.default_collate
        self.loss_fn = loss_fn or _default_loss
        self.eval_fn = eval_fn
        self.output_dir = Path(args.output_dir)
        # find_unused_parameters: models with parts a loss does not use (e.g. a pooler under an LM loss) under DDP
        ddp = DistributedDataParallelKwargs(find_unused_parameters=args.find_unused_parameters)
        self.accelerator = Accelerator(mixed_precision=args.mixed_precision, cpu=args.cpu, kwargs_handlers=[ddp])
        self.state = TrainerState()
        self.total_steps = self._total_steps()

        optimizer = torch.optim.AdamW(parameter_groups(model, args.weight_decay), lr=args.learning_rate,
                                      betas=args.adam_betas, eps=args.adam_epsilon)
        total, warmup, schedule = self.total_steps, args.warmup_steps, args.lr_schedule
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_lambda(s, warmup, total, schedule))
        self.model, self.optimizer = self.accelerator.prepare(model, optimizer)
        ema = args.ema_decay is not None
        self.ema = ExponentialMovingAverage(self.unwrapped_model, args.ema_decay) if ema else None
        self._last_saved = self._last_eval = -1

    # ------------------------------------------------------------ public helpers

    @property
    def unwrapped_model(self) -> nn.Module:
        return self.accelerator.unwrap_model(self.model)

    @property
    def is_main_process(self) -> bool:
        return self.accelerator.is_main_process

    @property
    def history(self) -> list[dict]:
        return self.state.history

    @contextmanager
    def ema_applied(self) -> Iterator[nn.Module]:
        """The unwrapped model, with EMA weights in it while inside the block when EMA is on."""
        with self.ema.applied() if self.ema is not None else nullcontext():
            yield self.unwrapped_model

    def evaluate(self) -> dict[str, Any]:
        """Run ``eval_fn`` on the (EMA) model in eval mode; returns its metrics ({} without eval_fn)."""
        if self.eval_fn is None:
            return {}
        with self.ema_applied() as model:
            was_training = model.training
            model.eval()
            try:
                with torch.no_grad():
                    metrics = self.eval_fn(model)
            finally:
                model.train(was_training)
        if not isinstance(metrics, Mapping):
            raise ValueError(f"eval_fn must return a dict of metrics, got {type(metrics).__name__}")
        self._last_eval = self.state.global_step
        self._log({"step": self.state.global_step, **{f"eval_{k}": v for k, v in metrics.items()}})
        return dict(metrics)

    def save_model(self, folder: str | os.PathLike) -> None:
        """Write the (EMA) weights to ``folder``: ``save_pretrained`` when the model has it, else
        ``model.safetensors``. Only the main process writes; call it on every process."""
        if not self.is_main_process:
            return
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with self.ema_applied() as model:
            if hasattr(model, "save_pretrained"):
                model.save_pretrained(folder)
            else:
                from safetensors.torch import save_model

                save_model(model, str(folder / "model.safetensors"))

    # ------------------------------------------------------------ training loop

    def train(self) -> dict[str, Any]:
        """Train to ``max_steps`` (or ``num_epochs``), resuming from ``output_dir/checkpoint-last`` if present.

        Returns ``{"global_step", "loss", "metrics"}`` (loss: mean training loss of this call's steps).
        """
        from accelerate.utils import set_seed
        from tqdm.auto import tqdm

        args, acc, state = self.args, self.accelerator, self.state
        if not (args.resume and self._resume()):
            set_seed(args.seed, device_specific=True)
        start = state.global_step
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        bar = tqdm(total=self.total_steps, initial=state.global_step, desc="train", dynamic_ncols=True,
                   disable=not (args.progress_bar and acc.is_main_process))
        loss_sum = torch.zeros((), device=acc.device)
        window_sum, window_n = torch.zeros((), device=acc.device), 0
        try:
            while state.global_step < self.total_steps:
                stepped = False
                for window in _chunks(self._epoch_batches(state.epoch, state.examples_seen),
                                      args.gradient_accumulation_steps):
                    loss = self._train_step([b for b, _ in window])
                    stepped = True
                    loss_sum += loss
                    window_sum, window_n = self._after_step(window, loss, window_sum, window_n, bar)
                    if state.global_step >= self.total_steps:
                        break
                else:
                    if not stepped and state.examples_seen == 0:
                        self._end_of_data()
                        break
                    state.epoch += 1
                    state.examples_seen = 0
        finally:
            bar.close()
        metrics = self._finish()
        done = state.global_step - start
        mean = (acc.reduce(loss_sum, "mean").item() / done) if done else float("nan")
        return {"global_step": state.global_step, "loss": mean, "metrics": metrics}

    def _after_step(self, window, loss, window_sum, window_n, bar):
        """Count one optimizer step; log, evaluate and checkpoint on their schedules. Returns the log window."""
        args, state = self.args, self.state
        state.global_step += 1
        state.examples_seen += sum(n for _, n in window)
        window_sum, window_n = window_sum + loss, window_n + 1
        bar.update(1)
        if state.global_step % args.log_every == 0 or state.global_step == self.total_steps:
            self._log_train(window_sum / window_n, bar)
            window_sum, window_n = torch.zeros((), device=self.accelerator.device), 0
        if args.eval_every and state.global_step % args.eval_every == 0:
            self.evaluate()
        if args.save_every and state.global_step % args.save_every == 0:
            self.save_checkpoint()
        return window_sum, window_n

    def _finish(self) -> dict:
        """The final evaluation and checkpoint; a completed run keeps only its final checkpoint."""
        args, acc, state = self.args, self.accelerator, self.state
        metrics = self.evaluate() if self.eval_fn is not None and self._last_eval != state.global_step else {}
        if args.save_final_checkpoint and self._last_saved != state.global_step:
            self.save_checkpoint()
        link = self.output_dir / CHECKPOINT_LINK
        if (acc.is_main_process and state.global_step >= self.total_steps and self._last_saved == state.global_step
                and link.is_symlink() and verify_checkpoint(link) is None):
            self._prune(link.resolve(), keep_previous=False)  # the run is complete: its final checkpoint suffices
        return metrics

    def _end_of_data(self) -> None:
        if self.state.global_step == 0:
            raise ValueError("train_dataset yielded no batch (empty, or fewer examples than processes)")
        warnings.warn(f"train_dataset ran out at step {self.state.global_step} of {self.total_steps} "
                      "(a one-shot iterator cannot be read twice); stopping", stacklevel=3)

    def _train_step(self, batches: list) -> torch.Tensor:
        """One optimizer update over the micro-batches of an accumulation window; returns their mean loss."""
        acc, n = self.accelerator, len(batches)
        from accelerate.utils import send_to_device

        total = torch.zeros((), device=acc.device)
        for i, batch in enumerate(batches):
            with acc.no_sync(self.model) if i < n - 1 else nullcontext():
                with acc.autocast():
                    loss = self.loss_fn(self.model, send_to_device(batch, acc.device))
                self._check_loss(loss)
                acc.backward(loss / n)
            total += loss.detach().float()
        if self.args.max_grad_norm is not None:
            acc.clip_grad_norm_(self.model.parameters(), self.args.max_grad_norm)
        self.optimizer.step()
        if not acc.optimizer_step_was_skipped:
            self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.update()
        return total / n

    def _check_loss(self, loss: Any) -> None:
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1 or not loss.is_floating_point():
            raise ValueError(f"loss_fn must return a scalar float tensor, got {type(loss).__name__}"
                             + (f" of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else ""))
        if not loss.requires_grad:
            raise ValueError("the loss does not require grad: loss_fn must compute it from the model's output")

    def _log_train(self, loss: torch.Tensor, bar: Any) -> None:
        value = self.accelerator.reduce(loss.detach().clone(), "mean").item()
        if not math.isfinite(value):
            raise FloatingPointError(f"training loss is {value} at step {self.state.global_step}")
        lr = self.scheduler.get_last_lr()[0]
        bar.set_postfix(loss=f"{value:.4g}", lr=f"{lr:.3g}")
        self._log({"step": self.state.global_step, "epoch": self.state.epoch, "loss": value, "lr": lr})

    def _log(self, record: dict) -> None:
        self.state.history.append(record)
        if self.is_main_process:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            with open(self.output_dir / "log.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False, default=float) + "\n")
        logger.info("%s", record)

    # ------------------------------------------------------------ data

    def _total_steps(self) -> int:
        args = self.args
        if not _is_map_style(self.train_dataset):
            if args.max_steps is None:
                raise ValueError("train_dataset has no length (an iterable): set TrainingArguments.max_steps")
            return args.max_steps
        n = len(self.train_dataset)
        micro = _micro_batches_per_epoch(n, args.batch_size, self.accelerator.num_processes, args.drop_last)
        if micro == 0:
            raise ValueError(f"train_dataset has {n} examples: not one batch of {args.batch_size} per process on "
                             f"{self.accelerator.num_processes} process(es)"
                             + (" with drop_last" if args.drop_last else ""))
        return args.max_steps or args.num_epochs * math.ceil(micro / args.gradient_accumulation_steps)

    def _epoch_batches(self, epoch: int, skip: int) -> Iterator[tuple[Any, int]]:
        """(batch on this process, examples consumed from the global stream) for one epoch, after ``skip``."""
        args, acc = self.args, self.accelerator
        size, rank, world = args.batch_size * acc.num_processes, acc.process_index, acc.num_processes
        if _is_map_style(self.train_dataset):
            n = len(self.train_dataset)
            gen = torch.Generator().manual_seed(args.seed + epoch)
            order = torch.randperm(n, generator=gen).tolist() if args.shuffle else list(range(n))
            plan = [(chunk[s], len(chunk)) for chunk in _chunks(order[skip:], size)
                    if (s := _rank_slice(len(chunk), args.batch_size, rank, world, args.drop_last)) is not None]
            loader = torch.utils.data.DataLoader(
                self.train_dataset, batch_sampler=[idx for idx, _ in plan], collate_fn=self.collate_fn,
                num_workers=args.num_workers, generator=torch.Generator().manual_seed(args.seed + epoch))
            yield from zip(loader, (used for _, used in plan))
            return
        if hasattr(self.train_dataset, "set_epoch"):
            self.train_dataset.set_epoch(epoch)
        for chunk in _chunks(islice(self.train_dataset, skip, None), size):
            s = _rank_slice(len(chunk), args.batch_size, rank, world, args.drop_last)
            if s is None:
                return
            yield self.collate_fn(chunk[s]), len(chunk)

    # ------------------------------------------------------------ checkpoints

    def save_checkpoint(self) -> Path:
        """Atomically write ``output_dir/checkpoint-XXXXXXXX`` and point ``checkpoint-last`` at it.

        Collective: every process must call it (the training loop does)."""
        acc, out, step = self.accelerator, self.output_dir, self.state.global_step
        final, tmp = out / f"checkpoint-{step:08d}", out / f".checkpoint-{step:08d}.tmp"
        link = out / CHECKPOINT_LINK
        if self._last_saved == step and link.exists() and link.resolve() == final.resolve():
            return final
        acc.wait_for_everyone()
        if acc.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        acc.wait_for_everyone()
        _torch_save(_rng_state(), tmp / f"rng-{acc.process_index}.pt")
        if acc.is_main_process:
            self._write_checkpoint_files(tmp)
        acc.wait_for_everyone()
        if acc.is_main_process:
            _write_checksums(tmp)
            _fsync(tmp)
            self._publish(tmp, final)
        acc.wait_for_everyone()
        self._last_saved = step
        return final

    def _write_checkpoint_files(self, folder: Path) -> None:
        from safetensors.torch import save_file, save_model

        save_model(self.unwrapped_model, str(folder / "model.safetensors"))
        _fsync(folder / "model.safetensors")
        _torch_save(self.optimizer.state_dict(), folder / "optimizer.pt")
        _torch_save(self.scheduler.state_dict(), folder / "scheduler.pt")
        if self.ema is not None:
            save_file(self.ema.state_dict(), str(folder / "ema.safetensors"))
            _fsync(folder / "ema.safetensors")
        if self.accelerator.scaler is not None:
            _torch_save(self.accelerator.scaler.state_dict(), folder / "scaler.pt")
        state = {k: v for k, v in asdict(self.state).items() if k != "history"}
        state.update(version=_STATE_VERSION, num_processes=self.accelerator.num_processes,
                     batch_size=self.args.batch_size, seed=self.args.seed, shuffle=self.args.shuffle,
                     gradient_accumulation_steps=self.args.gradient_accumulation_steps,
                     ema_updates=self.ema.num_updates if self.ema is not None else None)
        path = folder / "trainer_state.json"
        path.write_text(json.dumps(state, indent=2), encoding="utf-8")
        _fsync(path)

    def _publish(self, tmp: Path, final: Path) -> None:
        """Rename the finished folder into place, switch the ``checkpoint-last`` link, drop older checkpoints but
        the previous one."""
        out = self.output_dir
        link, new_link = out / CHECKPOINT_LINK, out / f".{CHECKPOINT_LINK}.tmp"
        if final.exists():  # left by a run killed between this rename and the link switch
            shutil.rmtree(final)
        os.replace(tmp, final)
        if new_link.is_symlink() or new_link.exists():
            new_link.unlink()
        os.symlink(final.name, new_link)
        if link.exists() and not link.is_symlink():
            shutil.rmtree(link)
        os.replace(new_link, link)
        _fsync(out)
        self._prune(final, keep_previous=True)

    def _prune(self, final: Path, keep_previous: bool) -> None:
        """Remove unfinished folders and every checkpoint except ``final`` and (``keep_previous``) the newest one
        before it; checkpoints after ``final`` (left by a damaged run that fell back) go too."""
        older = sorted((p for p in self.output_dir.iterdir() if _CHECKPOINT_RE.match(p.name) and p.is_dir()
                        and not p.is_symlink() and _checkpoint_step(p) < _checkpoint_step(final)),
                       key=_checkpoint_step)
        keep = {final.name} | ({older[-1].name} if keep_previous and older else set())
        for old in self.output_dir.iterdir():
            stale = _CHECKPOINT_RE.match(old.name) or (old.name.startswith(".checkpoint-") and old.name.endswith(".tmp"))
            if stale and old.name not in keep and old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)

    def _resume(self) -> bool:
        """Load ``output_dir/checkpoint-last`` if present (after verifying its checksums; a damaged one falls back
        to the newest older checkpoint that verifies, with a warning); returns whether it did."""
        link = self.output_dir / CHECKPOINT_LINK
        if not link.is_symlink() and not link.exists():
            return False
        newest = link.resolve()
        others = sorted((p for p in self.output_dir.iterdir() if _CHECKPOINT_RE.match(p.name) and p.is_dir()
                         and not p.is_symlink() and p.resolve() != newest), key=_checkpoint_step, reverse=True)
        if _CHECKPOINT_RE.match(newest.name):
            others = [p for p in others if _checkpoint_step(p) < _checkpoint_step(newest)]
        if not link.exists() and not others:
            raise ValueError(f"{link} points to a missing folder ({os.readlink(link)}); remove the link to "
                             "start afresh or restore the checkpoint")
        problems = []
        for candidate in [newest, *others]:
            problem = verify_checkpoint(candidate)
            if problem is None:
                if problems:
                    warnings.warn(f"{'; '.join(problems)}: resuming from the previous checkpoint {candidate.name}",
                                  stacklevel=3)
                self.load_checkpoint(candidate)
                return True
            problems.append(f"checkpoint {candidate.name} is damaged ({problem})")
        raise ValueError(f"no usable checkpoint in {self.output_dir}: {'; '.join(problems)}. Remove them to start "
                         "afresh.")

    def load_checkpoint(self, folder: str | os.PathLike) -> None:
        """Restore weights, optimizer, scheduler, EMA, scaler, RNG states and the data position from ``folder``."""
        from safetensors.torch import load_file, load_model

        folder = Path(folder)
        state_path = folder / "trainer_state.json"
        if not state_path.is_file():
            raise ValueError(f"{folder} is not a training checkpoint (no trainer_state.json)")
        saved = json.loads(state_path.read_text(encoding="utf-8"))
        if saved.get("version") != _STATE_VERSION:
            raise ValueError(f"{folder}: checkpoint version {saved.get('version')!r}, expected {_STATE_VERSION}")
        self._warn_changed(saved)
        load_model(self.unwrapped_model, str(folder / "model.safetensors"), strict=True)
        self.optimizer.load_state_dict(_torch_load(folder / "optimizer.pt"))
        self.scheduler.load_state_dict(_torch_load(folder / "scheduler.pt"))
        if self.ema is not None:
            if (folder / "ema.safetensors").is_file():
                self.ema.load_state_dict(load_file(str(folder / "ema.safetensors")))
                self.ema.num_updates = saved.get("ema_updates") or 0
            else:
                warnings.warn(f"{folder} has no EMA weights: EMA restarts from the checkpoint's weights",
                              stacklevel=3)
                self.ema = ExponentialMovingAverage(self.unwrapped_model, self.args.ema_decay)
        if self.accelerator.scaler is not None and (folder / "scaler.pt").is_file():
            self.accelerator.scaler.load_state_dict(_torch_load(folder / "scaler.pt"))
        self.state.global_step, self.state.epoch = int(saved["global_step"]), int(saved["epoch"])
        self.state.examples_seen = int(saved["examples_seen"])
        self._last_saved = self.state.global_step
        self._trim_log(self.state.global_step)
        rng = folder / f"rng-{self.accelerator.process_index}.pt"
        if rng.is_file():
            _set_rng_state(_torch_load(rng))
        else:
            warnings.warn(f"{rng} missing (different number of processes?): RNG states not restored", stacklevel=3)
        logger.info("resumed from %s at step %d", folder, self.state.global_step)

    def _trim_log(self, step: int) -> None:
        """Drop ``log.jsonl`` records of steps after the checkpoint (they are trained again)."""
        path = self.output_dir / "log.jsonl"
        if not self.is_main_process or not path.is_file():
            return
        lines = path.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if (s := _record_step(line)) is not None and s <= step]
        if len(kept) != len(lines):
            path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")

    def _warn_changed(self, saved: dict) -> None:
        now = {"num_processes": self.accelerator.num_processes, "batch_size": self.args.batch_size,
               "seed": self.args.seed, "shuffle": self.args.shuffle,
               "gradient_accumulation_steps": self.args.gradient_accumulation_steps}
        changed = {k: (saved.get(k), v) for k, v in now.items() if saved.get(k) != v}
        if changed:
            warnings.warn(f"resuming with changed settings {changed} (saved, now): the run will not match an "
                          "uninterrupted one exactly", stacklevel=4)
