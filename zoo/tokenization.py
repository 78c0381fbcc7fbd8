"""The bert4keras char/WordPiece tokenizer (bert4keras 0.8.8 `Tokenizer`, the version WoBERT pins), with offsets.

Behaviour that changed between bert4keras versions follows 0.8.8, except for the word-length cap:
- an unmatched WordPiece position emits that single character (``##`` if not first) and continues, so only
  that piece becomes [UNK] (HEAD emits the whole word as-is);
- a word (after the basic split) longer than ``max_word_chars`` characters (200, bert4keras HEAD's
  ``word_maxlen``; HF BERT uses 100) is emitted whole, so it becomes [UNK], as in HEAD; 0.8.8 had no limit,
  which made a long word cost cubic time. The released vocabs' longest token has 45 characters, so words up to
  the cap tokenize exactly as in 0.8.8.
``truncate_from="left"`` (HEAD only) is supported as well; it changes nothing unless asked for.

Offsets: every token gets ``(start, end)`` character offsets into the *original* text, also when lowercasing
or accent stripping changed the text that the rules run on.
"""

from __future__ import annotations

import difflib
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import accumulate, chain, compress
from pathlib import Path
from typing import Union

__all__ = ["MAX_WORD_CHARS", "Tokenizer", "load_vocab", "simplify_vocab", "is_cjk_character", "is_punctuation"]

PathLike = Union[str, os.PathLike]
Piece = tuple[str, int, int]

_CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)
# bert4keras Tokenizer._cjk_punctuation(): decode removes the space after these.
_CJK_PUNCTUATION = (
    "\uff02\uff03\uff04\uff05\uff06\uff07\uff08\uff09\uff0a\uff0b\uff0c\uff0d\uff0f\uff1a\uff1b\uff1c\uff1d\uff1e"
    "\uff20\uff3b\uff3c\uff3d\uff3e\uff3f\uff40\uff5b\uff5c\uff5d\uff5e\uff5f\uff60\uff62\uff63\uff64\u3000\u3001"
    "\u3003\u3008\u3009\u300a\u300b\u300c\u300d\u300e\u300f\u3010\u3011\u3014\u3015\u3016\u3017\u3018\u3019\u301a"
    "\u301b\u301c\u301d\u301e\u301f\u3030\u303e\u303f\u2013\u2014\u2018\u2019\u201b\u201c\u201d\u201e\u201f\u2026"
    "\u2027\ufe4f\ufe51\ufe54\u00b7\uff01\uff1f\uff61\u3002"
)
_DECODE_NO_SPACE_AFTER = re.compile("(%s) " % "|".join(re.escape(p) for p in _CJK_PUNCTUATION + "+-/={(<["))
_DECODE_CONTRACTION = re.compile("' (re|m|s|t|ve|d|ll) ")
_DECODE_DECIMAL = re.compile(r"(\d\.) (\d)")
_SPACES = re.compile(" +")

# Category So in the Unicode 5.2 of Python 2 (bojone's vocab builds), Po since Unicode 6.1.
_LEGACY_SYMBOLS = frozenset("\u00a7\u00b6")

MAX_WORD_CHARS = 200  # bert4keras HEAD's word_maxlen

# Character classes of bert4keras' basic split (`_is_punctuation`, `_is_cjk_character`, `_is_control`).
_KEEP, _SPLIT, _SPACE, _DROP = 0, 1, 2, 3


# Characters that end a word for the basic split, a han block for jieba and a context for str.lower().
_HARD_BOUNDARY = re.compile("[ \t\n\r\uff0c\u3002\uff01\uff1f\uff1b\u3001,;!?]")


def _hard_boundary_after(text: str, pos: int) -> int | None:
    """End index of the first hard boundary at or after ``pos`` that is not followed by a combining mark."""
    for match in _HARD_BOUNDARY.finditer(text, pos):
        end = match.end()
        if end >= len(text) or not unicodedata.category(text[end]).startswith("M"):
            return end
    return None


def is_cjk_character(ch: str) -> bool:
    """bert4keras ``_is_cjk_character``: the CJK Unified Ideograph blocks (not CJK punctuation)."""
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _CJK_RANGES)


def is_punctuation(ch: str) -> bool:
    """bert4keras ``_is_punctuation``: ASCII symbols or any Unicode category P*."""
    code = ord(ch)
    return (
        33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126
        or unicodedata.category(ch).startswith("P")
    )


def _is_space(ch: str) -> bool:
    return ch in " \n\r\t" or unicodedata.category(ch) == "Zs"


def _char_class(ch: str, cache: dict[str, int] = {}) -> int:  # noqa: B006 - deliberate memo
    kind = cache.get(ch)
    if kind is None:
        if is_punctuation(ch) or is_cjk_character(ch):
            kind = _SPLIT
        elif _is_space(ch):
            kind = _SPACE
        elif ord(ch) in (0, 0xFFFD) or unicodedata.category(ch) in ("Cc", "Cf"):
            kind = _DROP
        else:
            kind = _KEEP
        cache[ch] = kind
    return kind


def _is_special(token: str) -> bool:
    return bool(token) and token[0] == "[" and token[-1] == "]"


def _stem(token: str) -> str:
    return token[2:] if token[:2] == "##" else token


def load_vocab(path: PathLike, encoding: str = "utf-8", simplified: bool = False,
               startswith: Sequence[str] | None = None):
    """Read a vocab.txt: token = first whitespace-separated field of each line, id = line index.

    Lines are split like bert4keras (Python text mode: ``\\n``, ``\\r`` and ``\\r\\n`` end a line; a line holding
    only whitespace such as U+2028 is the token ``""``). If a token occurs twice the later line wins for
    token -> id. With ``simplified=True`` returns ``simplify_vocab(vocab, startswith)``.
    """
    vocab: dict[str, int] = {}
    with open(path, encoding=encoding) as reader:
        for index, line in enumerate(reader):
            fields = line.split()
            vocab[fields[0] if fields else line.strip()] = index
    if not vocab:
        raise ValueError(f"vocab file {path} is empty")
    if simplified:
        return simplify_vocab(vocab, startswith)
    return vocab


def save_vocab(vocab: Mapping[str, int], path: PathLike) -> Path:
    """Write a vocab.txt that `load_vocab` reads back: one token per line in id order (ids must be 0..N-1)."""
    tokens = sorted(vocab, key=vocab.__getitem__)
    if [vocab[t] for t in tokens] != list(range(len(tokens))):
        raise ValueError("vocab ids must be exactly 0..N-1")
    path = Path(path)
    path.write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    return path


def simplify_vocab(vocab: Mapping[str, int], startswith: Sequence[str] | None = None
                   ) -> tuple[dict[str, int], list[int]]:
    """bert4keras ``load_vocab(simplified=True)``: drop tokens that can never be produced for Chinese text.

    The ``startswith`` tokens come first, in that order; then every other token in id order unless it is longer
    than one character and (after a leading ``##``) contains a CJK or punctuation character.
    Punctuation here uses the Unicode 5.2 categories of the Python 2 that built the released vocabs: § and ¶
    (category So before Unicode 6.1) are not punctuation, so ``##§`` is kept as in the WoBERT base vocab and the
    13585/13586-token simplified Google vocab.
    Returns ``(new_vocab, keep_tokens)`` with ``keep_tokens[new_id] = old_id``.
    """
    new_vocab: dict[str, int] = {}
    keep_tokens: list[int] = []
    for token in startswith or ():
        if token not in vocab:
            raise ValueError(f"startswith token {token!r} is not in the vocab")
        if token not in new_vocab:
            new_vocab[token] = len(new_vocab)
            keep_tokens.append(vocab[token])
    for token, old_id in sorted(vocab.items(), key=lambda item: item[1]):
        if token in new_vocab:
            continue
        if len(token) > 1 and any(
            is_cjk_character(c) or (is_punctuation(c) and c not in _LEGACY_SYMBOLS) for c in _stem(token)
        ):
            continue
        new_vocab[token] = len(new_vocab)
        keep_tokens.append(old_id)
    return new_vocab, keep_tokens


def _lowercase_and_normalize(text: str) -> str:
    """lower(), NFD, drop category Mn: exactly bert4keras' do_lower_case step."""
    text = unicodedata.normalize("NFD", text.lower())
    return "".join(ch for ch in text if unicodedata.category(ch) != "Mn")


def normalize_with_map(text: str) -> tuple[str, list[int] | None]:
    """Normalized text and, for each of its characters, the index of the original character it came from.

    The map is None when normalization changed nothing (the common case, so it is cheap).
    """
    lowered = text.lower()
    if lowered.isascii() or (unicodedata.is_normalized("NFD", lowered) and not _has_mn(lowered)):
        if len(lowered) == len(text):
            return lowered, None
    exact = _lowercase_and_normalize(text)
    pieces, index_map = [], []
    for i, ch in enumerate(text):
        piece = _lowercase_and_normalize(ch)
        pieces.append(piece)
        index_map.extend([i] * len(piece))
    approx = "".join(pieces)
    if len(approx) == len(exact):
        # the whole-text rules only substituted characters (final sigma), so positions still correspond
        return exact, index_map
    # Context-dependent rules (final sigma, mark reordering): align the exact text to the per-char one.
    aligned = [0] * len(exact)
    last = 0
    matcher = difflib.SequenceMatcher(None, approx, exact, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        for k in range(b0, b1):
            if tag == "equal":
                last = index_map[a0 + k - b0]
            elif a0 < a1:
                last = index_map[min(a0 + k - b0, a1 - 1)]
            aligned[k] = last
    return exact, aligned


_MN_RES: tuple[re.Pattern, re.Pattern] | None = None
_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")


def _mn_class(codes: Iterable[int], escape: str) -> str:
    """A regex character class of the Mn code points among ``codes`` (contiguous runs as ranges)."""
    runs: list[list[int]] = []
    for code in codes:
        if unicodedata.category(chr(code)) == "Mn":
            if runs and runs[-1][1] == code - 1:
                runs[-1][1] = code
            else:
                runs.append([code, code])
    return "[%s]" % "".join(f"{escape % a}-{escape % b}" for a, b in runs)


def _has_mn(text: str) -> bool:
    """Whether ``text`` holds a nonspacing mark (category Mn), at C speed: the BMP class compiles to a lookup
    table; the astral class (a slow range list) only runs on texts that have astral characters."""
    global _MN_RES
    if _MN_RES is None:
        astral = [*range(0x10000, 0x20000), *range(0xE0000, 0xE1000)]  # the astral planes holding Mn
        _MN_RES = (re.compile(_mn_class(range(0x10000), "\\u%04x")), re.compile(_mn_class(astral, "\\U%08x")))
    bmp, astral = _MN_RES
    return bmp.search(text) is not None or (_ASTRAL.search(text) is not None and astral.search(text) is not None)


def _read_pre_tokenizer(pre_tokenize) -> Callable[[str], list[Piece]] | None:
    """Accept a bert4keras-style ``pre_tokenize(text) -> iterable of str`` or an object with
    ``cut_with_offsets`` (e.g. ``zoo.segmentation.Segmenter``) and return a function giving offsets."""
    if pre_tokenize is None:
        return None
    with_offsets = getattr(pre_tokenize, "cut_with_offsets", None)
    if with_offsets is not None:
        return with_offsets
    if not callable(pre_tokenize):
        raise TypeError("pre_tokenize must be a callable text -> pieces or have a cut_with_offsets method")

    def pieces_with_offsets(text: str) -> list[Piece]:
        out, pos = [], 0
        for piece in pre_tokenize(text):
            if not piece:
                continue
            if text.startswith(piece, pos):
                start = pos
            else:
                start = text.find(piece, pos)
                if start < 0:
                    raise ValueError(f"pre_tokenize produced {piece!r}, which is not in the text")
            pos = start + len(piece)
            out.append((piece, start, pos))
        return out

    return pieces_with_offsets


class Tokenizer:
    """bert4keras ``Tokenizer`` (0.8.8 semantics) with character offsets into the input.

    ``vocab`` is a vocab.txt path or a dict token -> id. ``pre_tokenize`` (e.g. a jieba ``Segmenter``) runs on
    the lowercased text; a piece that is a vocab token is one token, any other piece goes through the basic
    split + WordPiece on its own (never through a second pre-tokenization). ``max_word_chars``: longer words
    become one [UNK] token (None: no limit, bert4keras 0.8.8).
    """

    def __init__(self, vocab: PathLike | Mapping[str, int], do_lower_case: bool = True, pre_tokenize=None,
                 token_start: str | None = "[CLS]", token_end: str | None = "[SEP]",
                 token_unk: str = "[UNK]", token_pad: str = "[PAD]", token_mask: str = "[MASK]",
                 cache_size: int = 200_000, max_word_chars: int | None = MAX_WORD_CHARS):
        if isinstance(vocab, (str, os.PathLike)):
            vocab = load_vocab(vocab)
        if not isinstance(vocab, Mapping) or not vocab:
            raise ValueError("vocab must be a non-empty mapping token -> id or a vocab file path")
        self.vocab: dict[str, int] = dict(vocab)
        self._inv = {i: t for t, i in self.vocab.items()}
        self.do_lower_case = do_lower_case
        self.pre_tokenize = pre_tokenize
        self._pieces = _read_pre_tokenizer(pre_tokenize)
        # words only (offsets follow from their lengths): the fast path of zoo.segmentation.Segmenter
        self._cut = getattr(pre_tokenize, "cut", None) if hasattr(pre_tokenize, "cut_with_offsets") else None
        self._prefix_safe = pre_tokenize is None or getattr(pre_tokenize, "prefix_safe", False) is True
        self.token_start, self.token_end = token_start, token_end
        self.token_unk, self.token_pad, self.token_mask = token_unk, token_pad, token_mask
        if token_unk not in self.vocab:
            raise ValueError(f"the unknown token {token_unk!r} is not in the vocab")
        self.unk_id = self.vocab[token_unk]
        self.pad_id = self.vocab.get(token_pad)
        self.mask_id = self.vocab.get(token_mask)
        self.start_id = self.vocab.get(token_start) if token_start else None
        self.end_id = self.vocab.get(token_end) if token_end else None
        # word -> its tokens / their spans inside the word, and the words needing a splice (see _memo)
        self._expansions: tuple[dict, dict, set] = ({}, {}, set())
        self._cache_size = cache_size
        if max_word_chars is not None and (isinstance(max_word_chars, bool) or not isinstance(max_word_chars, int)
                                           or max_word_chars < 1):
            raise ValueError(f"max_word_chars must be a positive int or None, got {max_word_chars!r}")
        self.max_word_chars = max_word_chars
        self._prefixes: frozenset[str] | None = None  # every prefix of every token, built on first WordPiece

    # ---- vocabulary ----
    def __len__(self) -> int:
        return len(self._inv)

    @property
    def vocab_size(self) -> int:
        return len(self._inv)

    def token_to_id(self, token: str) -> int:
        return self.vocab.get(token, self.unk_id)

    def tokens_to_ids(self, tokens: Iterable[str]) -> list[int]:
        get, unk = self.vocab.get, self.unk_id
        return [get(t, unk) for t in tokens]

    def id_to_token(self, i: int) -> str:
        try:
            return self._inv[int(i)]
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"token id {i!r} is not in the vocab (size {len(self._inv)})") from None

    def ids_to_tokens(self, ids: Iterable[int]) -> list[str]:
        return [self.id_to_token(i) for i in ids]

    # ---- tokenization ----
    def tokenize(self, text: str, maxlen: int | None = None) -> list[str]:
        """Tokens with [CLS] ... [SEP]; ``maxlen`` truncates just before [SEP] like bert4keras.

        With ``maxlen`` only a prefix of a long text is tokenized (see ``_leading_tokens``): the work is bounded
        by the output, and the tokens are the same.
        """
        if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(maxlen, int) or maxlen < 0):
            raise ValueError(f"maxlen must be an int >= 0, got {maxlen!r}")
        tokens = self._with_specials(self._leading_tokens(text, None if maxlen is None else maxlen + 2))
        if maxlen is not None:
            self._truncate(maxlen, tokens, None, -(int(self.token_end is not None) + 1))
        return tokens

    def _with_specials(self, tokens: list[str]) -> list[str]:
        if self.token_start is not None:
            tokens.insert(0, self.token_start)
        if self.token_end is not None:
            tokens.append(self.token_end)
        return tokens

    def _leading_tokens(self, text: str, at_least: int | None) -> list[str]:
        """The tokens of ``text`` (no [CLS]/[SEP]), or, when ``at_least`` is given and the text is long, the
        first tokens of it: more than ``at_least`` of them whenever the whole text has that many.

        A prefix ending at a hard boundary (whitespace or a sentence punctuation mark, not followed by a combining
        mark) tokenizes to a prefix of the whole text's tokens: the basic split, jieba's han blocks and the
        lowercasing rules (final sigma) all stop there. The prefix grows geometrically, so the work stays
        proportional to the tokens kept. Other pre-tokenizers are run on the whole text unless they declare
        ``prefix_safe = True``.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        cut = 4 * (at_least or 0) + 256
        if at_least is None or len(text) <= cut or not self._prefix_safe:
            return self.tokenize_spans(text, offsets=False)[0]
        while cut < len(text):
            end = _hard_boundary_after(text, cut)
            if end is None:
                break
            tokens = self.tokenize_spans(text[:end], offsets=False)[0]
            if len(tokens) > at_least:
                return tokens
            cut = 4 * end
        return self.tokenize_spans(text, offsets=False)[0]

    def tokenize_with_offsets(self, text: str) -> list[Piece]:
        """``(token, start, end)`` for every token of ``text`` (no [CLS]/[SEP]); offsets index ``text``."""
        tokens, spans = self.tokenize_spans(text)
        return [(t, a, b) for t, (a, b) in zip(tokens, spans)]

    def tokenize_spans(self, text: str, offsets: bool = True) -> tuple[list[str], list[tuple[int, int]] | None]:
        """``(tokens, spans)``: the fast form of ``tokenize_with_offsets``, spans as ``(start, end)`` tuples;
        with ``offsets=False`` only the tokens are computed and spans is None."""
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        if self.do_lower_case and not offsets:
            norm, index_map = _lowercase_and_normalize(text), None
        elif self.do_lower_case:
            norm, index_map = normalize_with_map(text)
        else:
            norm, index_map = text, None
        if self._pieces is None:
            pieces = self._basic_wordpiece(norm, 0)
            tokens, spans = [t for t, _, _ in pieces], [(a, b) for _, a, b in pieces]
        else:
            tokens, spans = self._pretokenized(norm, offsets)
        if not offsets:
            return tokens, None
        if index_map is not None:
            spans = [(index_map[a], index_map[b - 1] + 1) for a, b in spans]
        return tokens, spans

    def _pretokenized(self, norm: str, offsets: bool = True) -> tuple[list[str], list[tuple[int, int]] | None]:
        """Vocab words as they are, other pieces through the basic split + WordPiece.

        Each distinct word's expansion is memoized. Most words are one token spanning the whole word, so tokens
        and spans are the words and their spans (C-level passes); only the few other words are spliced in.
        """
        if self._cut is not None:
            words = self._cut(norm)
            spans = None
            if offsets:
                ends = list(accumulate(map(len, words)))
                spans = list(zip([0, *ends], ends))
        else:
            pieces = self._pieces(norm)
            words = [w for w, _, _ in pieces]
            spans = [(a, b) for _, a, b in pieces]
        tokens_of, spans_of, special = self._memo(words)
        odd = list(compress(range(len(words)), map(special.__contains__, words)))
        if not odd:
            return words, spans
        tokens = list(chain.from_iterable(map(tokens_of.__getitem__, words)))
        if not offsets:
            return tokens, None
        out: list[tuple[int, int]] = []
        prev = 0
        for i in odd:
            out += spans[prev:i]
            shift = spans[i][0]
            out += [(shift + a, shift + b) for a, b in spans_of[words[i]]]
            prev = i + 1
        out += spans[prev:]
        return tokens, out

    def __getstate__(self) -> dict:
        """Pickled without the lazily built caches (word expansions, vocab prefixes), so a used and an unused
        tokenizer pickle (and hash) alike."""
        return {**self.__dict__, "_expansions": ({}, {}, set()), "_prefixes": None}

    def _memo(self, words: list[str]) -> tuple[dict, dict, set]:
        """Per distinct word: its tokens and their spans inside the word; ``special`` holds the words that are not
        exactly one token spanning the whole word."""
        tokens_of, spans_of, special = tables = self._expansions
        new = set(words).difference(tokens_of)
        if new:
            if len(tokens_of) + len(new) > self._cache_size:
                for table in tables:
                    table.clear()
                new = set(words)
            for word in new:
                pieces = [(word, 0, len(word))] if word in self.vocab else self._basic_wordpiece(word, 0)
                tokens_of[word] = tuple(t for t, _, _ in pieces)
                spans_of[word] = tuple((a, b) for _, a, b in pieces)
                if len(pieces) != 1 or pieces[0] != (word, 0, len(word)):
                    special.add(word)
        return tables

    def _basic_wordpiece(self, text: str, offset: int) -> list[Piece]:
        """Basic split (punctuation/CJK alone, whitespace separates, controls dropped) then WordPiece."""
        out: list[Piece] = []
        word_start, chars = -1, []
        for i, ch in enumerate(text):
            kind = _char_class(ch)
            if kind == _KEEP:
                if word_start < 0:
                    word_start, chars = i, []
                chars.append(i)
                continue
            if word_start >= 0:
                out.extend(self._wordpiece(text, chars, offset))
                word_start = -1
            if kind == _SPLIT:
                out.append((ch, offset + i, offset + i + 1))
        if word_start >= 0:
            out.extend(self._wordpiece(text, chars, offset))
        return out

    def _wordpiece(self, text: str, positions: list[int], offset: int) -> list[Piece]:
        """Greedy longest-match-first WordPiece (0.8.8: an unmatched position emits that one character).

        ``positions`` are the indices of the word's characters in ``text`` (dropped control characters may sit
        between them, as in bert4keras where they are removed before the split).
        """
        word = "".join(text[p] for p in positions)
        vocab = self.vocab
        n = len(word)
        if word in vocab or (self.max_word_chars is not None and n > self.max_word_chars):
            return [(word, offset + positions[0], offset + positions[-1] + 1)]
        prefixes = self._prefixes
        if prefixes is None:
            prefixes = self._prefixes = frozenset(t[:i] for t in vocab for i in range(1, len(t) + 1))
        # Candidates grow from the left while they are a prefix of some token, so each position costs the length
        # of its longest match, not of the word; the longest candidate in the vocab is the greedy choice.
        out: list[Piece] = []
        start = 0
        while start < n:
            head = "##" if start > 0 else ""
            stop = match = start
            while stop < n and head + word[start : stop + 1] in prefixes:
                stop += 1
                if head + word[start:stop] in vocab:
                    match = stop
            stop = match if match > start else start + 1  # unmatched: that one character
            out.append((head + word[start:stop], offset + positions[start], offset + positions[stop - 1] + 1))
            start = stop
        return out

    # ---- encode / decode ----
    @staticmethod
    def _truncate(maxlen: int, first: list, second: list | None, pop_index: int) -> None:
        """Pop from the longer sequence (ties: the first) at ``pop_index`` until the total fits."""
        second = second if second is not None else []
        while len(first) + len(second) > maxlen:
            if len(first) >= len(second):
                if not first:
                    break
                first.pop(pop_index)
            else:
                second.pop(pop_index)

    def encode(self, first: str | list[str], second: str | list[str] | None = None, maxlen: int | None = None,
               pattern: str = "S*E*E", truncate_from: str | int = "right") -> tuple[list[int], list[int]]:
        """bert4keras ``encode``: ``(token_ids, segment_ids)``; texts or token lists (with their specials)."""
        first_tokens, second_tokens = self._encode_tokens(first, second, maxlen, pattern, truncate_from)
        ids = self.tokens_to_ids(first_tokens)
        segments = [0] * len(ids)
        if second_tokens is not None:
            ids.extend(self.tokens_to_ids(second_tokens))
            segments.extend([1] * len(second_tokens))
        return ids, segments

    def _encode_tokens(self, first, second, maxlen, pattern, truncate_from):
        if pattern not in ("S*E*E", "S*ES*E"):
            raise ValueError(f"pattern must be 'S*E*E' or 'S*ES*E', got {pattern!r}")
        if maxlen is not None and (not isinstance(maxlen, int) or maxlen < 2):
            raise ValueError(f"maxlen must be an int >= 2, got {maxlen!r}")
        # Truncating from the right keeps a prefix of each text; either keeps at most maxlen + 1 tokens, and the
        # result only depends on lengths up to that, so a long text need not be tokenized to its end.
        limit = maxlen + 1 if maxlen is not None and truncate_from == "right" else None

        def tokens_of(text):
            return self._with_specials(self._leading_tokens(text, limit)) if isinstance(text, str) else list(text)

        first_tokens = tokens_of(first)
        second_tokens = None if second is None else tokens_of(second)
        if maxlen is not None:
            if truncate_from == "right":
                index = -int(self.token_end is not None) - 1
            elif truncate_from == "left":
                index = int(self.token_start is not None)
            elif isinstance(truncate_from, int):
                index = truncate_from
            else:
                raise ValueError(f"truncate_from must be 'right', 'left' or an int, got {truncate_from!r}")
            if second is not None and pattern == "S*E*E":
                maxlen += 1
            self._truncate(maxlen, first_tokens, second_tokens, index)
        if second is not None and pattern == "S*E*E" and isinstance(second, str):
            second_tokens = second_tokens[int(bool(self.token_start)):]
        return first_tokens, second_tokens

    def decode(self, ids: Iterable[int], tokens: list[str] | None = None) -> str:
        """bert4keras ``Tokenizer.decode``: drop [..] tokens, glue CJK and ## pieces, space ASCII words."""
        tokens = tokens or self.ids_to_tokens(ids)
        tokens = [t for t in tokens if not _is_special(t)]
        text = ""
        for i, token in enumerate(tokens):
            if token[:2] == "##":
                text += token[2:]
            elif len(token) == 1 and is_cjk_character(token):
                text += token
            elif len(token) == 1 and is_punctuation(token):
                text += token + " "
            elif i > 0 and text and is_cjk_character(text[-1]):
                text += token
            else:
                text += " " + token
        text = _SPACES.sub(" ", text)
        text = _DECODE_CONTRACTION.sub("'\\1 ", text)
        text = _DECODE_NO_SPACE_AFTER.sub("\\1", text)
        text = _DECODE_DECIMAL.sub("\\1\\2", text)
        return text.strip()
