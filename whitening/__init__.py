"""Sentence embeddings, BERT-whitening and STS evaluation."""

from whitening.whitening import Whitening

__all__ = ["Whitening"]
