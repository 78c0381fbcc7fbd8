"""``WoBertTokenizer``: the exact bert4keras WoBERT tokenizer as a Hugging Face tokenizer.

Rule (WoBERT's `pre_tokenize` with bert4keras 0.8.8 `Tokenizer`): lowercase + strip accents, jieba (HMM off) on the whole text, a jieba word in the vocab is
one token, any other word goes through the char/WordPiece tokenizer (never shorter vocab words). Segmentation is
``zoo.segmentation`` (rjieba where it provably equals python jieba). Offsets come with every token.

HF conventions on top: special tokens written in the text (``[MASK]``) are recognized as special tokens (as the
JunnYu tokenizer and every HF tokenizer do; pass ``split_special_tokens=True`` to treat them as text like
bert4keras); the text between them is tokenized on its own. ``truncation=True`` follows bert4keras: drop tokens
from the end of the longer sequence, the first on ties (for a pair this equals bert4keras ``encode(maxlen)``).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from itertools import repeat

from transformers import AutoConfig, AutoTokenizer, BertConfig, PreTrainedTokenizer
from transformers.tokenization_utils_base import BatchEncoding, PaddingStrategy, TruncationStrategy

from zoo.segmentation import default_segmenter
from zoo.tokenization import Tokenizer, load_vocab

__all__ = ["WoBertTokenizer", "WoBertConfig"]

VOCAB_FILES_NAMES = {"vocab_file": "vocab.txt", "user_dict_file": "jieba_user_dict.txt"}


class WoBertConfig(BertConfig):
    """A BERT config tagged ``wobert``; it exists so that ``AutoTokenizer`` can find ``WoBertTokenizer``."""

    model_type = "wobert"


class WoBertTokenizer(PreTrainedTokenizer):
    """WoBERT word-level tokenizer (bert4keras 0.8.8 semantics) with offsets, batching and both decodes.

    ``user_dict_file``: an optional jieba user dictionary (SPACES uses one); it is saved with the tokenizer.
    """

    vocab_files_names = VOCAB_FILES_NAMES
    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]

    def __init__(self, vocab_file: str, do_lower_case: bool = True, user_dict_file: str | None = None,
                 unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]",
                 **kwargs):
        if not vocab_file or not os.path.isfile(vocab_file):
            raise ValueError(f"WoBERT vocab file not found: {vocab_file!r}")
        self._memo = _Memo()
        self.vocab = load_vocab(vocab_file)
        self.ids_to_tokens_map = {i: t for t, i in self.vocab.items()}
        self.user_dict_file = user_dict_file
        segmenter = default_segmenter([user_dict_file] if user_dict_file else ())
        self.core = Tokenizer(self.vocab, do_lower_case=do_lower_case, pre_tokenize=segmenter,
                              token_start=str(cls_token), token_end=str(sep_token), token_unk=str(unk_token))
        self.do_lower_case = do_lower_case
        super().__init__(do_lower_case=do_lower_case, user_dict_file=user_dict_file, unk_token=unk_token,
                         sep_token=sep_token, pad_token=pad_token, cls_token=cls_token, mask_token=mask_token,
                         **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """transformers' loader, with hub ids resolved by `zoo.loading.resolve_folder`: one attempt, then one
        clear error that says how to download (instead of transformers' retries and a missing vocab file)."""
        if isinstance(pretrained_model_name_or_path, (str, os.PathLike)) and not os.path.isfile(
                pretrained_model_name_or_path):
            from zoo.loading import resolve_folder

            folder = resolve_folder(pretrained_model_name_or_path, revision=kwargs.get("revision"),
                                    cache_dir=kwargs.get("cache_dir"), patterns=["*.txt", "*.json"],
                                    what="tokenizer")
            if not (folder / VOCAB_FILES_NAMES["vocab_file"]).is_file():
                raise ValueError(f"no {VOCAB_FILES_NAMES['vocab_file']} in {folder}: not a WoBERT tokenizer folder")
            pretrained_model_name_or_path = folder
        return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)

    # ---- pickling (datasets.map with num_proc, deepcopy, datasets' fingerprint) ----
    def __getstate__(self) -> dict:
        """The state without lookup caches; the segmenter pickles as its user dictionaries and is rebuilt on
        unpickling. (datasets hashes ``__dict__`` directly: the caches live in a ``_Memo`` that hashes empty.)"""
        return {k: v for k, v in self.__dict__.items() if k != "_memo"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._memo = _Memo()

    # ---- vocabulary ----
    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def get_vocab(self) -> dict[str, int]:
        return {**self.vocab, **self.added_tokens_encoder}

    def _convert_token_to_id(self, token: str) -> int:
        return self.vocab.get(token, self.vocab.get(str(self.unk_token)))

    def _convert_id_to_token(self, index: int) -> str:
        return self.ids_to_tokens_map.get(index, str(self.unk_token))

    def _tokenize(self, text: str, **kwargs) -> list[str]:
        return [t for t, _, _ in self.core.tokenize_with_offsets(text)]

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        """HF-style: tokens joined by spaces, ``##`` pieces glued (use ``bert4keras_decode`` for the original)."""
        return " ".join(tokens).replace(" ##", "").strip()

    def build_inputs_with_special_tokens(self, ids: list[int], pair: list[int] | None = None) -> list[int]:
        cls, sep = [self.cls_token_id], [self.sep_token_id]
        return cls + ids + sep if pair is None else cls + ids + sep + pair + sep

    def get_special_tokens_mask(self, ids, pair=None, already_has_special_tokens: bool = False) -> list[int]:
        if already_has_special_tokens:
            special = set(self.all_special_ids)
            return [int(i in special) for i in ids]
        return [1] + [0] * len(ids) + [1] + ([] if pair is None else [0] * len(pair) + [1])

    def create_token_type_ids_from_sequences(self, ids: list[int], pair: list[int] | None = None) -> list[int]:
        return [0] * (len(ids) + 2) + ([] if pair is None else [1] * (len(pair) + 1))

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str, ...]:
        prefix = f"{filename_prefix}-" if filename_prefix else ""
        path = os.path.join(save_directory, prefix + VOCAB_FILES_NAMES["vocab_file"])
        with open(path, "w", encoding="utf-8") as f:
            for index in range(max(self.ids_to_tokens_map) + 1):
                f.write(self.ids_to_tokens_map.get(index, f"[unused_{index}]") + "\n")
        files = [path]
        if self.user_dict_file:
            target = os.path.join(save_directory, prefix + VOCAB_FILES_NAMES["user_dict_file"])
            if os.path.abspath(target) != os.path.abspath(self.user_dict_file):
                shutil.copyfile(self.user_dict_file, target)
            files.append(target)
        return tuple(files)

    # ---- bert4keras API ----
    def bert4keras_encode(self, first: str, second: str | None = None, maxlen: int | None = None,
                          pattern: str = "S*E*E", truncate_from: str = "right") -> tuple[list[int], list[int]]:
        """Exactly bert4keras ``tokenizer.encode``: ``(token_ids, segment_ids)``; ``[MASK]`` in text is text."""
        return self.core.encode(first, second, maxlen=maxlen, pattern=pattern, truncate_from=truncate_from)

    def bert4keras_decode(self, ids: Iterable[int]) -> str:
        """Exactly bert4keras ``tokenizer.decode`` (no spaces between Chinese words, specials dropped)."""
        return self.core.decode(ids.tolist() if hasattr(ids, "tolist") else list(ids))

    def tokenize_with_offsets(self, text: str, split_special_tokens: bool | None = None
                              ) -> list[tuple[str, int, int]]:
        """``(token, start, end)`` per token of ``text`` (no [CLS]/[SEP]); offsets index ``text``."""
        tokens, spans = self._spans(text, split_special_tokens)
        return [(t, a, b) for t, (a, b) in zip(tokens, spans)]

    def _spans(self, text: str, split_special_tokens: bool | None, offsets: bool = True):
        """``(tokens, spans)``; added/special tokens written in the text stay whole unless split."""
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        split = self.split_special_tokens if split_special_tokens is None else split_special_tokens
        pattern = None if split else self._added_pattern()
        if pattern is None or pattern.search(text) is None:
            return self.core.tokenize_spans(text, offsets)
        tokens, spans, pos = [], [], 0
        for chunk in pattern.split(text):
            if chunk in self._added_tokens_encoder:
                tokens.append(chunk)
                spans.append((pos, pos + len(chunk)))
            elif chunk:
                chunk_tokens, chunk_spans = self.core.tokenize_spans(chunk)
                tokens += chunk_tokens
                spans += [(a + pos, b + pos) for a, b in chunk_spans]
            pos += len(chunk)
        return tokens, spans if offsets else None

    def _added_pattern(self) -> re.Pattern | None:
        """A regex splitting text around added/special tokens (C speed, unlike HF's Python trie)."""
        memo = self._memo
        key = (id(self._added_tokens_encoder), len(self._added_tokens_encoder))
        if memo.get("key") != key:
            added = sorted(self._added_tokens_encoder, key=lambda t: (-len(t), t))
            memo["key"] = key
            memo["pattern"] = re.compile("(%s)" % "|".join(map(re.escape, added))) if added else None
            memo["token_ids"] = {**self.vocab, **self._added_tokens_encoder}
        return memo["pattern"]

    # ---- HF encoding with offsets ----
    def _ids_and_offsets(self, text, split_special_tokens, offsets: bool = True):
        """``[ids, spans]`` (spans None without offsets) for one text."""
        tokens, spans = self._spans(text, split_special_tokens, offsets)
        self._added_pattern()  # refreshes the token -> id table
        return [list(map(self._memo["token_ids"].get, tokens, repeat(self.core.unk_id))), spans]

    def _truncate(self, first, second, budget: int, strategy: TruncationStrategy) -> None:
        """bert4keras truncation: pop from the longer sequence (first on ties) at the truncation side."""
        index = 0 if self.truncation_side == "left" else -1
        while len(first[0]) + (len(second[0]) if second else 0) > budget:
            if strategy == TruncationStrategy.ONLY_SECOND or (
                strategy == TruncationStrategy.LONGEST_FIRST and second and len(second[0]) > len(first[0])
            ):
                target = second
            else:
                target = first
            if not target or not target[0]:
                raise ValueError(f"cannot truncate to max_length with truncation strategy {strategy.value!r}")
            target[0].pop(index)
            if target[1] is not None:
                target[1].pop(index)

    def _encode_one(self, text, pair, add_special_tokens, truncation_strategy, max_length, split_special_tokens,
                    return_offsets: bool) -> dict:
        first = self._ids_and_offsets(text, split_special_tokens, return_offsets)
        second = self._ids_and_offsets(pair, split_special_tokens, return_offsets) if pair is not None else None
        if truncation_strategy != TruncationStrategy.DO_NOT_TRUNCATE and max_length is not None:
            extra = self.num_special_tokens_to_add(pair=second is not None) if add_special_tokens else 0
            self._truncate(first, second, max_length - extra, truncation_strategy)
        ids, pair_ids = first[0], (second[0] if second is not None else None)
        if add_special_tokens:
            row = {"input_ids": self.build_inputs_with_special_tokens(ids, pair_ids),
                   "token_type_ids": self.create_token_type_ids_from_sequences(ids, pair_ids),
                   "special_tokens_mask": self.get_special_tokens_mask(ids, pair_ids)}
        else:
            row = {"input_ids": ids + (pair_ids or []),
                   "token_type_ids": [0] * len(ids) + [1] * len(pair_ids or []),
                   "special_tokens_mask": [0] * (len(ids) + len(pair_ids or []))}
        if return_offsets:
            offsets = [(0, 0)] if add_special_tokens else []
            for part in (first, second):
                if part is not None:
                    offsets += part[1]
                    if add_special_tokens:
                        offsets.append((0, 0))
            row["offset_mapping"] = offsets
        return row

    def _encode_plus(self, text, text_pair=None, add_special_tokens: bool = True,
                     padding_strategy: PaddingStrategy = PaddingStrategy.DO_NOT_PAD,
                     truncation_strategy: TruncationStrategy = TruncationStrategy.DO_NOT_TRUNCATE,
                     max_length: int | None = None, stride: int = 0, is_split_into_words: bool = False,
                     pad_to_multiple_of: int | None = None, padding_side: str | None = None,
                     return_tensors=None, return_token_type_ids: bool | None = None,
                     return_attention_mask: bool | None = None, return_overflowing_tokens: bool = False,
                     return_special_tokens_mask: bool = False, return_offsets_mapping: bool = False,
                     return_length: bool = False, verbose: bool = True, split_special_tokens: bool | None = None,
                     **kwargs) -> BatchEncoding:
        texts, pairs, batched = self._as_batch(text, text_pair, is_split_into_words)
        if texts is None:  # pre-tokenized words or ids: the generic HF path (no offsets)
            if return_offsets_mapping:
                raise ValueError("return_offsets_mapping needs text input (str or list of str)")
            return super()._encode_plus(
                text, text_pair, add_special_tokens=add_special_tokens, padding_strategy=padding_strategy,
                truncation_strategy=truncation_strategy, max_length=max_length, stride=stride,
                is_split_into_words=is_split_into_words, pad_to_multiple_of=pad_to_multiple_of,
                padding_side=padding_side, return_tensors=return_tensors,
                return_token_type_ids=return_token_type_ids, return_attention_mask=return_attention_mask,
                return_overflowing_tokens=return_overflowing_tokens,
                return_special_tokens_mask=return_special_tokens_mask, return_length=return_length,
                verbose=verbose, **kwargs)
        if return_overflowing_tokens:
            raise ValueError("return_overflowing_tokens is not supported by WoBertTokenizer")
        rows = [self._encode_one(t, p, add_special_tokens, truncation_strategy, max_length, split_special_tokens,
                                 return_offsets_mapping) for t, p in zip(texts, pairs)]
        keys = ["input_ids"]
        if return_token_type_ids is not False:
            keys.append("token_type_ids")
        if return_special_tokens_mask:
            keys.append("special_tokens_mask")
        data = {k: [row[k] for row in rows] for k in keys}
        lengths = [len(row["input_ids"]) for row in rows]
        if padding_strategy != PaddingStrategy.DO_NOT_PAD:
            data = dict(self.pad(data, padding=padding_strategy.value, max_length=max_length,
                                 pad_to_multiple_of=pad_to_multiple_of, padding_side=padding_side,
                                 return_attention_mask=return_attention_mask))
        elif return_attention_mask is not False:
            data["attention_mask"] = [[1] * n for n in lengths]
        if return_offsets_mapping:
            side = padding_side or self.padding_side
            data["offset_mapping"] = [
                _pad_offsets(row["offset_mapping"], len(ids), side) for row, ids in zip(rows, data["input_ids"])
            ]
        if return_length:
            data["length"] = lengths
        if not batched:
            data = {k: v[0] for k, v in data.items()}
        return BatchEncoding(data, tensor_type=return_tensors, prepend_batch_axis=not batched and bool(return_tensors))

    @staticmethod
    def _as_batch(text, text_pair, is_split_into_words):
        """``(texts, pairs, batched)`` for str inputs, or ``(None, None, None)`` for other inputs."""
        if is_split_into_words:
            return None, None, None
        if isinstance(text, str):
            if text_pair is not None and not isinstance(text_pair, str):
                return None, None, None
            return [text], [text_pair], False
        if isinstance(text, (list, tuple)) and all(isinstance(t, str) for t in text):
            if text_pair is None:
                return list(text), [None] * len(text), True
            if isinstance(text_pair, (list, tuple)) and len(text_pair) == len(text) and all(
                isinstance(p, str) for p in text_pair
            ):
                return list(text), list(text_pair), True
            raise ValueError("text_pair must be a list of str as long as text")
        if isinstance(text, (list, tuple)) and text and all(
            isinstance(t, (list, tuple)) and len(t) == 2 and all(isinstance(x, str) for x in t) for t in text
        ):
            return [t[0] for t in text], [t[1] for t in text], True
        return None, None, None


class _Memo(dict):
    """Lookup caches of one tokenizer; pickled (and hashed) as an empty memo, so using a tokenizer never changes
    its pickle or its datasets fingerprint."""

    def __reduce__(self):
        return _Memo, ()


def _pad_offsets(offsets: list[tuple[int, int]], length: int, side: str) -> list[tuple[int, int]]:
    if len(offsets) == length:
        return offsets
    padding = [(0, 0)] * (length - len(offsets))
    return padding + list(offsets) if side == "left" else list(offsets) + padding


AutoConfig.register(WoBertConfig.model_type, WoBertConfig, exist_ok=True)
AutoTokenizer.register(WoBertConfig, tokenizer_class=WoBertTokenizer, exist_ok=True)
