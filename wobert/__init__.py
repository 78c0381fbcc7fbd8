"""WoBERT: word-level Chinese BERT with the exact bert4keras jieba tokenizer."""

from wobert.tokenization import WoBertConfig, WoBertTokenizer

__all__ = ["WoBertConfig", "WoBertTokenizer"]
