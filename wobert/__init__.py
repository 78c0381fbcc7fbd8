"""WoBERT: word-level Chinese BERT with the exact bert4keras jieba tokenizer."""

from pathlib import Path

from wobert.modeling import WoBertForMaskedLM, WoBertModel, fill_mask
from wobert.tokenization import WoBertConfig, WoBertTokenizer
from wobert.vocab import build_word_vocab, convert_char_checkpoint, simplify_vocab

__all__ = ["default_tokenizer_path", "WoBertTokenizer", "WoBertModel", "WoBertForMaskedLM", "fill_mask", "simplify_vocab",
           "build_word_vocab", "convert_char_checkpoint", "WoBertConfig"]


def default_tokenizer_path() -> Path:
    """The shipped WoBERT-Plus tokenizer folder (the vocab of `junnyu/wobert_chinese_plus_base`, no weights)."""
    return Path(__file__).resolve().parent / "resources" / "wobert_plus"
