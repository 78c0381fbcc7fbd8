"""WoBERT: word-level Chinese BERT with the exact bert4keras jieba tokenizer."""

from wobert.modeling import WoBertForMaskedLM, WoBertModel, fill_mask
from wobert.tokenization import WoBertConfig, WoBertTokenizer
from wobert.vocab import build_word_vocab, convert_char_checkpoint, simplify_vocab

__all__ = ["WoBertTokenizer", "WoBertModel", "WoBertForMaskedLM", "fill_mask", "simplify_vocab",
           "build_word_vocab", "convert_char_checkpoint", "WoBertConfig"]
