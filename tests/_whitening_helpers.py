"""Shared fixtures of the whitening tests: a tiny random zoo encoder folder with a real Chinese BERT tokenizer."""

from pathlib import Path

import torch

import zoo
from conftest import VOCAB


def make_tiny_folder(folder: Path) -> Path:
    """Save a tiny random `zoo.ZooModel` (hidden 32, 2 layers, with pooler) and a BertTokenizerFast to `folder`."""
    from transformers import BertTokenizerFast

    torch.manual_seed(0)
    cfg = zoo.ZooConfig(vocab_size=21128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=128, type_vocab_size=2)
    zoo.ZooModel(cfg).save_pretrained(folder)
    BertTokenizerFast(vocab=str(VOCAB / "bert_chinese_vocab.txt")).save_pretrained(folder)
    return folder
