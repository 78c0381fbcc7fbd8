"""SPACES generator vocabulary (bojone/SPACES seq2seq_model.py) and the word tokenizer the generator uses."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from zoo.tokenization import save_vocab

from .metrics import OFFICIAL_USER_DICT, segmenter

__all__ = ["SPECIALS", "build_spaces_vocab", "read_user_dict", "save_vocab", "word_tokenizer"]

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]


def read_user_dict(path: str | Path) -> list[str]:
    """Words of a jieba user dictionary (first field of each non-empty line)."""
    with open(path, encoding="utf-8") as f:
        return [line.split()[0] for line in f if line.split()]


def build_spaces_vocab(base_vocab: str | Path, user_dicts: Sequence[str | Path]
                       ) -> tuple[dict[str, int], list[int], list[list[int]]]:
    """SPACES vocab: the base vocab simplified with 4 specials, then every user-dict word not yet present.

    Returns (token -> id, keep_tokens, compound_tokens): keep_tokens maps new ids of the simplified part to base
    ids; compound_tokens[k] are the (simplified) char ids whose mean initialises appended word k.
    """
    from zoo.tokenization import Tokenizer, load_vocab, simplify_vocab

    vocab, keep_tokens = simplify_vocab(load_vocab(base_vocab), startswith=SPECIALS)
    char_tokenizer = Tokenizer(dict(vocab), do_lower_case=True)
    compound_tokens = []
    for path in user_dicts:
        for word in read_user_dict(path):
            if word not in vocab:
                vocab[word] = len(vocab)
                compound_tokens.append(char_tokenizer.encode(word)[0][1:-1])
    return vocab, keep_tokens, compound_tokens


def word_tokenizer(vocab: str | Path | dict, user_dict: str | Path | None = OFFICIAL_USER_DICT):
    """The generator tokenizer: lowercase, jieba words (HMM off, user dict) that are vocab tokens, else chars."""
    from zoo.tokenization import Tokenizer

    return Tokenizer(vocab, do_lower_case=True, pre_tokenize=segmenter(str(user_dict) if user_dict else None))
