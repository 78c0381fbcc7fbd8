"""SPACES extract-then-generate long-document summarization (CAIL2020), on PyTorch.

Public names: ``rouge`` (the CAIL2020 metric), ``split_clauses``, ``extract_oracle`` and ``Summarizer``.
The pipeline (torch, transformers) loads on first use of ``Summarizer`` so that the metric alone stays light.
"""

from .extract import extract_oracle, split_clauses
from .metrics import rouge

__all__ = ["rouge", "split_clauses", "extract_oracle", "Summarizer", "SummarizeError"]


def __getattr__(name):
    if name in ("Summarizer", "SummarizeError"):
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'summarize' has no attribute {name!r}")
