"""The whole SPACES pipeline behind one object: clauses -> clause vectors -> extractor -> copy-constrained
UniLM generation (bojone/SPACES final.py `predict`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from zoo.data import prompt_batch

from .copy import CopyConstraint
from .extract import split_clauses
from .extractor import ClauseExtractor, clause_vectors, select_clauses
from .generator import K_SPARSE, SpacesForSummary
from .metrics import OFFICIAL_USER_DICT
from .vocab import word_tokenizer

DEFAULT_PATH = Path(__file__).resolve().parent / "models" / "default"
PIPELINE_FILE = "pipeline.json"


class SummarizeError(ValueError):
    """Input the pipeline cannot summarise (empty or not text)."""


@dataclass
class Extraction:
    clauses: list[str]
    probs: list[float]
    extract: str


def _char_tokenizer(folder: Path):
    from zoo.tokenization import Tokenizer

    return Tokenizer(folder / "vocab.txt", do_lower_case=True)


def check_options(opts: dict, max_positions: int) -> None:
    """Refuse decoding options that would fail late, allocate absurdly or be ignored silently.

    ``max_new_tokens`` is bounded by the generator's ``max_position_embeddings`` (its training length, also for
    relative positions), ``min_new_tokens`` by ``max_new_tokens``, ``num_beams`` by 64; ``k_sparse`` must keep at
    least one logit."""
    def integer(name, low, high=None):
        value = opts.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
            raise ValueError(f"{name} must be an int {bound}, got {value!r}")

    integer("max_new_tokens", 1, max_positions)
    integer("min_new_tokens", 0, opts["max_new_tokens"])
    integer("max_source_tokens", 2)
    integer("num_beams", 1, 64)
    integer("k_sparse", 1)
    integer("no_repeat_ngram_size", 0)
    penalty = opts.get("repetition_penalty")
    if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or not 0 < penalty < float("inf"):
        raise ValueError(f"repetition_penalty must be a positive number, got {penalty!r}")
    if not isinstance(opts.get("copy"), bool):
        raise ValueError(f"copy must be true or false, got {opts.get('copy')!r}")


def _pipeline_spec(folder: Path, default: bool = False) -> dict:
    """``pipeline.json``, or for a folder without one the parts it holds (``generator/``, ``extractor/``,
    ``user_dict.txt``)."""
    if (folder / PIPELINE_FILE).is_file():
        return json.loads((folder / PIPELINE_FILE).read_text(encoding="utf-8"))
    if not default and (folder / "generator").is_dir():
        spec = {"generator": "generator"}
        if (folder / "extractor").is_dir():
            spec["extractor"] = "extractor"
        if (folder / "user_dict.txt").is_file():
            spec["user_dict"] = "user_dict.txt"
        return spec
    hint = " (no default pipeline is shipped in this build; train one with scripts/train_summarize.py)" \
        if default else " and no generator/ folder"
    raise FileNotFoundError(f"{folder / PIPELINE_FILE} not found{hint}")


class Summarizer:
    """Extract-then-generate summariser.

    ``generator``: a :class:`SpacesForSummary` with its word ``tokenizer``; ``extractor`` (optional): a
    :class:`ClauseExtractor` over clause vectors from ``encoder`` (any zoo encoder; default: the generator's own
    backbone) with ``encoder_tokenizer``. Without an extractor the whole text (truncated) is the source.
    Decoding options (``num_beams``, ``max_new_tokens``, ``min_new_tokens``, ``copy``, ``repetition_penalty``,
    ``no_repeat_ngram_size``...) are defaults that every call may override.
    """

    def __init__(self, generator: SpacesForSummary, tokenizer, extractor: ClauseExtractor | None = None,
                 encoder=None, encoder_tokenizer=None, threshold: float | None = None,
                 max_source_tokens: int = 512, max_new_tokens: int = 256, min_new_tokens: int = 0,
                 num_beams: int = 1, copy: bool = True,
                 k_sparse: int = K_SPARSE, repetition_penalty: float = 1.0, no_repeat_ngram_size: int = 0,
                 device: str | torch.device | None = None):
        self.device = torch.device(device) if device else next(generator.parameters()).device
        self.generator = generator.to(self.device).eval()
        self.tokenizer = tokenizer
        self.extractor = extractor.to(self.device).eval() if extractor is not None else None
        self.encoder = (encoder if encoder is not None else generator.zoo).to(self.device).eval()
        self.encoder_tokenizer = encoder_tokenizer or tokenizer
        self.threshold = threshold if threshold is not None else (extractor.threshold if extractor else 0.2)
        self.options = {"max_source_tokens": max_source_tokens, "max_new_tokens": max_new_tokens,
                        "min_new_tokens": min_new_tokens,
                        "num_beams": num_beams, "copy": copy, "k_sparse": k_sparse,
                        "repetition_penalty": repetition_penalty, "no_repeat_ngram_size": no_repeat_ngram_size}
        check_options(self.options, self.generator.config.max_position_embeddings)

    # ------------------------------------------------------------------ loading / saving
    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, device: str | torch.device | None = None,
                        dtype: torch.dtype | None = torch.float32, **options) -> Summarizer:
        """Load a pipeline folder; ``path=None`` loads the shipped default pipeline. Accepted layouts:

        * ``pipeline.json`` + ``generator/`` [+ ``extractor/``, ``encoder/``, ``user_dict.txt``], as
          ``save_pretrained`` writes it;
        * no ``pipeline.json``: ``generator/`` [+ ``extractor/`` (a ``ClauseExtractor.save_pretrained`` folder
          over the generator's own clause vectors), ``user_dict.txt``], with default options.

        ``generator/`` is either a ``SpacesForSummary.save_pretrained`` folder or what bojone/SPACES
        seq2seq_model.py leaves: its ``model.save_weights`` file (e.g. ``best_model.weights``) with the
        pretrained model's ``bert_config.json`` (or ``config.json``); it always holds the ``vocab.txt`` the
        generator was trained with, one token a line, as many as the stored embedding rows. Without
        ``user_dict.txt`` jieba gets the official CAIL2020 user dictionary. The generator is cast to ``dtype``
        (float32 by default, whatever precision it was stored in; None keeps the stored one)."""
        folder = Path(path) if path is not None else DEFAULT_PATH
        spec = _pipeline_spec(folder, default=path is None)
        user_dict = folder / spec["user_dict"] if spec.get("user_dict") else OFFICIAL_USER_DICT
        generator_folder = folder / spec.get("generator", "generator")
        generator = SpacesForSummary.from_pretrained(generator_folder,
                                                     **({"dtype": dtype} if dtype is not None else {}))
        if not (generator_folder / "vocab.txt").is_file():
            raise FileNotFoundError(f"{generator_folder / 'vocab.txt'} not found: the generator's vocabulary, as "
                                    "trained (for a bert4keras model: after keep_tokens / compound_tokens)")
        tokenizer = word_tokenizer(generator_folder / "vocab.txt", user_dict)
        if len(tokenizer.vocab) != generator.config.vocab_size:
            raise ValueError(f"{generator_folder / 'vocab.txt'} has {len(tokenizer.vocab)} tokens, the generator "
                             f"{generator.config.vocab_size} embedding rows: not the vocabulary it was trained with")
        extractor = encoder = encoder_tokenizer = None
        if spec.get("extractor"):
            extractor = ClauseExtractor.from_pretrained(folder / spec["extractor"])
            if spec.get("encoder") and spec["encoder"] != spec.get("generator", "generator"):
                from zoo import from_pretrained

                encoder = from_pretrained(folder / spec["encoder"])
                encoder_tokenizer = _char_tokenizer(folder / spec["encoder"])
            width = (encoder if encoder is not None else generator).config.hidden_size
            if extractor.config["input_size"] != width:
                raise ValueError(f"{folder / spec['extractor']} reads {extractor.config['input_size']}-d clause "
                                 f"vectors; its clause encoder gives {width}-d ones")
        merged = {**spec.get("options", {}), **options}
        return cls(generator, tokenizer, extractor, encoder, encoder_tokenizer,
                   threshold=spec.get("threshold"), device=device, **merged)

    def save_pretrained(self, folder: str | Path, user_dict: str | Path | None = OFFICIAL_USER_DICT,
                        generator_dtype: torch.dtype | None = None) -> None:
        """Write the pipeline folder: generator (+ vocab), extractor and clause encoder when present, options
        and the user dictionary. ``generator_dtype`` (e.g. torch.float16) stores the generator weights in that
        precision, halving the folder; loading casts them back to float32."""
        from .vocab import save_vocab

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = None
        if generator_dtype is not None:
            state = {k: v.to(generator_dtype) if v.is_floating_point() else v
                     for k, v in self.generator.state_dict().items()}
        self.generator.save_pretrained(folder / "generator", state_dict=state)
        save_vocab(self.tokenizer.vocab, folder / "generator" / "vocab.txt")
        spec = {"generator": "generator", "threshold": self.threshold, "options": self.options}
        if self.extractor is not None:
            self.extractor.save_pretrained(folder / "extractor")
            spec.update(extractor="extractor", encoder="generator")
            if self.encoder is not self.generator.zoo:
                self.encoder.save_pretrained(folder / "encoder")
                save_vocab(self.encoder_tokenizer.vocab, folder / "encoder" / "vocab.txt")
                spec["encoder"] = "encoder"
        from zoo.hf_compat import write_tokenizer_config

        tokenizer_fields = {"model_max_length": self.options["max_source_tokens"]}
        if user_dict:
            (folder / "user_dict.txt").write_bytes(Path(user_dict).read_bytes())
            spec["user_dict"] = "user_dict.txt"
            (folder / "generator" / "jieba_user_dict.txt").write_bytes(Path(user_dict).read_bytes())
            tokenizer_fields["user_dict_file"] = "jieba_user_dict.txt"
        write_tokenizer_config(folder / "generator", "WoBertTokenizer", **tokenizer_fields)
        (folder / PIPELINE_FILE).write_text(json.dumps(spec, ensure_ascii=False, indent=2), encoding="utf-8")

    # ------------------------------------------------------------------ stages
    @staticmethod
    def _check(text) -> str:
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        if not text.strip():
            raise SummarizeError("cannot summarise empty text")
        return text

    @torch.no_grad()
    def extract(self, text: str) -> Extraction:
        """Clauses (last 256), their selection probabilities and the extract (p > threshold, document order).

        Without an extractor, or when no clause passes the threshold, the extract is the whole clause list."""
        clauses = [c for c in split_clauses(self._check(text)) if c]
        if self.extractor is None:
            return Extraction(clauses, [1.0] * len(clauses), "".join(clauses))
        maxlen = 512
        if getattr(self.encoder.config, "position_embedding_type", "absolute") == "absolute":
            maxlen = min(maxlen, self.encoder.config.max_position_embeddings)
        vectors = clause_vectors(self.encoder, self.encoder_tokenizer, clauses, maxlen, device=self.device)
        probs = self.extractor.predict_proba(vectors[None].to(self.device))[0].tolist()
        extract = select_clauses(clauses, probs, self.threshold) or "".join(clauses)
        return Extraction(clauses, probs, extract)

    def _prompt(self, source: str, max_source_tokens: int, max_new_tokens: int) -> list[int]:
        """``[CLS] source [SEP]``, right-truncated so that prompt + start + new tokens fit the positions."""
        budget = max_source_tokens
        config = self.generator.config
        if config.position_embedding_type == "absolute":
            budget = min(budget, config.max_position_embeddings - max_new_tokens - 1)
        if budget < 2:
            raise ValueError(f"max_new_tokens={max_new_tokens} leaves no room for the source within "
                             f"max_position_embeddings={config.max_position_embeddings}")
        return self.tokenizer.encode(source, maxlen=budget)[0]

    @torch.no_grad()
    def generate(self, sources: Sequence[str], **options) -> list[str]:
        """Generate one summary per (already extracted) source text."""
        import zoo

        opts = {**self.options, **options}
        unknown = set(opts) - set(self.options) - {"do_sample", "top_k", "top_p", "temperature", "seed"}
        if unknown:
            raise ValueError(f"unknown summarize option(s): {sorted(unknown)}")
        check_options(opts, self.generator.config.max_position_embeddings)
        tok, model = self.tokenizer, self.generator
        prompts = [self._prompt(s, int(opts["max_source_tokens"]), int(opts["max_new_tokens"])) for s in sources]
        batch = prompt_batch([p + [tok.start_id] for p in prompts], [[0] * len(p) + [1] for p in prompts],
                             device=self.device)
        num_beams = int(opts["num_beams"])
        processors = []
        if opts["copy"]:
            processors.append(CopyConstraint(prompts, tok.start_id, k_sparse=int(opts["k_sparse"])))
        extra = {k: opts[k] for k in ("do_sample", "top_k", "top_p", "temperature", "seed") if k in opts}
        out = zoo.generate(model, **batch, max_new_tokens=int(opts["max_new_tokens"]),
                           eos_token_id=tok.end_id, pad_token_id=tok.pad_id or 0, num_beams=num_beams,
                           repetition_penalty=float(opts["repetition_penalty"]),
                           no_repeat_ngram_size=int(opts["no_repeat_ngram_size"]),
                           min_new_tokens=int(opts.get("min_new_tokens", 0)), logits_processors=processors,
                           new_token_type_id=1, beam_algorithm="bert4keras", tie_break="last",
                           min_length_rule="mask_eos", **extra)
        return [tok.decode(row.tolist()) for row in out.cpu()]

    def summarize(self, text: str, **options) -> str:
        """Summary of one document (clause split, extraction, generation)."""
        return self.generate([self.extract(text).extract], **options)[0]

    def summarize_batch(self, texts: Sequence[str], batch_size: int = 8, **options) -> list[str]:
        """Summaries of many documents, generated ``batch_size`` at a time."""
        if isinstance(texts, str):
            raise TypeError("summarize_batch takes a list of texts; use summarize for one text")
        sources = [self.extract(t).extract for t in texts]
        out: list[str] = []
        for s in range(0, len(sources), batch_size):
            out.extend(self.generate(sources[s:s + batch_size], **options))
        return out
