"""Vocab tools for WoBERT (the recipe of ZhuiyiTechnology/WoBERT): simplify a char vocab, add jieba words, convert a char checkpoint.

WoBERT base = RoBERTa-wwm-ext's vocab simplified with 5 specials (13,586 tokens) + the 20,000 most frequent words
of jieba's dictionary that are not already present (33,586). New word rows of the embedding and the MLM bias start
as the mean of the rows of the word's characters (bert4keras ``compound_tokens``).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from zoo.tokenization import Tokenizer, load_vocab, save_vocab, simplify_vocab

__all__ = ["simplify_vocab", "build_word_vocab", "jieba_dictionary_words", "save_vocab", "compound_tokens_for",
           "convert_char_checkpoint", "WOBERT_SPECIALS"]

WOBERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _as_vocab(vocab: Mapping[str, int] | str | os.PathLike) -> dict[str, int]:
    return load_vocab(vocab) if isinstance(vocab, (str, os.PathLike)) else dict(vocab)


def jieba_dictionary_words(dictionary: str | os.PathLike | None = None) -> list[tuple[str, int]]:
    """``(word, frequency)`` of a jieba dictionary file (default: jieba's own dict.txt), in file order."""
    if dictionary is None:
        import jieba

        dictionary = Path(jieba.__file__).parent / "dict.txt"
    words = []
    with open(dictionary, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 2 and fields[1].isdigit():
                words.append((fields[0], int(fields[1])))
    return words


def build_word_vocab(char_vocab: Mapping[str, int] | str | os.PathLike, num_words: int = 20000,
                     corpus: Iterable[str] | None = None, segmenter=None,
                     dictionary: str | os.PathLike | None = None) -> dict[str, int]:
    """Char vocab + the ``num_words`` most frequent words not already in it (WoBERT's recipe).

    Frequencies come from jieba's dictionary (the default, as WoBERT did; ties keep dictionary order) or, given
    ``corpus`` (an iterable of texts), from counting the HMM-off jieba words of the corpus (``segmenter``: a
    ``zoo.segmentation.Segmenter``; ties keep first-seen order). Texts are lowercased like the tokenizer does.
    """
    if num_words < 0:
        raise ValueError("num_words must be >= 0")
    vocab = _as_vocab(char_vocab)
    if corpus is None:
        ranked = [w for w, _ in sorted(jieba_dictionary_words(dictionary), key=lambda item: -item[1])]
    else:
        from zoo.segmentation import default_segmenter
        from zoo.tokenization import normalize_with_map

        segmenter = segmenter or default_segmenter()
        counts: Counter[str] = Counter()
        for text in corpus:
            counts.update(segmenter.cut(normalize_with_map(text)[0]))
        ranked = [w for w, _ in counts.most_common() if w.strip()]
    out = dict(vocab)
    next_id = max(vocab.values()) + 1 if vocab else 0
    added = 0
    for word in ranked:
        if added >= num_words:
            break
        if word not in out:
            out[word] = next_id
            next_id += 1
            added += 1
    return out


def compound_tokens_for(words: Sequence[str], char_vocab: Mapping[str, int]) -> list[list[int]]:
    """For each word, the ids of its plain (no jieba) char/WordPiece tokens in ``char_vocab``: the rows whose mean
    initialises the word's embedding and MLM bias. A word with no known piece falls back to [UNK]."""
    tok = Tokenizer(dict(char_vocab), token_start=None, token_end=None)
    out = []
    for word in words:
        ids = tok.encode(word)[0]
        out.append(ids or [tok.unk_id])
    return out


def convert_char_checkpoint(checkpoint: str | os.PathLike, word_vocab: Mapping[str, int] | str | os.PathLike,
                            output_dir: str | os.PathLike, char_vocab: str | os.PathLike | None = None):
    """Char-level BERT checkpoint -> WoBERT initial checkpoint (+ WoBertTokenizer) in ``output_dir``.

    ``word_vocab`` lists first tokens of the checkpoint's vocab (any subset, e.g. the simplified one: their rows
    are kept, bert4keras ``keep_tokens``), then new words (rows = mean of their characters' rows,
    ``compound_tokens``). ``char_vocab`` defaults to the checkpoint's vocab.txt. Returns the ``ZooForLM`` model.
    """
    import zoo
    from wobert.tokenization import WoBertTokenizer

    checkpoint = Path(checkpoint)
    original = load_vocab(char_vocab or checkpoint / "vocab.txt")
    words = _as_vocab(word_vocab)
    ordered = sorted(words, key=words.get)
    if [words[t] for t in ordered] != list(range(len(ordered))):
        raise ValueError("word_vocab ids must be exactly 0..N-1")
    n_kept = next((i for i, t in enumerate(ordered) if t not in original), len(ordered))
    if any(t in original for t in ordered[n_kept:]):
        raise ValueError("word_vocab must list the checkpoint's tokens first, then the new words")
    kept = {t: i for i, t in enumerate(ordered[:n_kept])}
    keep_tokens = [original[t] for t in ordered[:n_kept]]
    compounds = compound_tokens_for(ordered[n_kept:], kept)
    model = zoo.from_pretrained(checkpoint, head="mlm", keep_tokens=keep_tokens, compound_tokens=compounds)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output_dir)
    vocab_path = save_vocab(words, output_dir / "vocab.txt")
    WoBertTokenizer(str(vocab_path)).save_pretrained(output_dir)
    return model
