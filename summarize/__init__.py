"""SPACES extract-then-generate long-document summarization (CAIL2020), on PyTorch.

Public names: ``rouge`` (the CAIL2020 metric), ``split_clauses``, ``extract_oracle`` and ``Summarizer``.
Heavy modules load on first use so that the metric alone stays light.
"""

from importlib import import_module as _import_module

_EXPORTS = {
    "rouge": "summarize.metrics",
    "split_clauses": "summarize.extract",
    "extract_oracle": "summarize.extract",
    "Summarizer": "summarize.pipeline",
    "SummarizeError": "summarize.pipeline",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'summarize' has no attribute {name!r}")
    value = getattr(_import_module(module), name)
    globals()[name] = value
    return value
