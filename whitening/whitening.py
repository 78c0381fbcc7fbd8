"""BERT-whitening (Su et al. 2021, `compute_kernel_bias` of bojone/BERT-whitening): y = (x - mu) U diag(1/sqrt(s))[:, :k].

Statistics are accumulated in float64 with Chan's pairwise update, so `partial_fit` over any chunking gives the
same mean and covariance as one `fit` on everything, and memory stays O(dim^2) however many vectors stream past.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

WEIGHTS_NAME = "whitening.safetensors"
CONFIG_NAME = "whitening_config.json"
FORMAT_VERSION = 1
_SINGULAR_RTOL = 1e-10

ArrayLike = np.ndarray | torch.Tensor


def _as_float64(x: Any) -> torch.Tensor:
    """A 2-D float64 CPU tensor view/copy of `x` (ndarray, tensor or nested list)."""
    if isinstance(x, torch.Tensor):
        t = x.detach().to("cpu", torch.float64)
    else:
        t = torch.as_tensor(np.asarray(x, dtype=np.float64))
    if t.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors [N, dim], got shape {tuple(t.shape)}")
    return t


class Whitening(nn.Module):
    """BERT-whitening as a fitted linear map, usable alone, after an encoder, or as a sentence-transformers module.

    Args:
        n_components: dimensions kept by `transform`/`forward` (k). None or negative: all; 0: no whitening
            (vectors pass through unchanged), as in the original code.
        regularization: lambda >= 0. The kernel whitens Sigma + lambda * (trace(Sigma) / dim) * I instead of Sigma
            (a scale-free ridge). 0 reproduces the paper. Fitting with N <= dim raises unless lambda > 0; so does
            transforming to more components than the covariance's numerical rank (eigenvalues <= 1e-10 x the
            largest: last-layer mean/CLS vectors of BERT models lie in a hyperplane because of LayerNorm).

    Buffers after fitting: `mean` [dim], `kernel` [dim, dim] (columns sorted by decreasing variance, each column's
    largest-magnitude entry made positive so fits are reproducible), `singular_values` [dim]; all float64.
    """

    def __init__(self, n_components: int | None = None, regularization: float = 0.0) -> None:
        super().__init__()
        if regularization < 0 or not np.isfinite(regularization):
            raise ValueError(f"regularization must be a finite number >= 0, got {regularization}")
        self.n_components = n_components
        self.regularization = float(regularization)
        self.register_buffer("mean", None)
        self.register_buffer("kernel", None)
        self.register_buffer("singular_values", None)
        self.reset()

    # ----------------------------------------------------------------------------------------------- fitting
    def reset(self) -> Whitening:
        """Forget all accumulated statistics."""
        self.n_samples = 0
        self._mean64: torch.Tensor | None = None
        self._scatter64: torch.Tensor | None = None  # sum of outer products of centred vectors
        self._stale = False
        self.mean = self.kernel = self.singular_values = None
        return self

    @property
    def dim(self) -> int | None:
        """Input dimension, known after the first chunk."""
        return None if self._mean64 is None else int(self._mean64.shape[0])

    def partial_fit(self, x: ArrayLike) -> Whitening:
        """Add a chunk of vectors [n, dim] to the running float64 mean and scatter matrix."""
        chunk = _as_float64(x)
        if chunk.shape[0] == 0:
            return self
        if self.dim is not None and chunk.shape[1] != self.dim:
            raise ValueError(f"chunk has dimension {chunk.shape[1]}, earlier chunks had {self.dim}")
        if not torch.isfinite(chunk).all():
            raise ValueError("vectors contain NaN or infinity")
        n_b = chunk.shape[0]
        mean_b = chunk.mean(dim=0)
        centred = chunk - mean_b
        scatter_b = centred.T @ centred
        if self._mean64 is None:
            self._mean64, self._scatter64 = mean_b, scatter_b
        else:
            n_a, n = self.n_samples, self.n_samples + n_b
            delta = mean_b - self._mean64
            self._mean64 = self._mean64 + delta * (n_b / n)
            self._scatter64 = self._scatter64 + scatter_b + torch.outer(delta, delta) * (n_a * n_b / n)
        self.n_samples += n_b
        self._stale = True
        return self

    def fit(self, x: ArrayLike | Iterable[ArrayLike]) -> Whitening:
        """Fit on a 2-D array of vectors, or stream an iterable of 2-D chunks; replaces any earlier fit."""
        self.reset()
        if isinstance(x, (np.ndarray, torch.Tensor)) or (isinstance(x, (list, tuple)) and x and np.ndim(x[0]) <= 1):
            self.partial_fit(x)
        else:
            for chunk in x:
                self.partial_fit(chunk)
        return self.finalize()

    def covariance(self) -> torch.Tensor:
        """Unbiased (N-1) covariance of everything seen so far, float64 [dim, dim]."""
        if self.n_samples < 2:
            raise ValueError(f"whitening needs at least 2 vectors, got {self.n_samples}")
        return self._scatter64 / (self.n_samples - 1)

    def finalize(self) -> Whitening:
        """Compute mean/kernel from the accumulated statistics (done automatically before the first transform)."""
        cov = self.covariance()
        dim = cov.shape[0]
        if self.regularization == 0 and self.n_samples <= dim:
            raise ValueError(
                f"cannot whiten {dim}-dim vectors from N={self.n_samples} <= dim samples: the covariance is singular. "
                "Fit on more vectors or pass Whitening(regularization=1e-3) (ridge: Sigma + lambda*tr/dim*I)."
            )
        # symmetric PSD matrix: eigh gives the SVD U diag(s) U^T of the spec; sort by decreasing variance
        s, u = torch.linalg.eigh(cov)
        s, u = s.flip(0).clamp_min(0.0), u.flip(1)
        if s[0] == 0:
            raise ValueError("all fitted vectors are identical: nothing to whiten")
        ridge = self.regularization * float(s.sum()) / dim
        signs = torch.sign(u.gather(0, u.abs().argmax(dim=0, keepdim=True)))
        u = u * signs
        self.mean = self._mean64.clone()
        # null directions (rank < dim) get a finite kernel column; transform refuses to use them unregularised
        self.kernel = (u / torch.sqrt((s + ridge).clamp_min(_SINGULAR_RTOL * float(s[0])))).contiguous()
        self.singular_values = s
        self._stale = False
        return self

    # --------------------------------------------------------------------------------------------- transform
    @property
    def rank(self) -> int:
        """Numerical rank of the fitted covariance (eigenvalues above 1e-10 x the largest)."""
        if self._stale:
            self.finalize()
        s = self.singular_values
        return int((s > _SINGULAR_RTOL * s[0]).sum())

    def _resolve_k(self, n_components: int | None) -> int:
        k = self.n_components if n_components is None else n_components
        dim = self.kernel.shape[0]
        if k is None or k < 0:
            k = dim
        if k > dim:
            raise ValueError(f"n_components={k} exceeds the vector dimension {dim}")
        if k > self.rank and self.regularization == 0:
            raise ValueError(
                f"the fitted covariance is singular (numerical rank {self.rank} < n_components={k}; e.g. "
                "LayerNorm outputs or dead dimensions): use n_components <= rank or Whitening(regularization=1e-3)"
            )
        return int(k)

    def transform(self, x: ArrayLike, n_components: int | None = None, normalize: bool = False) -> ArrayLike:
        """Whiten vectors [N, dim] or one vector [dim]; returns the input's type (ndarray or tensor) and dtype.

        n_components overrides the constructor's k for this call; normalize L2-normalises the result
        (norm clipped at 1e-8, as the original) for cosine similarity.
        """
        if self._stale:
            self.finalize()
        if self.kernel is None:
            raise ValueError("Whitening is not fitted: call fit() or partial_fit() first, "
                             "or Whitening.from_pretrained(folder)")
        is_numpy = not isinstance(x, torch.Tensor)
        t = torch.as_tensor(np.asarray(x)) if is_numpy else x
        if not t.is_floating_point():
            t = t.to(torch.float32)
        if t.ndim not in (1, 2) or t.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"expected vectors of dimension {self.kernel.shape[0]}, got shape {tuple(t.shape)}")
        k = self._resolve_k(n_components)
        if k > 0:
            mean = self.mean.to(t.device, t.dtype)
            t = (t - mean) @ self.kernel[:, :k].to(t.device, t.dtype)
        if normalize:
            t = t / t.norm(dim=-1, keepdim=True).clamp_min(1e-8)
        return t.numpy() if is_numpy else t

    def forward(self, features: torch.Tensor | dict[str, Any]) -> torch.Tensor | dict[str, Any]:
        """Torch-module form: whiten a tensor, or a sentence-transformers features dict's "sentence_embedding"."""
        if isinstance(features, torch.Tensor):
            return self.transform(features)
        features["sentence_embedding"] = self.transform(features["sentence_embedding"])
        return features

    def get_embedding_dimension(self) -> int | None:
        """Output dimension (sentence-transformers asks modules for it)."""
        if self.kernel is None and not self._stale:
            return None
        if self._stale:
            self.finalize()
        k = self._resolve_k(None)
        return self.kernel.shape[0] if k == 0 else k

    get_sentence_embedding_dimension = get_embedding_dimension

    # ------------------------------------------------------------------------------------------ persistence
    def save(self, path: str | Path, *args: Any, **kwargs: Any) -> None:
        """`save_pretrained` under the name sentence-transformers calls (`module.save(path, ...)`; extra
        arguments are ignored)."""
        self.save_pretrained(path)

    @classmethod
    def load(cls, path: str | Path) -> Whitening:
        """`from_pretrained` under the name (and single-argument signature) sentence-transformers calls."""
        return cls.from_pretrained(path)

    def save_pretrained(self, path: str | Path) -> None:
        """Write `whitening.safetensors` (float64 mean, kernel, singular values, scatter) and a JSON config.

        The scatter matrix is kept so a loaded whitening can continue `partial_fit`.
        """
        if self._stale:
            self.finalize()
        if self.kernel is None:
            raise ValueError("cannot save an unfitted Whitening")
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {
            "mean": self.mean,
            "kernel": self.kernel,
            "singular_values": self.singular_values,
            "scatter": self._scatter64,
        }
        save_file({k: v.detach().to("cpu", torch.float64).contiguous() for k, v in tensors.items()},
                  str(folder / WEIGHTS_NAME), metadata={"format": "pt"})
        config = {
            "format_version": FORMAT_VERSION,
            "dim": self.dim,
            "n_components": self.n_components,
            "regularization": self.regularization,
            "n_samples": self.n_samples,
        }
        (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_pretrained(cls, path: str | Path) -> Whitening:
        """Load a folder written by `save_pretrained`."""
        folder = Path(path)
        if not (folder / CONFIG_NAME).is_file() or not (folder / WEIGHTS_NAME).is_file():
            raise FileNotFoundError(f"{folder} does not contain {CONFIG_NAME} and {WEIGHTS_NAME}")
        config = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
        if config.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unsupported whitening format_version {config.get('format_version')!r}")
        tensors = load_file(str(folder / WEIGHTS_NAME))
        dim = int(config["dim"])
        expected = {"mean": (dim,), "kernel": (dim, dim), "singular_values": (dim,), "scatter": (dim, dim)}
        for name, shape in expected.items():
            if name not in tensors or tuple(tensors[name].shape) != shape:
                raise ValueError(f"{folder / WEIGHTS_NAME}: tensor {name!r} missing or not of shape {shape}")
        obj = cls(n_components=config.get("n_components"), regularization=config.get("regularization", 0.0))
        obj.n_samples = int(config["n_samples"])
        obj._mean64, obj._scatter64 = tensors["mean"], tensors["scatter"]
        obj.mean, obj.kernel, obj.singular_values = tensors["mean"], tensors["kernel"], tensors["singular_values"]
        return obj

    def extra_repr(self) -> str:
        return f"dim={self.dim}, n_components={self.n_components}, n_samples={self.n_samples}"


def load_sentence_transformer(path: str | Path, **kwargs: Any):
    """`SentenceTransformer(path)` for a folder whose modules include `Whitening`.

    sentence-transformers >= 6 imports a module class from outside its own package only with
    `trust_remote_code=True`, even from a local folder. Here no remote code is involved: the folder's
    `modules.json` is checked to name only sentence-transformers' classes and this package's `Whitening`
    (imported from the installed package), and then it is loaded with that flag."""
    from sentence_transformers import SentenceTransformer

    folder = Path(path)
    modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    allowed = (f"{Whitening.__module__}.{Whitening.__qualname__}", "whitening.Whitening")
    foreign = [m["type"] for m in modules
               if not m["type"].startswith("sentence_transformers.") and m["type"] not in allowed]
    if foreign:
        raise ValueError(f"{folder} has modules from other packages {foreign}; load it with "
                         "SentenceTransformer(path, trust_remote_code=True) only if you trust them")
    return SentenceTransformer(str(folder), trust_remote_code=True, **kwargs)
