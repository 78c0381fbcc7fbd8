"""WoBERT: word-level Chinese BERT with the exact bert4keras jieba tokenizer."""
