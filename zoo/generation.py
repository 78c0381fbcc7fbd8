"""One batched, KV-cached decoding engine for causal LMs and UniLM prefix-LMs.

The prompt runs once (bidirectionally over the source for UniLM), then each step feeds only the new token.
Inputs of different lengths are aligned to the right (left padding), so every row appends at the same index.

Search: greedy, sampling (temperature, top-k, top-p as bert4keras: the token that crosses p is kept) and beam
search with two algorithms: "bert4keras" (bert4keras' ``AutoRegressiveDecoder.beam_search``: cumulative
log-probabilities, no length normalisation, return as soon as the best beam has ended, drop ended beams and
shrink the beam) and "hf" (finished hypotheses pooled and ranked by score / length ** length_penalty).
Three options that the original couples are separate here: ``beam_algorithm``, ``tie_break`` (which of equal
scores wins: "last" as numpy's argpartition in bert4keras, "first" as torch) and ``min_length_rule`` (before
``min_new_tokens``: "ignore_eos" keeps decoding after an end token as bert4keras, "mask_eos" forbids it).
``beam_mode="bert4keras"`` / ``"hf"`` is a shorthand for all three.

Logits processors subclass :class:`LogitsProcessor`: ``proc(step, logits, state) -> (logits, state)``. ``step``
holds the tokens generated so far and the model output of the forward pass that produced the logits, so a
processor can read any other head of the model (SPACES reads its copy logits there). ``state`` is a per-row
object (a tensor, or a dict/list/tuple of tensors, first dimension = rows) from ``proc.initial_state``; the engine
re-indexes it whenever rows are reordered (beams) or expanded (num_return_sequences), so it always follows its
beam (bert4keras' beam search hands such states back unchanged after reordering beams, so a stateful constraint
there reads another beam's state). The built-in repetition penalty, n-gram ban and min length run as processors
of the same kind, after the user's.
"""

from __future__ import annotations

import math
import types
from dataclasses import dataclass, fields
from typing import Any, Iterator, NamedTuple

import torch
from transformers.utils import ModelOutput

from .cache import KVCache

BEAM_MODES = {  # beam_mode shorthand -> (beam_algorithm, tie_break, min_length_rule)
    "bert4keras": ("bert4keras", "last", "ignore_eos"),
    "hf": ("hf", "first", "mask_eos"),
}


@dataclass
class GenerateOptions:
    max_new_tokens: int = 32
    min_new_tokens: int = 0
    eos_token_id: int | list[int] | None = None
    pad_token_id: int | None = None
    num_beams: int = 1
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    num_return_sequences: int = 1
    seed: int | None = None
    new_token_type_id: int | torch.Tensor | None = None
    logits_processors: list | None = None
    beam_algorithm: str | None = None  # "bert4keras" | "hf"
    tie_break: str | None = None  # "last" | "first": which of equal scores greedy and beam search pick
    min_length_rule: str | None = None  # "ignore_eos" | "mask_eos"
    beam_mode: str | None = None  # shorthand for the three above (those given explicitly win); default "bert4keras"
    length_penalty: float = 1.0
    return_dict: bool = False

    @classmethod
    def parse(cls, model, options: dict) -> "GenerateOptions":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"unknown generation option(s) {unknown}; known: {sorted(known)}")
        opts = cls(**options)
        if opts.pad_token_id is None:
            opts.pad_token_id = getattr(model.config, "pad_token_id", None) or 0
        opts.resolve_beam_mode()
        opts.validate()
        return opts

    def resolve_beam_mode(self) -> None:
        if self.beam_mode not in BEAM_MODES and self.beam_mode is not None:
            raise ValueError(f"beam_mode must be one of {sorted(BEAM_MODES)}, got {self.beam_mode!r}")
        algorithm, tie_break, min_length_rule = BEAM_MODES[self.beam_mode or "bert4keras"]
        self.beam_algorithm = self.beam_algorithm or algorithm
        self.tie_break = self.tie_break or tie_break
        self.min_length_rule = self.min_length_rule or min_length_rule

    def validate(self) -> None:
        def need(ok, message):
            if not ok:
                raise ValueError(message)

        need(isinstance(self.max_new_tokens, int) and self.max_new_tokens >= 0, "max_new_tokens must be an int >= 0")
        need(isinstance(self.min_new_tokens, int) and self.min_new_tokens >= 0, "min_new_tokens must be an int >= 0")
        need(self.min_new_tokens <= self.max_new_tokens, "min_new_tokens must not exceed max_new_tokens")
        need(isinstance(self.num_beams, int) and self.num_beams >= 1, "num_beams must be an int >= 1")
        need(isinstance(self.num_return_sequences, int) and self.num_return_sequences >= 1,
             "num_return_sequences must be an int >= 1")
        need(self.temperature > 0 and math.isfinite(self.temperature), "temperature must be a positive number")
        need(self.top_k is None or (isinstance(self.top_k, int) and self.top_k >= 1), "top_k must be None or >= 1")
        need(self.top_p is None or 0 < self.top_p <= 1, "top_p must be in (0, 1]")
        need(self.repetition_penalty > 0, "repetition_penalty must be > 0")
        need(isinstance(self.no_repeat_ngram_size, int) and self.no_repeat_ngram_size >= 0,
             "no_repeat_ngram_size must be an int >= 0")
        need(self.beam_algorithm in ("bert4keras", "hf"), "beam_algorithm must be 'bert4keras' or 'hf'")
        need(self.tie_break in ("last", "first"), "tie_break must be 'last' or 'first'")
        need(self.min_length_rule in ("ignore_eos", "mask_eos"), "min_length_rule must be 'ignore_eos' or 'mask_eos'")
        need(not (self.do_sample and self.num_beams > 1), "beam sampling is not supported: use num_beams=1 with do_sample")
        if self.num_beams > 1:
            limit = 1 if self.beam_algorithm == "bert4keras" else self.num_beams
            need(self.num_return_sequences <= limit,
                 f"num_return_sequences must be <= {limit} for beam_algorithm={self.beam_algorithm!r}")
        elif not self.do_sample:
            need(self.num_return_sequences == 1, "greedy decoding returns one sequence per input; use do_sample")

    @property
    def eos_ids(self) -> list[int]:
        if self.eos_token_id is None:
            return []
        return [self.eos_token_id] if isinstance(self.eos_token_id, int) else list(self.eos_token_id)


@dataclass
class GenerateOutput:
    sequences: torch.Tensor  # [N, T] new tokens, eos included where a row ended, then pad
    scores: torch.Tensor  # [N] sum of log-probabilities (beam: the beam score)
    lengths: torch.Tensor  # [N] number of new tokens including eos


# ------------------------------------------------------------------------------------ processors


@dataclass
class Step:
    """What a logits processor sees at one decoding step (rows = the current beams / samples)."""

    generated: torch.Tensor  # [N, t] new tokens so far (the prompt excluded)
    output: Any  # the model output whose last position gave this step's logits, rows aligned with `generated`
    eos: torch.Tensor  # end token ids (may be empty)


class LogitsProcessor:
    """Base of every logits processor: ``proc(step, logits [N, V], state) -> (logits, state)``.

    ``initial_state(batch_size)`` gives the per-row state of the input rows (None when stateless); the engine
    moves it to the device and re-indexes it with the rows."""

    def initial_state(self, batch_size: int) -> Any:
        return None

    def __call__(self, step: Step, logits: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        raise NotImplementedError


def apply_repetition_penalty(generated: torch.Tensor, logits: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL-style penalty on tokens already generated (the prompt is not penalised, so copying stays possible)."""
    if penalty == 1.0 or generated.shape[1] == 0:
        return logits
    seen = torch.gather(logits, 1, generated)
    seen = torch.where(seen > 0, seen / penalty, seen * penalty)
    return logits.scatter(1, generated, seen)


def ban_repeated_ngrams(generated: torch.Tensor, logits: torch.Tensor, n: int) -> torch.Tensor:
    """Forbid tokens that would complete an n-gram already present in the generated tokens."""
    t = generated.shape[1]
    if n <= 0 or t < n - 1 or t == 0:
        return logits
    rows = generated.tolist()
    for r, seq in enumerate(rows):
        prefix = tuple(seq[t - n + 1:]) if n > 1 else ()
        banned = [seq[i + n - 1] for i in range(t - n + 1) if tuple(seq[i:i + n - 1]) == prefix]
        if banned:
            logits[r, banned] = -math.inf
    return logits


class RepetitionPenalty(LogitsProcessor):
    def __init__(self, penalty: float):
        self.penalty = penalty

    def __call__(self, step, logits, state):
        return apply_repetition_penalty(step.generated, logits, self.penalty), state


class NoRepeatNGram(LogitsProcessor):
    def __init__(self, n: int):
        self.n = n

    def __call__(self, step, logits, state):
        return ban_repeated_ngrams(step.generated, logits, self.n), state


class MinNewTokens(LogitsProcessor):
    """Forbid the end tokens for the first ``min_new_tokens`` steps, in every row where another token is still
    possible (a row whose only possible token is an end token keeps it rather than becoming all -inf)."""

    def __init__(self, min_new_tokens: int):
        self.min_new_tokens = min_new_tokens

    def __call__(self, step, logits, state):
        if step.generated.shape[1] >= self.min_new_tokens or not step.eos.numel():
            return logits, state
        masked = logits.index_fill(1, step.eos, -math.inf)
        return torch.where(torch.isfinite(masked).any(-1, keepdim=True), masked, logits), state


def top_k_top_p_filter(logits: torch.Tensor, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """bert4keras order: keep the k most likely, renormalise, then keep the smallest prefix of the sorted
    distribution whose mass reaches p (the token crossing p is kept)."""
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, -math.inf)
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cum = torch.softmax(sorted_logits.float(), dim=-1).cumsum(-1)
        drop = torch.roll(cum >= top_p, 1, dims=-1)
        drop[..., 0] = False
        logits = logits.masked_fill(drop.scatter(-1, order, drop), -math.inf)
    return logits


def build_processors(opts: GenerateOptions) -> list[LogitsProcessor]:
    """The user's processors, then repetition penalty, n-gram ban and (rule "mask_eos") min length."""
    procs = list(opts.logits_processors or ())
    for proc in procs:
        if not isinstance(proc, LogitsProcessor):
            raise ValueError(f"logits processor {proc!r} must subclass zoo.generation.LogitsProcessor")
    if opts.repetition_penalty != 1.0:
        procs.append(RepetitionPenalty(opts.repetition_penalty))
    if opts.no_repeat_ngram_size > 0:
        procs.append(NoRepeatNGram(opts.no_repeat_ngram_size))
    if opts.min_new_tokens > 0 and opts.min_length_rule == "mask_eos":
        procs.append(MinNewTokens(opts.min_new_tokens))
    return procs


def map_rows(obj, fn, strict: bool = True):
    """Apply `fn` to every tensor in a (nested) state or model output; other leaves are kept, or refused when
    `strict` (a processor state must be tensors)."""
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if obj is None:
        return None
    if isinstance(obj, (ModelOutput, dict)):
        return type(obj)(**{k: map_rows(v, fn, strict) for k, v in obj.items()})
    if isinstance(obj, (list, tuple)):
        return type(obj)(map_rows(v, fn, strict) for v in obj)
    if isinstance(obj, types.SimpleNamespace):
        return types.SimpleNamespace(**{k: map_rows(v, fn, strict) for k, v in vars(obj).items()})
    if strict:
        raise TypeError(f"a processor state must be a tensor or a dict/list/tuple of tensors, got {type(obj).__name__}")
    return obj


# ------------------------------------------------------------------------------------------ engine


class _Decoder:
    """Holds the model, the cache, the latest model output and the per-row bookkeeping shared by every search."""

    def __init__(self, model, input_ids, token_type_ids, attention_mask, opts: GenerateOptions):
        input_ids, token_type_ids, attention_mask = _check_inputs(model, input_ids, token_type_ids, attention_mask)
        self.model, self.opts, self.config = model, opts, model.config
        self.device = input_ids.device
        mask = torch.ones_like(input_ids, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
        # right-align every row: padding first, tokens in their order after it
        order = torch.argsort(mask.to(torch.int8), dim=1, stable=True)
        self.input_ids = input_ids.gather(1, order)
        self.mask = mask.gather(1, order)
        self.token_type_ids = None if token_type_ids is None else token_type_ids.gather(1, order)
        self.batch_size = self.input_ids.shape[0]
        self.lengths = self.mask.sum(1)
        self.padded = not bool(self.mask.all())
        self.new_type = self._new_token_type()
        self.eos = torch.tensor(opts.eos_ids, dtype=torch.long, device=self.device)
        self.generator = None
        if opts.seed is not None:
            self.generator = torch.Generator(device=self.device).manual_seed(opts.seed)
        self.processors = build_processors(opts)
        to_device = lambda t: t.to(self.device)  # noqa: E731
        self.states = [map_rows(p.initial_state(self.batch_size), to_device) for p in self.processors]
        self.output = None

    def _new_token_type(self):
        t = self.opts.new_token_type_id
        if t is None:
            if self.config.attention == "unilm":
                return torch.ones(self.batch_size, dtype=torch.long, device=self.device)
            return None if self.token_type_ids is None else self.token_type_ids[:, -1].clone()
        t = torch.as_tensor(t, dtype=torch.long, device=self.device)
        return t.expand(self.batch_size).clone() if t.dim() == 0 else t.reshape(self.batch_size).clone()

    def prefill(self, expand: int) -> None:
        """Run the prompt once; repeat each row `expand` times (beams / samples)."""
        positions = (self.mask.long().cumsum(1) - 1).clamp(min=0)
        capacity = self.input_ids.shape[1] + self.opts.max_new_tokens
        self.cache = KVCache(self.config.num_hidden_layers, capacity=capacity)
        self.output = self.model(
            self.input_ids, token_type_ids=self.token_type_ids,
            attention_mask=self.mask if self.padded else None,
            position_ids=positions, cache=self.cache, use_cache=True, logits_to_keep=1,
        )
        if expand > 1:
            index = torch.arange(self.batch_size, device=self.device).repeat_interleave(expand)
            self.select(index)
            batch = self.batch_size
            self.output = map_rows(self.output, lambda t: t.index_select(0, index) if t.dim() and t.shape[0] == batch
                                   else t, strict=False)

    def select(self, index: torch.Tensor) -> None:
        """Reorder/expand every per-row structure by `index` (cache, positions, token types, states)."""
        self.cache.reorder(index)
        self.lengths = self.lengths.index_select(0, index)
        if self.new_type is not None:
            self.new_type = self.new_type.index_select(0, index)
        self.states = [map_rows(s, lambda t: t.index_select(0, index)) for s in self.states]

    def step(self, tokens: torch.Tensor, t: int) -> None:
        """Feed one new token per row (the t-th generated, 0-based)."""
        self.output = self.model(
            tokens[:, None],
            token_type_ids=None if self.new_type is None else self.new_type[:, None],
            position_ids=(self.lengths + t)[:, None],
            cache=self.cache,
        )

    def next_logits(self, generated: torch.Tensor) -> torch.Tensor:
        """The latest output's next-token logits [N, V] (float32) after every processor."""
        logits = self.output.logits[:, -1].float()
        step = Step(generated, self.output, self.eos)
        for i, proc in enumerate(self.processors):
            logits, self.states[i] = proc(step, logits, self.states[i])
        return logits

    def may_end(self, t: int) -> bool:
        """Whether an end token produced at step t (0-based) ends its row. Rule "ignore_eos": not before
        min_new_tokens (bert4keras); rule "mask_eos": always (it only appears where nothing else could)."""
        return self.opts.min_length_rule == "mask_eos" or t + 1 >= self.opts.min_new_tokens

    def is_eos(self, tokens: torch.Tensor) -> torch.Tensor:
        if not self.eos.numel():
            return torch.zeros_like(tokens, dtype=torch.bool)
        return torch.isin(tokens, self.eos)


def _check_inputs(model, input_ids, token_type_ids, attention_mask):
    """Shapes checked (a 1-D input is one row); returns the three tensors as [batch, length] (or None)."""
    if input_ids.dim() == 1:
        input_ids = input_ids[None]
        token_type_ids = None if token_type_ids is None else token_type_ids.reshape(1, -1)
        attention_mask = None if attention_mask is None else attention_mask.reshape(1, -1)
    if input_ids.dim() != 2 or input_ids.shape[0] == 0 or input_ids.shape[1] == 0:
        raise ValueError(f"input_ids must be a non-empty [batch, length] tensor, got shape {tuple(input_ids.shape)}")
    for name, t in (("token_type_ids", token_type_ids), ("attention_mask", attention_mask)):
        if t is not None and t.shape != input_ids.shape:
            raise ValueError(f"{name} shape {tuple(t.shape)} differs from input_ids shape {tuple(input_ids.shape)}")
    if model.config.attention not in ("causal", "unilm"):
        raise ValueError(f"generation needs a causal or unilm model, this one is {model.config.attention!r}")
    if attention_mask is not None and not attention_mask.bool().any(dim=1).all():
        raise ValueError("every input row needs at least one token (attention_mask has an all-zero row)")
    return input_ids, token_type_ids, attention_mask


def _check_sync_every(device: torch.device) -> int:
    """How many steps between checks whether every row has ended (each check waits for the device)."""
    return 1 if device.type == "cpu" else 8


def _argmax(logprobs: torch.Tensor, tie_break: str) -> torch.Tensor:
    """Row-wise argmax; "last" picks the last of equal maxima, as numpy's argpartition in bert4keras."""
    if tie_break == "last":
        return logprobs.shape[-1] - 1 - logprobs.flip(-1).argmax(-1)
    return logprobs.argmax(-1)


def _sample_steps(dec: _Decoder) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Greedy or sampling. Yields (tokens [N], log-prob of each [N], finished-before-this-step [N]) per step."""
    opts = dec.opts
    n = dec.batch_size * opts.num_return_sequences
    dec.prefill(opts.num_return_sequences)
    generated = torch.empty(n, 0, dtype=torch.long, device=dec.device)
    finished = torch.zeros(n, dtype=torch.bool, device=dec.device)
    check = _check_sync_every(dec.device)
    for t in range(opts.max_new_tokens):
        logits = dec.next_logits(generated)
        if opts.do_sample:
            logits = top_k_top_p_filter(logits / opts.temperature, opts.top_k, opts.top_p)
        logprobs = torch.log_softmax(logits, dim=-1)
        if opts.do_sample:
            tokens = torch.multinomial(logprobs.exp(), 1, generator=dec.generator).squeeze(1)
        else:
            tokens = _argmax(logprobs, opts.tie_break)
        chosen = logprobs.gather(1, tokens[:, None]).squeeze(1)
        tokens = torch.where(finished, torch.full_like(tokens, opts.pad_token_id), tokens)
        yield tokens, torch.where(finished, torch.zeros_like(chosen), chosen), finished
        if dec.may_end(t):
            finished = finished | dec.is_eos(tokens)
        generated = torch.cat([generated, tokens[:, None]], dim=1)
        if t + 1 == opts.max_new_tokens or ((t + 1) % check == 0 and bool(finished.all())):
            break
        dec.step(tokens, t)


def _collect(steps, n: int, device, pad: int) -> GenerateOutput:
    tokens, scores, lengths = [], torch.zeros(n, device=device), torch.zeros(n, dtype=torch.long, device=device)
    for tok, logp, finished in steps:
        tokens.append(tok)
        scores += logp
        lengths += (~finished).long()
    seqs = torch.stack(tokens, 1) if tokens else torch.full((n, 0), pad, dtype=torch.long, device=device)
    width = int(lengths.max()) if n else 0
    return GenerateOutput(seqs[:, :width], scores, lengths)


# ------------------------------------------------------------------------------------- beam search


class Candidate(NamedTuple):
    """One extension of a beam: its cumulative score, the row it extends and the new token."""

    score: float
    row: int
    token: int
    ended: bool


class _Beams:
    """k beams per input: scores [B, k] (-inf = empty slot) and the tokens generated so far [B * k, t]."""

    def __init__(self, dec: _Decoder):
        self.dec, self.k = dec, dec.opts.num_beams
        dec.prefill(self.k)
        self.scores = torch.full((dec.batch_size, self.k), -math.inf, device=dec.device)
        self.scores[:, 0] = 0.0  # all beams start identical: expand only the first
        self.generated = torch.empty(dec.batch_size * self.k, 0, dtype=torch.long, device=dec.device)

    def candidates(self, count: int) -> list[list[Candidate]]:
        """The `count` best extensions of each input's beams, best first."""
        dec, batch = self.dec, self.dec.batch_size
        logprobs = torch.log_softmax(dec.next_logits(self.generated), dim=-1)
        vocab = logprobs.shape[-1]
        scores = (self.scores.view(-1, 1) + logprobs).view(batch, self.k * vocab)
        if dec.opts.tie_break == "last":
            top_scores, flipped = torch.topk(scores.flip(-1), count, dim=-1)
            top_index = self.k * vocab - 1 - flipped
        else:
            top_scores, top_index = torch.topk(scores, count, dim=-1)
        rows = top_index // vocab + torch.arange(batch, device=dec.device)[:, None] * self.k
        tokens = top_index % vocab
        columns = zip(top_scores.tolist(), rows.tolist(), tokens.tolist(), dec.is_eos(tokens).tolist())
        return [[Candidate(*c) for c in zip(*column)] for column in columns]

    def sequence(self, candidate: Candidate) -> list[int]:
        return self.generated[candidate.row].tolist() + [candidate.token]

    def advance(self, kept: list[list[Candidate]], t: int) -> None:
        """Make `kept[b]` (at most k candidates) the beams of input b, then run the model on the new tokens
        unless this was the last step."""
        dec, opts, k = self.dec, self.dec.opts, self.k
        scores = [[-math.inf] * k for _ in kept]
        rows = [list(range(b * k, (b + 1) * k)) for b in range(len(kept))]  # empty slots keep their row
        tokens = [[opts.pad_token_id] * k for _ in kept]
        for b, candidates in enumerate(kept):
            for slot, c in enumerate(candidates):
                scores[b][slot], rows[b][slot], tokens[b][slot] = c.score, c.row, c.token
        index = torch.tensor(rows, device=dec.device).view(-1)
        tokens = torch.tensor(tokens, device=dec.device).view(-1)
        self.generated = torch.cat([self.generated.index_select(0, index), tokens[:, None]], dim=1)
        self.scores = torch.tensor(scores, device=dec.device)
        dec.select(index)
        if t + 1 < opts.max_new_tokens:
            dec.step(tokens, t)


def _beam_search_bert4keras(dec: _Decoder) -> GenerateOutput:
    """bert4keras' beam search: an input is done as soon as its best candidate ends; ended candidates leave the
    beam, which shrinks; at max length the best live beam is returned, ended or not."""
    opts, beams = dec.opts, _Beams(dec)
    results: list[tuple[list[int], float] | None] = [None] * dec.batch_size
    width = [beams.k] * dec.batch_size
    for t in range(opts.max_new_tokens):
        may_end = dec.may_end(t)
        kept: list[list[Candidate]] = []
        for b, candidates in enumerate(beams.candidates(beams.k)):
            best = candidates[0]
            if results[b] is None and may_end and best.ended:
                results[b] = (beams.sequence(best), best.score)
            live = [] if results[b] is not None else candidates[:width[b]]
            kept.append([c for c in live if not (may_end and c.ended)])
            width[b] = len(kept[b])
        if all(r is not None for r in results):
            break
        beams.advance(kept, t)
    for b, result in enumerate(results):
        if result is None:
            best = int(beams.scores[b].argmax())
            results[b] = (beams.generated[b * beams.k + best].tolist(), float(beams.scores[b, best]))
    return _pack(dec, results)


def _beam_search_hf(dec: _Decoder) -> GenerateOutput:
    """Length-penalised beam search: ended candidates among the k best join the input's pool of finished
    hypotheses, ranked by score / length ** length_penalty; an input is done when its pool holds k hypotheses
    that no live beam can beat."""
    opts, beams = dec.opts, _Beams(dec)
    k, penalty = beams.k, opts.length_penalty
    pools: list[list[tuple[float, float, list[int]]]] = [[] for _ in range(dec.batch_size)]
    done = [False] * dec.batch_size
    for t in range(opts.max_new_tokens):
        length, kept = t + 1, []
        for b, candidates in enumerate(beams.candidates(2 * k if dec.eos.numel() else k)):
            live = []
            for rank, c in enumerate(candidates if not done[b] else ()):
                if c.score == -math.inf:
                    break
                if not c.ended:
                    live.append(c)
                elif rank < k and length >= opts.min_new_tokens:
                    _add_to_pool(pools[b], (c.score / length ** penalty, c.score, beams.sequence(c)), k)
            best_live = live[0].score / length ** penalty if live else -math.inf
            if not done[b] and len(pools[b]) >= k and pools[b][-1][0] >= best_live:
                done[b] = True
            kept.append(live[:k] if not done[b] else [])
        if all(done):
            break
        beams.advance(kept, t)
    return _pack(dec, [hyp for b in range(dec.batch_size) for hyp in _best_hypotheses(beams, b, pools[b], done[b])])


def _add_to_pool(pool: list, hypothesis: tuple, k: int) -> None:
    pool.append(hypothesis)
    pool.sort(key=lambda h: -h[0])
    del pool[k:]


def _best_hypotheses(beams: _Beams, b: int, pool: list, done: bool) -> list[tuple[list[int], float]]:
    """The num_return_sequences best of the pool, topped up with the live beams when the input is not done."""
    opts, pool = beams.dec.opts, list(pool)
    if len(pool) < opts.num_return_sequences or not done:
        length = max(beams.generated.shape[1], 1)
        for j in range(beams.k):
            score = float(beams.scores[b, j])
            if score > -math.inf:
                pool.append((score / length ** opts.length_penalty, score, beams.generated[b * beams.k + j].tolist()))
        pool.sort(key=lambda h: -h[0])
    return [(seq, score) for _, score, seq in pool[: opts.num_return_sequences]]


def _pack(dec: _Decoder, hypotheses: list[tuple[list[int], float]]) -> GenerateOutput:
    width = max((len(s) for s, _ in hypotheses), default=0)
    seqs = torch.full((len(hypotheses), width), dec.opts.pad_token_id, dtype=torch.long, device=dec.device)
    for i, (s, _) in enumerate(hypotheses):
        seqs[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    scores = torch.tensor([score for _, score in hypotheses], device=dec.device)
    lengths = torch.tensor([len(s) for s, _ in hypotheses], device=dec.device)
    return GenerateOutput(seqs, scores, lengths)


MAX_NEW_TOKENS_UNBOUNDED = 65_536  # models without absolute positions: the KV cache is allocated up front


def check_lengths(model, input_ids, options: dict) -> None:
    """Refuse, before any work, a request the model cannot serve: with absolute positions the (left-padded)
    prompt width plus ``max_new_tokens`` must fit ``max_position_embeddings``; otherwise ``max_new_tokens`` is
    capped at ``MAX_NEW_TOKENS_UNBOUNDED``, since the cache for all of them is allocated at the start."""
    max_new = options.get("max_new_tokens", GenerateOptions.max_new_tokens)
    if isinstance(max_new, bool) or not isinstance(max_new, int) or not isinstance(input_ids, torch.Tensor):
        return  # GenerateOptions / _Decoder name the type error
    config = model.config
    width = input_ids.shape[-1] if input_ids.dim() else 0
    limit = getattr(config, "max_position_embeddings", None)
    if getattr(config, "position_embedding_type", "absolute") == "absolute" and isinstance(limit, int):
        if width + max_new > limit:
            raise ValueError(f"prompt of {width} tokens + max_new_tokens={max_new} exceeds the model's "
                             f"max_position_embeddings={limit}; shorten the prompt or lower max_new_tokens "
                             f"(at most {max(limit - width, 0)} here)")
    elif getattr(config, "position_embedding_type", "absolute") != "absolute" and max_new > MAX_NEW_TOKENS_UNBOUNDED:
        raise ValueError(f"max_new_tokens={max_new} is over the limit of {MAX_NEW_TOKENS_UNBOUNDED} for models "
                         "without absolute positions")
# the GenerationConfig fields zoo.generate understands under the same name
_HF_FIELDS = ("max_new_tokens", "min_new_tokens", "eos_token_id", "pad_token_id", "num_beams", "do_sample",
              "temperature", "top_k", "top_p", "repetition_penalty", "no_repeat_ngram_size", "num_return_sequences",
              "length_penalty")
_HF_IGNORED = {"transformers_version", "output_attentions", "output_hidden_states", "use_cache", "bos_token_id",
               "return_dict_in_generate", "output_scores", "output_logits"}


def _accept_hf_names(input_ids, options: dict) -> dict:
    """The names transformers' generate() users type: `generation_config` (its fields, explicit options win),
    `max_length` (prompt + new tokens), `return_dict_in_generate` (= return_dict); `streamer` and `output_scores`
    are refused with what to use instead."""
    options = dict(options)
    config = options.pop("generation_config", None)
    if config is not None:
        given = {k: v for k, v in vars(config).items() if not k.startswith("_") and v is not None and v is not False}
        unsupported = sorted(set(given) - set(_HF_FIELDS) - _HF_IGNORED - {"max_length"})
        if unsupported:
            raise ValueError(f"generation_config sets {unsupported}, which zoo.generate does not support; "
                             "use model.generate(...) (transformers' generate) for those")
        for key in (*_HF_FIELDS, "max_length"):
            if key in given:
                options.setdefault(key, given[key])
    if options.pop("streamer", None) is not None:
        raise ValueError("zoo.generate takes no streamer: iterate zoo.generation.stream(model, input_ids, ...) for "
                         "tokens as they are made, or use model.generate(..., streamer=...) (transformers' generate)")
    if options.pop("output_scores", False):
        raise ValueError("zoo.generate has no per-step scores: return_dict=True gives each sequence's total "
                         "log-probability (GenerateOutput.scores); use model.generate(..., output_scores=True) "
                         "(transformers' generate) for per-step scores")
    if "return_dict_in_generate" in options:
        options.setdefault("return_dict", bool(options.pop("return_dict_in_generate")))
    max_length = options.pop("max_length", None)
    if max_length is not None:
        if "max_new_tokens" in options:
            raise ValueError("pass max_new_tokens or max_length (prompt + new tokens), not both")
        prompt = input_ids.shape[-1] if input_ids.dim() else 0
        if not isinstance(max_length, int) or max_length <= prompt:
            raise ValueError(f"max_length ({max_length!r}) counts the prompt too and must exceed its length {prompt}; "
                             "prefer max_new_tokens")
        options["max_new_tokens"] = max_length - prompt
    return options


# ------------------------------------------------------------------------------------------- entry points


@torch.no_grad()
def generate(model, input_ids, token_type_ids=None, attention_mask=None, **options):
    """Decode new tokens after `input_ids` (see the module docstring and `GenerateOptions` for options; the
    transformers names `max_length`, `generation_config` and `return_dict_in_generate` are accepted too).

    Returns a LongTensor [batch * num_return_sequences, T] of new tokens (eos included where a row ended, then
    pad_token_id), or a `GenerateOutput` with `return_dict=True`. A prompt plus ``max_new_tokens`` that does not
    fit the model's positions is refused up front (`check_lengths`).
    """
    options = _accept_hf_names(input_ids, options)
    check_lengths(model, input_ids, options)
    opts = GenerateOptions.parse(model, options)
    dec = _Decoder(model, input_ids, token_type_ids, attention_mask, opts)
    if opts.num_beams > 1 and opts.beam_algorithm == "bert4keras":
        out = _beam_search_bert4keras(dec)
    elif opts.num_beams > 1:
        out = _beam_search_hf(dec)
    else:
        out = _collect(_sample_steps(dec), dec.batch_size * opts.num_return_sequences, dec.device, opts.pad_token_id)
    return out if opts.return_dict else out.sequences


def stream(model, input_ids, token_type_ids=None, attention_mask=None, **options) -> Iterator[int]:
    """Yield new token ids one at a time (greedy or sampling, one input row), stopping after eos."""
    check_lengths(model, input_ids, options)
    opts = GenerateOptions.parse(model, options)
    if opts.num_beams > 1 or opts.num_return_sequences > 1:
        raise ValueError("stream supports greedy or sampling with one sequence")
    dec = _Decoder(model, input_ids, token_type_ids, attention_mask, opts)
    if dec.batch_size != 1:
        raise ValueError("stream takes one input row")
    steps = _sample_steps(dec)
    while True:
        with torch.no_grad():  # only around each step: a suspended generator must not leak no_grad to the caller
            try:
                tokens, _, finished = next(steps)
            except StopIteration:
                return
        if bool(finished[0]):
            return
        yield int(tokens[0])
