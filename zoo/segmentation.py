"""jieba word segmentation, exactly python jieba's ``cut(text, HMM=False)``, fast through rjieba.

Why both: python jieba 0.42.1 is the reference (WoBERT and SPACES were built on it) but slow; rjieba (jieba-rs)
runs the same dictionary, DAG and max-log-frequency route in Rust, 10-30x faster. The fast path is used only
where it provably gives python jieba's result:

- Dictionary: the default rjieba dictionary is jieba's ``dict.txt`` (every one of its 349,046 words is present;
  tested). User dictionaries are loaded into a private python ``jieba.Tokenizer`` (never the global one) and every
  ``add_word`` it performs is replayed into a private ``rjieba.Jieba`` with the frequency python settled on.
  python jieba adds each entry's frequency to its total even when the word already existed while jieba-rs
  replaces the old frequency, and the total changes which route wins; the difference is added back through a
  word that can never match (it holds a character outside every han block).
- Han blocks: jieba-rs also treats CJK Extension A-F and compatibility ideographs as han; python jieba yields
  them as single characters. A dictionary word holding one of them is never added to the Rust side, and a text
  holding one is cut at those characters (python jieba's own block boundaries), so results stay identical.
- A dictionary that needs a frequency-0 word (force split) or ``hmm=True``: python jieba only.
- Lone surrogates (what Python makes of undecodable argv/stdin bytes) cannot cross into Rust; python jieba
  yields each as a single word, so the text is cut at them the same way.
- Frequencies that do not fit jieba-rs' 64-bit counters (python jieba takes any integer): python jieba only.
- Every fast result is checked to cover the text exactly; otherwise python jieba answers.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from itertools import accumulate
from typing import Union

__all__ = ["Segmenter", "default_segmenter", "text_segmentate"]

PathLike = Union[str, os.PathLike]

# python jieba's han-block class (jieba.re_han_default); words outside it can never be produced.
_PY_HAN_WORD = re.compile("[\u4E00-\u9FD5a-zA-Z0-9+#&\\._%\\-]+")
# Characters jieba-rs treats as han but python jieba does not (measured on rjieba 0.2.2, all code points).
_RUST_ONLY_HAN = re.compile(
    "[\u3400-\u4DBF\u9FD6-\u9FFF\uF900-\uFAFF\U00020000-\U0002A6DF\U0002A700-\U0002EBEF\U0002F800-\U0002FA1F]"
)
# Characters cut out of the text before it goes to rjieba: each is a word of its own, as in python jieba.
_RUST_SPLIT = re.compile(f"{_RUST_ONLY_HAN.pattern}|[\ud800-\udfff]")
# Largest frequency / total passed to jieba-rs (u64 counters that must not overflow when summed).
_RUST_MAX_FREQ = 2**56
# Carries the total-frequency correction; U+0001 is outside every han block, so it is never matched.
_TOTAL_CARRIER = "\u0001zoo-total\u0001"


class _RecordingJieba:
    """Factory for a private python jieba Tokenizer that records every add_word (word, final frequency)."""

    @staticmethod
    def create():
        import jieba

        class Recording(jieba.Tokenizer):
            def __init__(self):
                super().__init__()
                self.added: list[tuple[str, int, int]] = []  # (word, frequency before, frequency after)

            def add_word(self, word, freq=None, tag=None):
                self.check_initialized()
                word = jieba.strdecode(word)
                old = self.FREQ.get(word, 0)
                super().add_word(word, freq, tag)
                self.added.append((word, old, self.FREQ[word]))

        return Recording()


def _quiet_jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


class Segmenter:
    """jieba segmentation identical to python ``jieba.cut(text, HMM=hmm)`` with the given user dictionaries.

    ``user_dicts``: jieba user-dictionary files (``word [freq] [tag]`` per line), loaded in order.
    ``fast``: use rjieba where it is exact (see module docs); ``False`` forces python jieba.
    """

    prefix_safe = True  # a text prefix ending at whitespace/punctuation is cut as in the whole text (Tokenizer)

    def __init__(self, user_dicts: Iterable[PathLike] = (), hmm: bool = False, fast: bool = True):
        if isinstance(user_dicts, (str, os.PathLike)):
            user_dicts = (user_dicts,)
        self.user_dicts = tuple(os.fspath(p) for p in user_dicts)
        for path in self.user_dicts:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"jieba user dictionary not found: {path}")
            _check_user_dict(path)
        self.hmm = bool(hmm)
        self._python = None
        self._lock = threading.Lock()
        self._rust = None
        if fast and not self.hmm:
            self._rust = self._build_rust()

    def __reduce__(self):
        """Pickle (and deepcopy, and datasets' fingerprint) as the recipe, not the built state: the user
        dictionaries and options. Unpickling rebuilds the segmenter from them (the shared default instance when
        it fits), so worker processes get a working jieba and equal segmenters hash equally."""
        return _rebuild_segmenter, (self.user_dicts, self.hmm, self._rust is not None)

    # ---- construction ----
    def _python_tokenizer(self):
        """The private python jieba Tokenizer (built on first use; it takes about a second)."""
        with self._lock:
            if self._python is None:
                _quiet_jieba()
                tk = _RecordingJieba.create()
                tk.initialize()
                for path in self.user_dicts:
                    tk.load_userdict(path)
                self._python = tk
            return self._python

    def _build_rust(self):
        try:
            import rjieba
        except ImportError:
            return None
        rust = rjieba.Jieba()
        if not self.user_dicts:
            return rust
        tk = self._python_tokenizer()
        rust_total = tk.total - sum(new for _, _, new in tk.added)  # the default dictionary's total
        if tk.total > _RUST_MAX_FREQ:
            return None
        for word, old, new in tk.added:
            if new == 0:
                return None  # a force-split word: jieba-rs would keep it in its DAG
            if _PY_HAN_WORD.fullmatch(word) and not _RUST_ONLY_HAN.search(word):
                rust.add_word(word, new, None)  # jieba-rs replaces the old frequency in its total
                rust_total += new - old
        missing = tk.total - rust_total
        if missing < 0:
            return None
        if missing:
            rust.add_word(_TOTAL_CARRIER, missing, None)
        return rust

    @property
    def is_fast(self) -> bool:
        """Whether rjieba answers (python jieba is used otherwise)."""
        return self._rust is not None

    # ---- segmentation ----
    def cut(self, text: str) -> list[str]:
        """Words of ``text``; they concatenate to ``text`` exactly."""
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        if not text:
            return []
        if self._rust is not None:
            words = self._cut_fast(text)
            if words is not None:
                return words
        return list(self._python_tokenizer().cut(text, HMM=self.hmm))

    __call__ = cut

    def cut_with_offsets(self, text: str) -> list[tuple[str, int, int]]:
        """``(word, start, end)`` character offsets into ``text``."""
        words = self.cut(text)
        ends = list(accumulate(map(len, words)))
        return list(zip(words, [0, *ends[:-1]], ends))

    def _cut_fast(self, text: str) -> list[str] | None:
        rust = self._rust
        if _RUST_SPLIT.search(text) is None:
            words = rust.cut(text, False)
        else:
            words, pos = [], 0
            for match in _RUST_SPLIT.finditer(text):
                if match.start() > pos:
                    words.extend(rust.cut(text[pos:match.start()], False))
                words.append(match.group())
                pos = match.end()
            if pos < len(text):
                words.extend(rust.cut(text[pos:], False))
        if sum(map(len, words)) != len(text):
            return None
        return words


def _check_user_dict(path: str) -> None:
    """Refuse a user dictionary that is not UTF-8, naming the line (python jieba names only the file). Any other
    non-blank line is a valid ``word [freq] [tag]`` entry for python jieba, whatever its frequency."""
    with open(path, "rb") as reader:
        for number, raw in enumerate(reader, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise ValueError(f"{path}, line {number}: not UTF-8 ({err.reason} at byte {err.start})") from None


_DEFAULT: dict[tuple, Segmenter] = {}


def default_segmenter(user_dicts: Iterable[PathLike] = ()) -> Segmenter:
    """A shared HMM-off Segmenter per tuple of user dictionaries (building one costs up to a few seconds)."""
    if isinstance(user_dicts, (str, os.PathLike)):
        user_dicts = (user_dicts,)
    key = tuple(os.path.abspath(os.fspath(p)) for p in user_dicts)
    if key not in _DEFAULT:
        _DEFAULT[key] = Segmenter(key)
    return _DEFAULT[key]


def _rebuild_segmenter(user_dicts: tuple[str, ...], hmm: bool, fast: bool) -> Segmenter:
    if fast and not hmm:
        return default_segmenter(user_dicts)
    return Segmenter(user_dicts, hmm=hmm, fast=fast)


def text_segmentate(text: str, maxlen: int, seps: str = "\n", strips: str | None = None) -> list[str]:
    """bert4keras ``text_segmentate``: split at ``seps[0]``, then recursively at the next separators, gluing
    neighbouring pieces while they fit in ``maxlen`` characters."""
    text = text.strip().strip(strips)
    if not seps or len(text) <= maxlen:
        return [text]
    pieces = text.split(seps[0])
    text, texts = "", []
    for i, piece in enumerate(pieces):
        if text and piece and len(text) + len(piece) > maxlen - 1:
            texts.extend(text_segmentate(text, maxlen, seps[1:], strips))
            text = ""
        text = text + piece if i + 1 == len(pieces) else text + piece + seps[0]
    if text:
        texts.extend(text_segmentate(text, maxlen, seps[1:], strips))
    return texts
