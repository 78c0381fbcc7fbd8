"""Fault probes for training checkpoints: the last two are kept, checksums are verified before resuming, and a
damaged newest checkpoint falls back to the previous one with a warning (and the same final weights)."""

from __future__ import annotations

import json
from pathlib import Path

import _train_tiny as tiny
import pytest
import torch

import zoo.training as training
from zoo.training import Trainer, TrainingArguments


pytestmark = pytest.mark.usefixtures("fresh_accelerate_state")


class Crash(Exception):
    pass


DATA = tiny.make_examples(40)


def run(out: Path, crash_at: int | None = None, seen: dict | None = None) -> Trainer:
    """6 steps, a checkpoint every 2; ``crash_at``: raise in the eval hook at that step (after its checkpoint
    would be due, the hook runs before the save) to leave a half-finished run behind."""
    torch.manual_seed(0)

    def eval_fn(model):
        step = trainer.state.global_step
        if seen is not None:
            seen[step] = sorted(p.name for p in (out / "run").iterdir() if p.name.startswith("checkpoint-0"))
        if step == crash_at:
            raise Crash
        return {}

    args = TrainingArguments(output_dir=str(out / "run"), learning_rate=1e-2, batch_size=4, log_every=1, cpu=True,
                             progress_bar=False, max_steps=6, save_every=2, eval_every=1, ema_decay=0.5)
    trainer = Trainer(tiny.Tiny(dropout=0.1), args, DATA, loss_fn=tiny.loss_fn, eval_fn=eval_fn)
    trainer.train()
    return trainer


def _reset():
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(True)
    GradientState._reset_state()


def test_last_two_checkpoints_are_kept_while_training(tmp_path):
    seen = {}
    run(tmp_path, seen=seen)
    assert seen[5] == ["checkpoint-00000002", "checkpoint-00000004"]
    assert seen[6] == ["checkpoint-00000002", "checkpoint-00000004"]  # the hook runs before step 6 is saved
    final = sorted(p.name for p in (tmp_path / "run").iterdir() if p.name.startswith("checkpoint-"))
    assert final == ["checkpoint-00000006", "checkpoint-last"]  # a complete run keeps its final checkpoint only
    sums = json.loads((tmp_path / "run" / "checkpoint-00000006" / "checksums.json").read_text())
    assert {"model.safetensors", "optimizer.pt", "trainer_state.json", "ema.safetensors"} <= set(sums)


def _crashed_run(tmp_path: Path) -> Path:
    with pytest.raises(Crash):
        run(tmp_path, crash_at=5)
    _reset()
    out = tmp_path / "run"
    assert (out / "checkpoint-00000002").is_dir() and (out / "checkpoint-00000004").is_dir()
    return out


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete", "state"])
def test_damaged_checkpoint_falls_back_to_the_previous_one(tmp_path, damage):
    reference = run(tmp_path / "ref").unwrapped_model.state_dict()
    _reset()
    out = _crashed_run(tmp_path / "crash")
    newest = out / "checkpoint-00000004"
    target = newest / ("trainer_state.json" if damage == "state" else "optimizer.pt")
    data = target.read_bytes()
    if damage == "flip":
        target.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    elif damage == "truncate":
        target.write_bytes(data[: len(data) // 2])
    elif damage == "delete":
        target.unlink()
    else:
        target.write_text("{")
    assert training.verify_checkpoint(newest) is not None
    assert training.verify_checkpoint(out / "checkpoint-00000002") is None
    with pytest.warns(UserWarning, match="checkpoint-00000004 is damaged.*previous checkpoint checkpoint-00000002"):
        resumed = run(tmp_path / "crash").unwrapped_model.state_dict()
    for k in reference:
        assert torch.equal(reference[k], resumed[k]), k


def test_no_usable_checkpoint_is_a_clear_error(tmp_path):
    out = _crashed_run(tmp_path)
    for name in ("checkpoint-00000002", "checkpoint-00000004"):
        (out / name / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="no usable checkpoint.*checkpoint-00000004 is damaged"):
        run(tmp_path)
