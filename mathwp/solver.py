"""`Solver`: question -> expression with a UniLM seq2seq model (batched `zoo.generate`), then safe evaluation."""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import torch

from zoo.data import prompt_batch
from zoo.tokenization import save_vocab

from .safe_math import MathEvalError, Number, format_answer, fraction_text, safe_eval
from .seq2seq import MAXLEN, decode_expression, load_tokenizer, mask_numbers, unmask_expression

DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "default"
SETTINGS_FILE = "mathwp.json"
_DIGIT = re.compile(r"\d")
MAX_SAMPLES = 64  # self-consistency rows per question: batch_size x MAX_SAMPLES sequences share one KV cache


@dataclass
class SolveResult:
    """One solved question. `value` is exact (Fraction) unless a power made it a float; `error` says why there is
    no value (empty question, or the reason `safe_eval` refused the generated expression)."""

    question: str
    expression: str | None = None
    value: Number | None = None
    answer: str | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    truncated_tokens: int = 0  # question tokens cut to fit the model
    votes: int | None = None  # with self-consistency: how many of the candidates gave this value

    def to_dict(self) -> dict:
        """JSON-ready: the value as text ("11/20", or a float's repr)."""
        d = asdict(self)
        if isinstance(self.value, Fraction):
            d["value"] = fraction_text(self.value)
        return d


def evaluate_expression(expression: str) -> tuple[Number | None, str | None, str | None]:
    """(value, display answer, error) of a generated expression; never raises (`safe_eval` raises only
    `MathEvalError`, and `format_answer` handles any value it returns)."""
    try:
        value = safe_eval(expression)
    except MathEvalError as err:
        return None, None, str(err)
    return value, format_answer(value), None


class Solver:
    """Solve Chinese math word problems: `Solver.from_pretrained().solve(["…"])`."""

    def __init__(self, model, tokenizer, maxlen: int = MAXLEN, max_new_tokens: int = 64,
                 number_placeholders: bool = False, num_samples: int = 0, temperature: float = 1.0):  # fmt: skip
        """`number_placeholders`: the model reads and writes the question's numbers as "[n0]", "[n1]", ...
        (the tokenizer must keep those as tokens, see `load_tokenizer`). `num_samples`/`temperature`: the
        self-consistency default of `solve` (0: greedy/beam only), stored with the model."""
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.maxlen = maxlen
        self.max_new_tokens = max_new_tokens
        self.number_placeholders = number_placeholders
        self.num_samples = num_samples
        self.temperature = temperature

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, device: str | torch.device | None = None) -> Solver:
        """Load a model folder (config.json, weights, vocab.txt, optional mathwp.json); None: the shipped default."""
        import zoo

        from zoo.loading import resolve_folder

        folder = resolve_folder(path, patterns=["*.json", "*.txt", "*.safetensors"]) if path is not None \
            else DEFAULT_MODEL
        if not (folder / "vocab.txt").is_file():
            raise FileNotFoundError(f"{folder} is not a mathwp model folder (no vocab.txt)")
        settings = {}
        if (folder / SETTINGS_FILE).is_file():
            settings = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
        model = zoo.from_pretrained(str(folder), head="mlm", attention="unilm")
        if device is not None:
            model = model.to(device)
        tokenizer = load_tokenizer(folder / "vocab.txt", settings.get("number_placeholders", False))
        return cls(model, tokenizer, **settings)

    def save_pretrained(self, folder: str | Path) -> None:
        """Write the model, its vocab and the solver settings, loadable by `from_pretrained`."""
        folder = Path(folder)
        self.model.save_pretrained(str(folder))
        save_vocab(self.tokenizer.vocab, folder / "vocab.txt")
        from zoo.hf_compat import write_tokenizer_config

        from .seq2seq import MAX_NUMBERS

        placeholders = [f"[n{i}]" for i in range(MAX_NUMBERS)]
        write_tokenizer_config(folder, model_max_length=self.maxlen,
                               **({"extra_special_tokens": placeholders} if self.number_placeholders else {}))
        settings = {"maxlen": self.maxlen, "max_new_tokens": self.max_new_tokens,
                    "number_placeholders": self.number_placeholders, "num_samples": self.num_samples,
                    "temperature": self.temperature}  # fmt: skip
        (folder / SETTINGS_FILE).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")

    def _encode(self, result: SolveResult) -> tuple[list[int], list[str]]:
        """Prompt ids "[CLS] question [SEP]" (truncated to maxlen with a warning) and the masked numbers."""
        question, numbers = mask_numbers(result.question) if self.number_placeholders else (result.question, [])
        # counted exactly up to twice the model limit: the tokenizer reads no more of a huge question than that
        cap = 2 * self.maxlen
        n_tokens = len(self.tokenizer.tokenize(question, maxlen=cap + 1))  # with [CLS] and [SEP], as maxlen counts
        if n_tokens > self.maxlen:
            count = f"more than {cap}" if n_tokens > cap else str(n_tokens)
            msg = f"question has {count} tokens; truncated to the model limit of {self.maxlen}"
            result.warnings.append(msg)
            result.truncated_tokens = n_tokens - self.maxlen
            warnings.warn(msg, stacklevel=3)
        ids, _ = self.tokenizer.encode(question, maxlen=self.maxlen)
        return ids, numbers

    @torch.no_grad()
    def _generate(self, prompts: list[list[int]], beam_size: int, **sampling) -> list[list[int]]:
        """Batched greedy/beam decoding (or sampling, with ``sampling`` options for ``zoo.generate``) of
        left-padded prompts; returns the new ids per prompt (per sample, grouped by prompt, when sampling)."""
        import zoo

        device = next(self.model.parameters()).device
        out = zoo.generate(
            self.model,
            **prompt_batch(prompts, device=device),
            max_new_tokens=self.max_new_tokens,
            eos_token_id=self.tokenizer.token_to_id("[SEP]"),
            pad_token_id=0,
            num_beams=beam_size,
            beam_mode="bert4keras",
            **sampling,
        )
        return out.tolist()

    def solve(
        self, questions: str | list[str], beam_size: int = 1, batch_size: int = 16, progress: bool = False,
        num_samples: int | None = None, temperature: float | None = None, seed: int = 0,
    ) -> list[SolveResult]:
        """Solve each question; never raises for a bad question (the result carries the error or warning).

        ``num_samples > 0`` adds self-consistency: that many expressions are also sampled (at ``temperature``,
        seeded) and the exact value that most candidates (the greedy/beam one included) evaluate to wins; ties go to
        the value found first, so the greedy answer wins a tie. Expressions ``safe_eval`` refuses get no vote.
        None: the model's stored default (``num_samples=0`` forces plain greedy/beam decoding)."""
        num_samples = self.num_samples if num_samples is None else num_samples
        temperature = self.temperature if temperature is None else temperature
        if isinstance(questions, str):
            questions = [questions]
        if beam_size < 1 or batch_size < 1:
            raise ValueError("beam_size and batch_size must be >= 1")
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or not 0 <= num_samples <= MAX_SAMPLES:
            raise ValueError(f"num_samples must be an int in [0, {MAX_SAMPLES}], got {num_samples!r}")
        results = []
        for q in questions:
            if not isinstance(q, str):
                raise ValueError(f"questions must be strings, got {type(q).__name__}")
            results.append(SolveResult(question=q.strip()))
        todo = [r for r in results if self._check(r)]
        batches = range(0, len(todo), batch_size)
        if progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="solving", unit="batch")
        for start in batches:
            chunk = todo[start : start + batch_size]
            prompts, numbers = zip(*(self._encode(r) for r in chunk))
            generated = self._generate(list(prompts), beam_size)
            for r, ids, nums in zip(chunk, generated, numbers):
                r.expression = unmask_expression(decode_expression(self.tokenizer, ids), nums)
                r.value, r.answer, r.error = evaluate_expression(r.expression)
            if num_samples:
                sampled = self._generate(list(prompts), 1, do_sample=True, temperature=temperature,
                                         num_return_sequences=num_samples, seed=seed + start)
                for i, (r, nums) in enumerate(zip(chunk, numbers)):
                    rows = sampled[i * num_samples : (i + 1) * num_samples]
                    self._vote(r, [unmask_expression(decode_expression(self.tokenizer, ids), nums) for ids in rows])
        return results

    @staticmethod
    def _vote(result: SolveResult, expressions: list[str]) -> None:
        """Self-consistency: keep the candidate whose exact value most candidates share."""
        candidates = [(result.expression, result.value, result.answer)]
        for expression in expressions:
            value, answer, error = evaluate_expression(expression)
            if error is None:
                candidates.append((expression, value, answer))
        counts: dict = {}
        for _, value, _ in candidates:
            if value is not None:
                key = _vote_key(value)
                counts[key] = counts.get(key, 0) + 1
        if not counts:
            return
        best = max(counts.values())
        for expression, value, answer in candidates:
            if value is not None and counts[_vote_key(value)] == best:
                if expression != result.expression:
                    result.expression, result.value, result.answer, result.error = expression, value, answer, None
                result.votes = best
                return

    @staticmethod
    def _check(result: SolveResult) -> bool:
        """Whether the question goes to the model; records errors/warnings for odd questions."""
        if not result.question:
            result.error = "empty question"
            return False
        if not _DIGIT.search(result.question):
            result.warnings.append("question contains no digits; the model copies numbers from the question")
        return True


def _vote_key(value: Number):
    """Values that the answer metric treats as equal (rounded to 6 decimals) share a vote."""
    try:
        return round(float(value), 6)
    except OverflowError:
        return value
