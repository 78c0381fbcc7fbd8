"""Sentence embeddings, BERT-whitening and STS evaluation."""

from whitening.encoder import SentenceEncoder
from whitening.sts import evaluate_sts, load_sts
from whitening.whitening import Whitening

__all__ = ["SentenceEncoder", "Whitening", "evaluate_sts", "load_sts"]
