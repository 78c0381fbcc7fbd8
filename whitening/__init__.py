"""Sentence embeddings, BERT-whitening and STS evaluation."""
