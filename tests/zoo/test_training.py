"""zoo.training: arguments, weight-decay groups, schedule, EMA, accumulation, data sources, kill + resume, DDP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import _train_tiny as tiny
import zoo.training as training
from zoo.ema import ExponentialMovingAverage
from zoo.training import Trainer, TrainingArguments, lr_lambda, parameter_groups

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tests" / "_train_tiny.py"


pytestmark = pytest.mark.usefixtures("fresh_accelerate_state")


def make_args(tmp_path: Path, **kw) -> TrainingArguments:
    defaults = dict(output_dir=str(tmp_path / "run"), learning_rate=1e-2, batch_size=4, log_every=1, cpu=True,
                    progress_bar=False, save_final_checkpoint=False)
    return TrainingArguments(**{**defaults, **kw})


def tiny_model(dropout: float = 0.0, dtype: torch.dtype = torch.float32) -> nn.Module:
    torch.manual_seed(0)
    return tiny.Tiny(dropout=dropout).to(dtype)


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path / "final" / "model.safetensors"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


# ---------------------------------------------------------------- arguments and inputs


@pytest.mark.parametrize("bad, match", [
    ({"learning_rate": 0}, "learning_rate"), ({"learning_rate": float("nan")}, "learning_rate"),
    ({"batch_size": 0}, "batch_size"), ({"batch_size": 2.5}, "batch_size"), ({"batch_size": True}, "batch_size"),
    ({"gradient_accumulation_steps": 0}, "gradient_accumulation_steps"), ({"max_steps": 0}, "max_steps"),
    ({"weight_decay": -0.1}, "weight_decay"), ({"ema_decay": 1.0}, "ema_decay"), ({"ema_decay": -0.5}, "ema_decay"),
    ({"mixed_precision": "fp32"}, "mixed_precision"), ({"lr_schedule": "cosine"}, "lr_schedule"),
    ({"adam_betas": (0.9,)}, "adam_betas"), ({"adam_betas": (0.9, 1.0)}, "adam_betas"),
    ({"output_dir": ""}, "output_dir"),
    ({"save_every": 0}, "save_every"), ({"max_grad_norm": 0}, "max_grad_norm"), ({"warmup_steps": -1}, "warmup_steps"),
])
def test_bad_arguments_are_rejected(tmp_path, bad, match):
    with pytest.raises(ValueError, match=match):
        make_args(tmp_path, **bad)


def test_bad_trainer_inputs(tmp_path):
    data = tiny.make_examples(12)
    with pytest.raises(ValueError, match="max_steps"):
        Trainer(tiny_model(), make_args(tmp_path), iter(data), loss_fn=tiny.loss_fn)
    with pytest.raises(ValueError, match="not one batch"):
        Trainer(tiny_model(), make_args(tmp_path, batch_size=16, drop_last=True), data, loss_fn=tiny.loss_fn)
    with pytest.raises(ValueError, match="train_dataset"):
        Trainer(tiny_model(), make_args(tmp_path), "some text", loss_fn=tiny.loss_fn)
    with pytest.raises(ValueError, match="TrainingArguments"):
        Trainer(tiny_model(), {"output_dir": "x"}, data, loss_fn=tiny.loss_fn)
    with pytest.raises(ValueError, match="loss_fn must be callable"):
        Trainer(tiny_model(), make_args(tmp_path), data, loss_fn="loss")


@pytest.mark.parametrize("loss_fn, error, match", [
    (lambda m, b: nn.functional.cross_entropy(m(b["x"]), b["y"], reduction="none"), ValueError, "scalar"),
    (lambda m, b: torch.tensor(1.0), ValueError, "require grad"),
    (lambda m, b: m(b["x"]).sum() * float("nan"), FloatingPointError, "nan"),
])
def test_bad_losses_give_clear_errors(tmp_path, loss_fn, error, match):
    trainer = Trainer(tiny_model(), make_args(tmp_path, max_steps=2), tiny.make_examples(12), loss_fn=loss_fn)
    with pytest.raises(error, match=match):
        trainer.train()


class LossModel(nn.Module):
    """forward(x, y) -> {"loss": ...} (or {"logits": ...} when ``with_loss`` is False), like HF models."""

    def __init__(self, with_loss: bool):
        super().__init__()
        self.inner, self.with_loss = tiny_model(), with_loss

    def forward(self, x, y):
        logits = self.inner(x)
        return {"loss": nn.functional.cross_entropy(logits, y)} if self.with_loss else {"logits": logits}


def test_default_loss_reads_model_output_loss(tmp_path):
    data = tiny.make_examples(12)
    assert Trainer(LossModel(True), make_args(tmp_path, max_steps=2), data).train()["global_step"] == 2
    with pytest.raises(ValueError, match="no loss"):
        Trainer(LossModel(False), make_args(tmp_path / "b", max_steps=2), data).train()
    pairs = [(e["x"], e["y"]) for e in data]
    with pytest.raises(ValueError, match="mapping"):
        Trainer(LossModel(True), make_args(tmp_path / "c", max_steps=2), pairs).train()


def test_eval_fn_must_return_a_dict(tmp_path):
    trainer = Trainer(tiny_model(), make_args(tmp_path, max_steps=1), tiny.make_examples(8), loss_fn=tiny.loss_fn,
                      eval_fn=lambda model: [1.0])
    with pytest.raises(ValueError, match="dict"):
        trainer.train()


# ---------------------------------------------------------------- optimizer, schedule, EMA


class WithNorms(nn.Module):
    class ScaleNorm(nn.Module):  # a custom norm class: excluded by its type name
        def __init__(self):
            super().__init__()
            self.g = nn.Parameter(torch.ones(4))

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.ln = nn.LayerNorm(4)  # no "norm" in its parameter names: must be found by type
        self.scale = self.ScaleNorm()
        self.proj = nn.Linear(4, 4)
        self.head = nn.Linear(4, 10)
        self.head.weight = self.emb.weight  # tied: counted once
        self.mlm_bias = nn.Parameter(torch.zeros(10))
        self.final_norm_gain = nn.Parameter(torch.ones(4))  # excluded by name, like bert4keras
        self.frozen = nn.Parameter(torch.ones(2), requires_grad=False)


def test_weight_decay_skips_norms_by_type_and_all_biases(tmp_path):
    model = WithNorms()
    groups = parameter_groups(model, 0.05)
    decay = {id(p) for g in groups if g["weight_decay"] == 0.05 for p in g["params"]}
    no_decay = {id(p) for g in groups if g["weight_decay"] == 0.0 for p in g["params"]}
    assert decay == {id(model.emb.weight), id(model.proj.weight)}
    assert no_decay == {id(p) for p in (model.ln.weight, model.ln.bias, model.scale.g, model.proj.bias,
                                        model.head.bias, model.mlm_bias, model.final_norm_gain)}
    # the trainer's AdamW uses these groups
    trainer = Trainer(WithNorms(), make_args(tmp_path, weight_decay=0.05), list(range(8)), loss_fn=tiny.loss_fn)
    wd = sorted((g["weight_decay"], len(g["params"])) for g in trainer.optimizer.param_groups)
    assert wd == [(0.0, 7), (0.05, 2)]


def test_zoo_model_trains_and_saves_ema_weights_loadable_by_from_pretrained(tmp_path):
    import zoo

    cfg = zoo.ZooConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    model = zoo.ZooForLM(cfg)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for g in parameter_groups(model, 0.01) if g["weight_decay"] for p in g["params"]}
    assert decayed and all(n.endswith(".weight") and "norm" not in n for n in decayed)
    norm_weights = {names[id(m.weight)] for m in model.modules() if isinstance(m, nn.LayerNorm)}
    assert norm_weights and not norm_weights & decayed
    g = torch.Generator().manual_seed(0)
    data = [{"input_ids": torch.randint(1, 50, (10,), generator=g)} for _ in range(16)]

    def loss_fn(model, batch):
        logits = model(batch["input_ids"]).logits
        return nn.functional.cross_entropy(logits.flatten(0, 1), batch["input_ids"].flatten())

    trainer = Trainer(model, make_args(tmp_path, max_steps=3, ema_decay=0.9), data, loss_fn=loss_fn)
    trainer.train()
    trainer.save_model(tmp_path / "final")
    loaded = zoo.from_pretrained(tmp_path / "final", head="mlm").state_dict()
    with trainer.ema_applied() as ema_model:
        expected = {k: v.clone() for k, v in ema_model.state_dict().items()}
    assert loaded.keys() == expected.keys()
    for k in expected:
        assert torch.equal(loaded[k], expected[k]), k


def test_lr_schedule_linear_and_constant(tmp_path):
    assert [lr_lambda(s, 2, 6) for s in range(7)] == [0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0]
    assert [lr_lambda(s, 2, 6, "constant") for s in range(7)] == [0.0, 0.5, 1, 1, 1, 1, 1]
    trainer = Trainer(tiny_model(), make_args(tmp_path, max_steps=6, warmup_steps=2), tiny.make_examples(40),
                      loss_fn=tiny.loss_fn)
    trainer.train()
    logged = [r["lr"] for r in trainer.history if "lr" in r]  # the lr for the next step, logged after each step
    assert logged == pytest.approx([1e-2 * lr_lambda(s, 2, 6) for s in range(1, 7)])


def test_ema_matches_hand_computation(tmp_path):
    seen, decay = [], 0.8

    def loss_fn(model, batch):  # called once per step (no accumulation), before the update
        seen.append({k: v.detach().clone() for k, v in trainer.unwrapped_model.named_parameters()})
        return tiny.loss_fn(model, batch)

    evaluated = []

    def eval_fn(model):
        assert not model.training and not torch.is_grad_enabled()
        evaluated.append({k: v.detach().clone() for k, v in model.named_parameters()})
        return {"n": len(evaluated)}

    trainer = Trainer(tiny_model(), make_args(tmp_path, max_steps=5, ema_decay=decay), tiny.make_examples(40),
                      loss_fn=loss_fn, eval_fn=eval_fn)
    trainer.train()
    raw = {k: v.detach().clone() for k, v in trainer.unwrapped_model.named_parameters()}
    trajectory = [*seen, raw]  # weights before step 1, after steps 1..5
    expected = dict(trajectory[0])
    for params in trajectory[1:]:
        expected = {k: decay * expected[k] + (1 - decay) * params[k] for k in expected}
    trainer.save_model(tmp_path / "final")
    saved = weights(tmp_path)
    for k in expected:
        torch.testing.assert_close(saved[k], expected[k], rtol=0, atol=1e-6)
        torch.testing.assert_close(evaluated[-1][k], expected[k], rtol=0, atol=1e-6)
        assert torch.equal(trainer.unwrapped_model.state_dict()[k], raw[k])  # raw weights put back
    assert not torch.equal(saved["head.weight"], raw["head.weight"])


def test_ema_class_rejects_bad_decay_and_mismatched_state():
    with pytest.raises(ValueError, match="decay"):
        ExponentialMovingAverage(nn.Linear(2, 2), 1.5)
    ema = ExponentialMovingAverage(nn.Linear(2, 2), 0.9)
    with pytest.raises(ValueError, match="missing"):
        ema.load_state_dict({"weight": torch.zeros(2, 2)})


def test_gradient_accumulation_equals_a_bigger_batch(tmp_path):
    data = tiny.make_examples(32)
    results = []
    for batch_size, accum in ((8, 1), (4, 2), (2, 4)):
        model = tiny_model(dtype=torch.float64)
        args = make_args(tmp_path / f"{batch_size}", batch_size=batch_size, gradient_accumulation_steps=accum,
                         max_steps=4, max_grad_norm=0.5, weight_decay=0.1)
        Trainer(model, args, data, loss_fn=tiny.loss_fn).train()
        results.append(model.state_dict())
    for other in results[1:]:
        for k in results[0]:
            torch.testing.assert_close(other[k], results[0][k], rtol=0, atol=1e-12)


# ---------------------------------------------------------------- data sources


def test_hf_dataset_gives_the_same_run_as_a_list(tmp_path):
    out = {}
    for kind in ("list", "hf"):
        tiny.main(["--out", str(tmp_path / kind), "--data", kind, "--epochs", "2", "--dropout", "0.1"])
        out[kind] = weights(tmp_path / kind)
    for k in out["list"]:
        assert torch.equal(out["list"][k], out["hf"][k])


def test_iterables_need_max_steps_and_stop_when_exhausted(tmp_path):
    tiny.main(["--out", str(tmp_path / "it"), "--data", "iterable", "--max-steps", "12"])  # re-iterable: 3 passes
    state = json.loads((tmp_path / "it" / "checkpoint-last" / "trainer_state.json").read_text())
    assert state["global_step"] == 12 and state["epoch"] == 1
    trainer = Trainer(tiny_model(), make_args(tmp_path, max_steps=10), iter(tiny.make_examples(12)),
                      loss_fn=tiny.loss_fn)
    with pytest.warns(UserWarning, match="ran out at step 3"):
        assert trainer.train()["global_step"] == 3


def test_eval_hook_runs_every_eval_every_and_at_the_end(tmp_path):
    steps = []
    trainer = Trainer(tiny_model(), make_args(tmp_path, max_steps=5, eval_every=2), tiny.make_examples(40),
                      loss_fn=tiny.loss_fn, eval_fn=lambda m: {"step": steps.append(trainer.state.global_step)})
    result = trainer.train()
    assert steps == [2, 4, 5] and "step" in result["metrics"]
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "eval_step" in r] == [2, 4, 5]


# ---------------------------------------------------------------- checkpoints


RUN = ["--epochs", "3", "--save-every", "3", "--ema", "0.9", "--accum", "2", "--warmup", "2", "--data", "hf"]


def test_killed_run_resumes_to_identical_weights(tmp_path):
    tiny.main(["--out", str(tmp_path / "ref"), *RUN])
    killed = tmp_path / "killed"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--out", str(killed), *RUN],
                          env={**env(), "ZOO_TEST_KILL_AT": "8"}, capture_output=True, text=True, timeout=240)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert os.readlink(killed / "checkpoint-last") == "checkpoint-00000006"
    assert json.loads((killed / "checkpoint-last" / "trainer_state.json").read_text())["global_step"] == 6
    tiny.main(["--out", str(killed), *RUN])
    ref, resumed = weights(tmp_path / "ref"), weights(killed)
    for k in ref:
        assert torch.equal(ref[k], resumed[k]), k
    steps = [json.loads(line)["step"] for line in (killed / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))  # no step logged twice
    assert sorted(p.name for p in killed.iterdir() if p.name.startswith("checkpoint-")) == [
        "checkpoint-00000015", "checkpoint-last"]


def test_crash_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    data = tiny.make_examples(40)

    def run(out: Path) -> Trainer:
        trainer = Trainer(tiny_model(dropout=0.1), make_args(out, max_steps=6, save_every=2, ema_decay=0.5),
                          data, loss_fn=tiny.loss_fn)
        trainer.train()
        return trainer

    reference = run(tmp_path / "ref").unwrapped_model.state_dict()
    calls, real_save = [], training._torch_save

    def failing_save(obj, path):
        calls.append(path)
        if "checkpoint-00000004" in str(path) and path.name == "optimizer.pt":
            raise OSError("disk full")
        real_save(obj, path)

    monkeypatch.setattr(training, "_torch_save", failing_save)
    out = tmp_path / "crash"
    with pytest.raises(OSError, match="disk full"):
        run(out)
    link = out / "run" / "checkpoint-last"
    assert os.readlink(link) == "checkpoint-00000002"
    assert (out / "run" / ".checkpoint-00000004.tmp").is_dir()
    monkeypatch.setattr(training, "_torch_save", real_save)
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(True)
    resumed = run(out).unwrapped_model.state_dict()
    for k in reference:
        assert torch.equal(reference[k], resumed[k]), k
    assert not (out / "run" / ".checkpoint-00000004.tmp").exists()


def test_resuming_a_finished_run_trains_no_more(tmp_path):
    args = ["--out", str(tmp_path), "--max-steps", "4"]
    tiny.main(args)
    before = weights(tmp_path)
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(True)
    trainer = tiny.main(args)
    assert trainer.state.global_step == 4
    for k, v in weights(tmp_path).items():
        assert torch.equal(v, before[k])


def test_resuming_with_other_settings_warns(tmp_path):
    tiny.main(["--out", str(tmp_path), "--max-steps", "2"])
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(True)
    with pytest.warns(UserWarning, match="batch_size"):
        tiny.main(["--out", str(tmp_path), "--max-steps", "3", "--batch-size", "3"])


def test_bf16_mixed_precision_runs(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = tiny.main(["--out", str(tmp_path), "--max-steps", "2", "--mixed-precision", "bf16"])
    assert trainer.state.global_step == 2
    assert all(torch.isfinite(v).all() for v in weights(tmp_path).values())


# ---------------------------------------------------------------- several processes


def test_accelerate_launch_two_processes_killed_and_resumed_matches_one_process(tmp_path):
    """``accelerate launch --num_processes 2`` (torchrun under ``--multi_gpu``; our args force CPU + gloo), killed
    at step 5 and resumed from the step-4 checkpoint, ends like one process with twice the per-process batch.

    accelerate 1.15's ``--cpu`` alone starts only one process unless mpirun is set up, hence ``--multi_gpu``.
    """
    common = ["--examples", "36", "--epochs", "2", "--dropout", "0", "--accum", "2", "--ema", "0.9"]
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(free_port()),
           str(SCRIPT), "--out", str(tmp_path / "ddp"), "--batch-size", "2", "--save-every", "2", *common]
    killed = subprocess.run(cmd, env={**env(), "ZOO_TEST_KILL_AT": "5"}, capture_output=True, text=True, timeout=300)
    assert killed.returncode != 0
    ckpt = tmp_path / "ddp" / "checkpoint-last"
    assert os.readlink(ckpt) == "checkpoint-00000004"
    assert (ckpt / "rng-0.pt").is_file() and (ckpt / "rng-1.pt").is_file()
    proc = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (summary["global_step"], summary["num_processes"]) == (10, 2)
    tiny.main(["--out", str(tmp_path / "one"), "--batch-size", "4", *common])
    one, two = weights(tmp_path / "one"), weights(tmp_path / "ddp")
    for k in one:
        torch.testing.assert_close(two[k], one[k], rtol=0, atol=1e-5)
