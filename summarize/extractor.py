"""Stages B and C: clause vectors from an encoder, and the SPACES extractive model (bojone/SPACES extract_vectorize.py, extract_model.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors.torch import load_model, save_model
from torch import nn
from torch.nn import functional as F

from zoo.data import pad, padding_mask


class ResidualGatedConv1D(nn.Module):
    """Gated dilated 1-D convolution with a residual connection scaled by a zero-initialised scalar alpha.

    out = conv(x)[:F] * sigmoid(conv(x)[F:]) -> LayerNorm; y = x (or a bias-free projection) + alpha * out.
    Masked (padding) steps are zeroed before the convolution, as in the original Keras layer.
    """

    def __init__(self, in_size: int, filters: int, kernel_size: int = 3, dilation: int = 1):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError("kernel_size must be odd for 'same' padding")
        self.filters = filters
        self.conv = nn.Conv1d(in_size, 2 * filters, kernel_size, dilation=dilation,
                              padding=dilation * (kernel_size - 1) // 2)
        self.norm = nn.LayerNorm(filters, eps=1e-12)
        self.proj = nn.Linear(in_size, filters, bias=False) if in_size != filters else None
        self.alpha = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x * mask[..., None].to(x.dtype)
        h = self.conv(x.transpose(1, 2)).transpose(1, 2)
        h = self.norm(h[..., :self.filters] * torch.sigmoid(h[..., self.filters:]))
        if self.proj is not None:
            x = self.proj(x)
        return x + self.alpha * h


class ClauseExtractor(nn.Module):
    """SPACES extractor: Dense(hidden, no bias) -> 6 gated residual convs (dilations 1,2,4,8,1,1) -> sigmoid.

    Input: clause vectors [B, N, input_size] and a clause mask [B, N]. ``forward`` returns logits [B, N];
    ``predict_proba`` the selection probabilities. Saved and loaded with ``save_pretrained``/``from_pretrained``.
    """

    def __init__(self, input_size: int = 768, hidden_size: int = 384, kernel_size: int = 3,
                 dilations: Sequence[int] = (1, 2, 4, 8, 1, 1), dropout: float = 0.1, threshold: float = 0.2):
        super().__init__()
        self.config = {"input_size": input_size, "hidden_size": hidden_size, "kernel_size": kernel_size,
                       "dilations": list(dilations), "dropout": dropout, "threshold": threshold}
        self.threshold = threshold
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(input_size, hidden_size, bias=False)
        self.convs = nn.ModuleList(ResidualGatedConv1D(hidden_size, hidden_size, kernel_size, d) for d in dilations)
        self.out = nn.Linear(hidden_size, 1)

    def forward(self, vectors: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            mask = vectors.abs().sum(-1) > 0
        mask = mask.to(vectors.dtype)
        x = self.dropout(self.dense(self.dropout(vectors * mask[..., None])))
        for conv in self.convs:
            x = self.dropout(conv(x, mask))
        return self.out(x)[..., 0]

    def save_pretrained(self, folder: str | Path) -> None:
        """Write ``config.json`` and ``model.safetensors``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(self.config, indent=2), encoding="utf-8")
        save_model(self, str(folder / "model.safetensors"))

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str | torch.device = "cpu") -> ClauseExtractor:
        """Load a folder written by :meth:`save_pretrained` (eval mode)."""
        folder = Path(folder)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        model = cls(**config)
        load_model(model, str(folder / "model.safetensors"), device=str(device))
        return model.eval()

    @torch.no_grad()
    def predict_proba(self, vectors: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Selection probabilities [B, N] (eval mode, no dropout)."""
        was_training = self.training
        self.eval()
        try:
            return torch.sigmoid(self(vectors, mask))
        finally:
            self.train(was_training)


def masked_bce(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy averaged over real clauses only."""
    mask = mask.to(logits.dtype)
    loss = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), reduction="none")
    return (loss * mask).sum() / mask.sum().clamp_min(1.0)


def pad_documents(vectors: Sequence[torch.Tensor], labels: Sequence[Sequence[int]] | None = None):
    """Pad per-document clause vectors [n_i, H] to [B, N, H] with zeros; returns (x, mask, y or None)."""
    if not vectors:
        raise ValueError("no documents to pad")
    n = max(max(len(v) for v in vectors), 1)
    h = vectors[0].shape[-1]
    x = torch.zeros(len(vectors), n, h, dtype=vectors[0].dtype)
    mask = torch.zeros(len(vectors), n, dtype=torch.bool)
    y = torch.zeros(len(vectors), n) if labels is not None else None
    for i, v in enumerate(vectors):
        x[i, :len(v)] = v
        mask[i, :len(v)] = True
        if labels is not None:
            y[i, list(labels[i])] = 1.0
    return x, mask, y


def select_clauses(clauses: Sequence[str], probs: Sequence[float] | torch.Tensor, threshold: float) -> str:
    """Clauses with p > threshold joined in document order (SPACES' extract)."""
    return "".join(c for c, p in zip(clauses, list(probs)) if float(p) > threshold)


@torch.no_grad()
def clause_vectors(encoder: nn.Module, tokenizer, clauses: Sequence[str], maxlen: int = 512,
                   batch_size: int = 64, device: str | torch.device | None = None) -> torch.Tensor:
    """One vector per clause: masked mean of the encoder's last layer over all its tokens ([CLS]/[SEP] included).

    ``encoder`` is any model our core loads (``out.last_hidden_state``); ``tokenizer.encode(text, maxlen=...)``
    returns (ids, segments). Returns a float tensor [len(clauses), hidden] on the CPU.
    """
    device = device or next(encoder.parameters()).device
    encoder.eval()
    out = []
    for start in range(0, len(clauses), batch_size):
        encoded = [tokenizer.encode(c, maxlen=maxlen)[0] for c in clauses[start:start + batch_size]]
        ids, mask = pad(encoded), padding_mask(encoded)
        hidden = encoder(ids.to(device), attention_mask=mask.to(device)).last_hidden_state
        m = mask.to(device)[..., None].to(hidden.dtype)
        out.append(((hidden * m).sum(1) / m.sum(1)).float().cpu())
    if not out:
        hidden_size = getattr(getattr(encoder, "config", None), "hidden_size", 0)
        return torch.zeros(0, hidden_size)
    return torch.cat(out)
