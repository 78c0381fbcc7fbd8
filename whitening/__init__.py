"""Sentence embeddings, BERT-whitening and STS evaluation."""

from whitening.defaults import default_encoder_path, default_whitening
from whitening.encoder import SentenceEncoder
from whitening.sts import evaluate_sts, load_sts
from whitening.whitening import Whitening, load_sentence_transformer

__all__ = ["default_encoder_path", "default_whitening", "SentenceEncoder", "Whitening", "evaluate_sts", "load_sts",
           "load_sentence_transformer"]
