"""Exponential moving average of a model's trainable weights (bert4keras `extend_with_exponential_moving_average`).

After every optimizer step: ``shadow = decay * shadow + (1 - decay) * weight``; the shadow starts as a copy of
the weights at construction (bert4keras ``initialize``). Buffers are not averaged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class ExponentialMovingAverage:
    """Shadow copies of ``model``'s trainable parameters, updated with :meth:`update`."""

    def __init__(self, model: nn.Module, decay: float):
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 <= decay < 1.0:
            raise ValueError(f"ema decay must be a number in [0, 1), got {decay!r}")
        self.decay = float(decay)
        self.params = {name: p for name, p in model.named_parameters() if p.requires_grad}
        self.shadow = {name: p.detach().clone() for name, p in self.params.items()}
        self.num_updates = 0

    @torch.no_grad()
    def update(self) -> None:
        """Fold the current weights into the shadow weights."""
        for name, p in self.params.items():
            self.shadow[name].mul_(self.decay).add_(p.detach().to(self.shadow[name].dtype), alpha=1.0 - self.decay)
        self.num_updates += 1

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Temporarily put the shadow weights into the model (for evaluation and saving)."""
        backup = {name: p.detach().clone() for name, p in self.params.items()}
        self.copy_to_model()
        try:
            yield
        finally:
            with torch.no_grad():
                for name, p in self.params.items():
                    p.copy_(backup[name])

    @torch.no_grad()
    def copy_to_model(self) -> None:
        """Overwrite the model's weights with the shadow weights."""
        for name, p in self.params.items():
            p.copy_(self.shadow[name])

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {name: t.detach().contiguous() for name, t in self.shadow.items()}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        missing = sorted(set(self.shadow) - set(state))
        unexpected = sorted(set(state) - set(self.shadow))
        if missing or unexpected:
            raise ValueError(f"EMA state does not match the model: missing {missing}, unexpected {unexpected}")
        for name, t in state.items():
            if t.shape != self.shadow[name].shape:
                raise ValueError(f"EMA state {name!r} has shape {tuple(t.shape)}, "
                                 f"model has {tuple(self.shadow[name].shape)}")
            self.shadow[name].copy_(t)
