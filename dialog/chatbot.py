"""ChatBot: multi-turn chit-chat with a NEZHA-GPT or CDial-GPT style language model on the zoo core."""

from __future__ import annotations

import copy
import json
import unicodedata
from pathlib import Path
from typing import Iterator, Sequence

import torch

from zoo.data import prompt_batch

from dialog.formats import CDialGPTFormat, DialogFormat, DialogInputError, DialogInputs, NezhaGPTFormat, check_history

DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "default"
DIALOG_CONFIG = "dialog_config.json"

# Decoding presets of the originals (nezha_gpt_dialog's `ChatBot.response` and CDial-GPT's `interact.py`). min_new_tokens=1 keeps the end tokens out of the first step:
# CDial-GPT's "resample while a special token is drawn before min_length"; for NEZHA-GPT it avoids empty replies.
PRESETS: dict[str, dict] = {
    "nezha-gpt": dict(do_sample=True, top_k=5, top_p=None, temperature=1.0, max_new_tokens=32, min_new_tokens=1),
    "cdial-gpt": dict(do_sample=True, top_k=None, top_p=0.9, temperature=0.7, max_new_tokens=30, min_new_tokens=1,
                      max_history=2),
}
GENERATE_OPTIONS = ("do_sample", "top_k", "top_p", "temperature", "max_new_tokens", "min_new_tokens",
                    "repetition_penalty", "no_repeat_ngram_size", "num_beams")


def _is_settled(ch: str) -> bool:
    """CJK characters and CJK-range punctuation: decode never changes text before them when tokens are added."""
    return "CJK" in unicodedata.name(ch, "") or (unicodedata.category(ch).startswith("P") and ord(ch) > 0x2000)


class ChatBot:
    """Replies to a history (list of utterances, oldest first) with a dialog LM.

    ``family`` is "nezha-gpt" ([SEP]-joined turns, 0/1 segments) or "cdial-gpt" (speaker tokens); ``preset`` holds
    the decoding options (see ``PRESETS``), each overridable per call."""

    def __init__(self, model, tokenizer, family: str, preset: dict | None = None, max_length: int | None = None):
        if family not in PRESETS:
            raise ValueError(f"unknown dialog family {family!r}; expected one of {sorted(PRESETS)}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.family = family
        self.format: DialogFormat = CDialGPTFormat(tokenizer) if family == "cdial-gpt" else NezhaGPTFormat(tokenizer)
        self.preset = {**PRESETS[family], **(preset or {})}
        self.max_length = max_length or self._model_max_length()

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, device: str | None = None, family: str | None = None,
                        **preset) -> "ChatBot":
        """Load a dialog model folder or hub id (default: the shipped model). The family comes from
        ``dialog_config.json`` when present, else from the vocab ([speaker1] means CDial-GPT)."""
        import zoo
        from zoo.loading import resolve_folder
        from zoo.tokenization import Tokenizer

        if path is None:
            if not (DEFAULT_MODEL / "config.json").is_file():
                raise FileNotFoundError(f"the default dialog model is not installed at {DEFAULT_MODEL}")
            path = DEFAULT_MODEL
        folder = resolve_folder(path)
        if not (folder / "vocab.txt").is_file():
            raise FileNotFoundError(f"{folder} has no vocab.txt")
        tokenizer = Tokenizer(str(folder / "vocab.txt"), do_lower_case=True)
        config = {}
        if (folder / DIALOG_CONFIG).is_file():
            config = json.loads((folder / DIALOG_CONFIG).read_text(encoding="utf-8"))
        if family is None:
            family = config.get("family") or ("cdial-gpt" if _has_speakers(tokenizer) else "nezha-gpt")
        model = zoo.from_pretrained(folder, head="lm", attention="causal", device=device)
        return cls(model, tokenizer, family, {**config.get("preset", {}), **preset})

    def save_pretrained(self, folder: str | Path) -> None:
        """Write a folder that `from_pretrained` reads back: the model (standard GPT layout when it is one, see
        `zoo.portable`), vocab.txt, tokenizer_config.json (for AutoTokenizer) and dialog_config.json (family and
        decoding preset)."""
        from zoo.hf_compat import write_tokenizer_config

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(folder)
        vocab = self.tokenizer.vocab
        tokens = {i: t for t, i in vocab.items()}
        (folder / "vocab.txt").write_text("".join(tokens.get(i, f"[unused_{i}]") + "\n"
                                                  for i in range(max(tokens) + 1)), encoding="utf-8")
        speakers = [t for t in ("[speaker1]", "[speaker2]") if t in vocab]
        write_tokenizer_config(folder, model_max_length=self.max_length,
                               **({"extra_special_tokens": speakers} if speakers else {}))
        config = {"family": self.family, "preset": self.preset}
        (folder / DIALOG_CONFIG).write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    def _model_max_length(self) -> int:
        cfg = self.model.config
        if cfg.position_embedding_type == "absolute":
            return int(cfg.max_position_embeddings)
        return 512

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def options(self, **overrides) -> dict:
        """The preset with ``overrides`` applied, validated. ``num_beams > 1`` means beam search, which is
        deterministic: the preset's sampling is switched off unless ``do_sample=True`` is asked for (refused)."""
        unknown = set(overrides) - set(GENERATE_OPTIONS) - {"max_history", "seed"}
        if unknown:
            raise TypeError(f"unknown decoding options {sorted(unknown)}")
        opts = {**self.preset, **{k: v for k, v in overrides.items() if v is not None or k in ("top_k", "top_p")}}
        for name, low in (("max_new_tokens", 1), ("min_new_tokens", 0), ("num_beams", 1)):
            value = opts.get(name, low)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if opts.get("min_new_tokens", 0) > opts["max_new_tokens"]:
            raise ValueError(f"min_new_tokens={opts['min_new_tokens']} exceeds max_new_tokens={opts['max_new_tokens']}")
        if opts["max_new_tokens"] > self.max_length - 2:
            raise ValueError(f"max_new_tokens={opts['max_new_tokens']} leaves no room for the history in a "
                             f"{self.max_length}-token model (at most {self.max_length - 2})")
        max_history = opts.get("max_history")
        if max_history is not None and (isinstance(max_history, bool) or not isinstance(max_history, int)
                                        or max_history < 0):
            raise ValueError(f"max_history must be None or an int >= 0, got {max_history!r}")
        if opts.get("num_beams", 1) > 1:
            if overrides.get("do_sample"):
                raise ValueError("beam sampling is not supported: use num_beams > 1 (beam search) or "
                                 "do_sample=True with num_beams=1")
            opts["do_sample"] = False
        return opts

    def prompt(self, history: Sequence[str] | str, max_new_tokens: int, max_history: int | None = None
               ) -> DialogInputs:
        """Model inputs for the next reply: the latest turns that leave room for ``max_new_tokens``.

        The work is bounded by the model length, not the input: each turn is first cut to its last
        ``4 * max_length + 256`` characters (a character gives at most one token, so a longer turn could not fit
        anyway unless most of it is whitespace), and each turn is tokenized once per reply."""
        history = check_history(history)
        if max_history is not None:
            history = history[-(2 * max_history + 1):]
        budget = self.max_length - max_new_tokens
        if budget < 2:
            raise ValueError(f"max_new_tokens {max_new_tokens} leaves no room in a {self.max_length}-token model")
        cap = 4 * self.max_length + 256
        history = [turn[-cap:] for turn in history]
        fmt = _tokenize_once(self.format)
        return fmt.build_inputs(fmt.truncate_history(history, budget))

    def _batch(self, prompts: list[DialogInputs]) -> dict:
        """Left-padded tensors with an attention mask."""
        pad_id = self.format.pad_id if isinstance(self.format, CDialGPTFormat) else 0
        batch = prompt_batch([p.input_ids for p in prompts], [p.token_type_ids for p in prompts], pad_id, self.device)
        new_types = torch.tensor([p.response_type_id for p in prompts], dtype=torch.long)
        return dict(batch, new_token_type_id=new_types.to(self.device))

    def _generate_kwargs(self, opts: dict) -> dict:
        kw = {k: opts[k] for k in GENERATE_OPTIONS if k in opts}
        if not kw.get("do_sample", False):
            kw.pop("top_k", None), kw.pop("top_p", None), kw.pop("temperature", None)
        pad_id = self.format.pad_id if isinstance(self.format, CDialGPTFormat) else 0
        return dict(kw, eos_token_id=self.format.end_token_ids(), pad_token_id=pad_id, seed=opts.get("seed"))

    def decode(self, ids: Sequence[int]) -> str:
        ends = set(self.format.end_token_ids())
        out = []
        for i in ids:
            if int(i) in ends:
                break
            out.append(int(i))
        return self.tokenizer.decode(out)

    @torch.inference_mode()
    def reply_batch(self, histories: Sequence[Sequence[str]], **options) -> list[str]:
        """One reply per history, decoded in one batch (histories of different lengths are left-padded)."""
        import zoo

        if isinstance(histories, str) or not isinstance(histories, (list, tuple)):
            raise DialogInputError("reply_batch takes a list of histories")
        if not histories:
            return []
        opts = self.options(**options)
        prompts = [self.prompt(h, opts["max_new_tokens"], opts.get("max_history")) for h in histories]
        seqs = zoo.generate(self.model, **self._batch(prompts), **self._generate_kwargs(opts))
        return [self.decode(row.tolist()) for row in seqs]

    def reply(self, history: Sequence[str] | str, **options) -> str:
        """The reply to one history (oldest turn first). Options: max_new_tokens, top_k, top_p, temperature,
        do_sample, min_new_tokens, repetition_penalty, no_repeat_ngram_size, num_beams (> 1: beam search through
        ``zoo.generate``), max_history, seed."""
        if self.options(**options).get("num_beams", 1) > 1:
            return self.reply_batch([check_history(history)], **options)[0]
        return "".join(self.stream(history, **options))

    @torch.inference_mode()
    def stream(self, history: Sequence[str] | str, **options) -> Iterator[str]:
        """Yield the reply as text pieces while it is generated; the pieces join to ``reply`` (same options)."""
        from zoo.generation import stream

        opts = self.options(**options)
        if opts.get("num_beams", 1) > 1:
            raise ValueError("streaming works with greedy or sampled decoding; for beam search call reply() or "
                             "reply_batch() with num_beams > 1")
        batch = self._batch([self.prompt(history, opts["max_new_tokens"], opts.get("max_history"))])
        kwargs = self._generate_kwargs(opts)
        kwargs.pop("num_beams", None)
        ids: list[int] = []
        emitted = ""
        for token in stream(self.model, **batch, **kwargs):
            token = int(token)
            if token in self.format.end_token_ids():
                break
            ids.append(token)
            text = self.tokenizer.decode(ids)
            safe = _stable_prefix(text)
            if safe.startswith(emitted) and len(safe) > len(emitted):
                yield safe[len(emitted):]
                emitted = safe
        final = self.tokenizer.decode(ids)
        if final.startswith(emitted) and len(final) > len(emitted):
            yield final[len(emitted):]


def _tokenize_once(fmt: DialogFormat) -> DialogFormat:
    """A copy of ``fmt`` (for one reply, so threads never share it) that tokenizes each distinct text once."""
    once = copy.copy(fmt)
    memo: dict[str, list[int]] = {}
    tokenize = fmt.utterance_ids

    def utterance_ids(text: str) -> list[int]:
        ids = memo.get(text)
        if ids is None:
            ids = memo[text] = tokenize(text)
        return list(ids)

    once.utterance_ids = utterance_ids
    return once


def _stable_prefix(text: str) -> str:
    """The part of a partial decode that later tokens cannot change: up to the last settled character."""
    for i in range(len(text) - 1, -1, -1):
        if _is_settled(text[i]):
            return text[:i + 1]
    return ""


def _has_speakers(tokenizer) -> bool:
    unk = tokenizer.token_to_id("[UNK]")
    return tokenizer.token_to_id("[speaker1]") != unk
