"""The two dialog input formats (bojone/nezha_gpt_dialog and thu-coai/CDial-GPT): building model inputs from a history and training samples.

NEZHA-GPT (bojone): ``[CLS] u1 [SEP] u2 [SEP] ...``, segment ids alternate 0/1 per utterance, the response takes
the other segment id, no speaker tokens, loss on every token of the dialog.
CDial-GPT (thu-coai): ``[CLS] [speaker1] u1 [speaker2] u2 ... [speakerX] response [SEP]``, token type ids are the
speaker token ids, loss on the response (and its [SEP]) only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Sequence

IGNORE_INDEX = -100


class DialogInputError(ValueError):
    """A history or dialog that cannot be turned into model inputs."""


class CharTokenizer(Protocol):
    def encode(self, first: str, second: str | None = None, maxlen: int | None = None) -> tuple[list, list]: ...

    def token_to_id(self, token: str) -> int: ...


@dataclass
class DialogInputs:
    """Token ids, token type ids and (for training) labels aligned with ``input_ids`` (-100 = no loss)."""

    input_ids: list[int]
    token_type_ids: list[int]
    labels: list[int] | None = None
    response_type_id: int = 0
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.input_ids)


_LATIN = re.compile(r"[A-Za-z0-9]")


def clean_utterance(text: str) -> str:
    """Remove the spaces of LCCC's character-split text, keeping one space between two Latin letters/digits."""
    if not isinstance(text, str):
        raise DialogInputError(f"an utterance must be a string, got {type(text).__name__}")
    parts = text.split()
    out: list[str] = []
    for part in parts:
        if out and _LATIN.fullmatch(out[-1][-1]) and _LATIN.fullmatch(part[0]):
            out.append(" ")
        out.append(part)
    return "".join(out)


def check_history(history: Sequence[str] | str) -> list[str]:
    """Validate a history (list of utterances, oldest first); a single string is one utterance."""
    if isinstance(history, str):
        history = [history]
    if not isinstance(history, (list, tuple)):
        raise DialogInputError(f"history must be a list of strings, got {type(history).__name__}")
    for i, turn in enumerate(history):
        if not isinstance(turn, str):
            raise DialogInputError(f"turn {i} of the history is {type(turn).__name__}, not a string")
    return list(history)


class DialogFormat:
    """Common interface of the two formats."""

    family: str = ""
    max_positions: int | None = None

    def __init__(self, tokenizer: CharTokenizer):
        self.tokenizer = tokenizer

    def utterance_ids(self, text: str) -> list[int]:
        """Token ids of one utterance without [CLS]/[SEP]."""
        raise NotImplementedError

    def build_inputs(self, history: Sequence[str], response: str | None = None) -> DialogInputs:
        raise NotImplementedError

    def end_token_ids(self) -> list[int]:
        raise NotImplementedError

    def response_sample(self, history: Sequence[str], response: str) -> DialogInputs:
        """History + response with labels on the response tokens and its end token only (for perplexity)."""
        full = self.build_inputs(history, response)
        start = len(self.build_inputs(history))
        full.labels = [IGNORE_INDEX] * start + full.input_ids[start:]
        return full

    def training_samples(self, dialog: Sequence[str]) -> list[DialogInputs]:
        raise NotImplementedError

    def truncate_history(self, history: Sequence[str], budget: int) -> list[str]:
        """Keep the most recent turns whose prompt fits in ``budget`` tokens; when even the last turn alone is too
        long, keep its end (cut from the left)."""
        history = check_history(history)
        base = len(self.build_inputs([]))
        if budget < base + 1:
            raise DialogInputError(f"no room for a prompt: budget {budget} tokens")
        kept: list[str] = []
        used = base
        for turn in reversed(history):
            cost = len(self.utterance_ids(turn)) + 1
            if used + cost <= budget:
                kept.insert(0, turn)
                used += cost
                continue
            if not kept:
                kept = [self.cut_left(turn, budget - base - 1)]
            break
        return kept

    def cut_left(self, turn: str, room: int) -> str:
        text = turn
        while text and len(self.utterance_ids(text)) > room:
            text = text[max(len(self.utterance_ids(text)) - room, 1):]
        return text


class NezhaGPTFormat(DialogFormat):
    """bojone/nezha_gpt_dialog format (its `data_generator` and `ChatBot`); ``maxlen`` is the training length (512)."""

    family = "nezha-gpt"

    def __init__(self, tokenizer: CharTokenizer, maxlen: int = 512):
        super().__init__(tokenizer)
        self.maxlen = maxlen
        self.cls_id = tokenizer.token_to_id("[CLS]")
        self.sep_id = tokenizer.token_to_id("[SEP]")

    def utterance_ids(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text)[0][1:-1])

    def _turn(self, text: str) -> list[int]:
        return self.utterance_ids(text) + [self.sep_id]

    def build_inputs(self, history: Sequence[str], response: str | None = None) -> DialogInputs:
        """Prompt for the next reply (``response=None``) or the whole dialog with a response appended."""
        turns = check_history(history) + ([response] if response is not None else [])
        ids, segs = [self.cls_id], [0]
        for i, text in enumerate(turns):
            piece = self._turn(text)
            ids += piece
            segs += [i % 2] * len(piece)
        return DialogInputs(ids, segs, response_type_id=1 - segs[-1])

    def end_token_ids(self) -> list[int]:
        return [self.sep_id]

    def training_samples(self, dialog: Sequence[str]) -> list[DialogInputs]:
        """One sample per dialog: turns appended while the total stays <= maxlen (the first turn that does not fit
        and all later ones are dropped, as in the original); loss on every token after [CLS]."""
        ids, segs = [self.cls_id], [0]
        for i, text in enumerate(check_history(dialog)):
            piece = self._turn(text)
            if len(ids) + len(piece) > self.maxlen:
                break
            ids += piece
            segs += [i % 2] * len(piece)
        if len(ids) < 2:
            return []
        labels = [IGNORE_INDEX] + ids[1:]
        return [DialogInputs(ids, segs, labels, response_type_id=1 - segs[-1])]


class CDialGPTFormat(DialogFormat):
    """thu-coai/CDial-GPT format (its `build_input_from_segments`) with its vocab ([CLS]0 [PAD]1 [SEP]2 [UNK]3 [speaker1] [speaker2])."""

    family = "cdial-gpt"

    def __init__(self, tokenizer: CharTokenizer, max_history: int = 15, max_positions: int = 513):
        super().__init__(tokenizer)
        self.max_history = max_history
        self.max_positions = max_positions
        ids = [tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]", "[speaker1]", "[speaker2]")]
        self.bos_id, self.eos_id, self.pad_id, self.speaker1_id, self.speaker2_id = ids
        unk = tokenizer.token_to_id("[UNK]")
        if self.speaker1_id == unk or self.speaker2_id == unk:
            raise DialogInputError("the vocab has no [speaker1]/[speaker2] tokens: not a CDial-GPT vocab")

    def utterance_ids(self, text: str) -> list[int]:
        """Spaces removed, then one token per character (the original interact.py), lower-cased."""
        chars = " ".join(text.replace(" ", ""))
        return list(self.tokenizer.encode(chars)[0][1:-1])

    def _speaker(self, i: int) -> int:
        return self.speaker2_id if i % 2 else self.speaker1_id

    def _build(self, history: list[str], reply_ids: list[int], with_eos: bool) -> DialogInputs:
        segments = [self.utterance_ids(t) for t in history] + [reply_ids + ([self.eos_id] if with_eos else [])]
        ids, types = [self.bos_id], [self.bos_id]
        for i, seg in enumerate(segments):
            speaker = self._speaker(i)
            ids += [speaker] + seg
            types += [speaker] * (len(seg) + 1)
        labels = [IGNORE_INDEX] * (len(ids) - len(segments[-1])) + segments[-1]
        return DialogInputs(ids, types, labels, response_type_id=self._speaker(len(segments) - 1))

    def build_inputs(self, history: Sequence[str], response: str | None = None) -> DialogInputs:
        """Prompt ending with the reply's speaker token (``response=None``), or the full sample with labels."""
        history = check_history(history)
        if response is None:
            out = self._build(history, [], with_eos=False)
            out.labels = None
            return out
        return self._build(history, self.utterance_ids(response), with_eos=True)

    def end_token_ids(self) -> list[int]:
        """interact.py stops on any special token."""
        return [self.bos_id, self.eos_id, self.pad_id, self.speaker1_id, self.speaker2_id]

    def training_samples(self, dialog: Sequence[str]) -> list[DialogInputs]:
        """One sample per response (utterances 2..n), history = the previous ``2*max_history - 1`` utterances
        (the original slice ``[-2*max_history:-1]``), dropping older turns beyond ``max_positions``."""
        dialog = check_history(dialog)
        samples = []
        for i in range(1, len(dialog)):
            history = dialog[max(0, i - (2 * self.max_history - 1)):i]
            sample = self.build_inputs(history, dialog[i])
            while len(sample) > self.max_positions and len(history) > 1:
                history = history[1:]
                sample = self.build_inputs(history, dialog[i])
            if len(sample) <= self.max_positions:
                samples.append(sample)
        return samples


def build_nezha_gpt_vocab(bert_vocab: str | Path, user_tokens: str | Path, min_count: int = 10
                          ) -> tuple[list[str], list[int], list[list[int]]]:
    """The NEZHA-GPT dialog vocab (nezha_gpt_dialog's `load_vocab` + user tokens): the BERT vocab simplified with 4 specials, plus every token of
    ``user_tokens`` (token<TAB>count) with count >= ``min_count`` not yet present, in file order.
    Returns (tokens, keep_tokens, compound_tokens); new rows are initialised from [PAD] (``[[0]]`` each)."""
    from zoo.tokenization import load_vocab, simplify_vocab

    vocab, keep_tokens = simplify_vocab(load_vocab(bert_vocab), startswith=["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
    tokens = sorted(vocab, key=vocab.get)
    present = set(tokens)
    compound: list[list[int]] = []
    with open(user_tokens, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 2:
                raise ValueError(f"{user_tokens}:{lineno}: expected token<TAB>count")
            token, count = parts[0].strip(), int(parts[1])
            if count >= min_count and token not in present:
                tokens.append(token)
                present.add(token)
                compound.append([0])
    return tokens, list(keep_tokens), compound
