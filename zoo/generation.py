"""One batched, KV-cached decoding engine for causal LMs and UniLM prefix-LMs.

The prompt runs once (bidirectionally over the source for UniLM), then each step feeds only the new token.
Inputs of different lengths are aligned to the right (left padding), so every row appends at the same index.

Search: greedy, sampling (temperature, top-k, top-p as bert4keras: the token that crosses p is kept) and beam
search in two modes: "bert4keras" (cumulative log-probabilities, no length normalisation, return as soon as the
best beam has ended, drop ended beams and shrink the beam; spec §0.3) and "hf" (finished hypotheses pooled and
ranked by score / length ** length_penalty).

Logits processors are callables `proc(generated [N, t], logits [N, V], state) -> logits | (logits, state)`.
`state` is a per-row object (a tensor, or a dict/list/tuple of tensors, with first dimension N) that the engine
re-indexes whenever rows are reordered (beams) or expanded (num_return_sequences). bert4keras' beam search passes
such states back unchanged after reordering beams, so a stateful constraint (SPACES' copy mechanism) reads another
beam's state; here the state always follows its beam.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Callable, Iterator

import torch

from .cache import KVCache

Processor = Callable


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
    beam_mode: str = "bert4keras"  # also the min_new_tokens rule: "hf" masks eos, "bert4keras" ignores early eos
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
        opts.validate()
        return opts

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
        need(self.beam_mode in ("bert4keras", "hf"), "beam_mode must be 'bert4keras' or 'hf'")
        need(not (self.do_sample and self.num_beams > 1), "beam sampling is not supported: use num_beams=1 with do_sample")
        if self.num_beams > 1:
            limit = 1 if self.beam_mode == "bert4keras" else self.num_beams
            need(self.num_return_sequences <= limit,
                 f"num_return_sequences must be <= {limit} for beam_mode={self.beam_mode!r}")
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


def _map_state(state, fn):
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return fn(state)
    if isinstance(state, dict):
        return {k: _map_state(v, fn) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_map_state(v, fn) for v in state)
    raise TypeError(f"a processor state must be a tensor or a dict/list/tuple of tensors, got {type(state).__name__}")


# ------------------------------------------------------------------------------------------ engine


class _Decoder:
    """Holds the model, the cache and the per-row bookkeeping shared by every search."""

    def __init__(self, model, input_ids, token_type_ids, attention_mask, opts: GenerateOptions):
        if input_ids.dim() == 1:
            input_ids = input_ids[None]
            token_type_ids = None if token_type_ids is None else token_type_ids.reshape(1, -1)
            attention_mask = None if attention_mask is None else attention_mask.reshape(1, -1)
        if input_ids.dim() != 2 or input_ids.shape[0] == 0 or input_ids.shape[1] == 0:
            raise ValueError(f"input_ids must be a non-empty [batch, length] tensor, got shape {tuple(input_ids.shape)}")
        for name, t in (("token_type_ids", token_type_ids), ("attention_mask", attention_mask)):
            if t is not None and t.shape != input_ids.shape:
                raise ValueError(f"{name} shape {tuple(t.shape)} differs from input_ids shape {tuple(input_ids.shape)}")
        config = model.config
        if config.attention not in ("causal", "unilm"):
            raise ValueError(f"generation needs a causal or unilm model, this one is {config.attention!r}")
        self.model, self.opts, self.config = model, opts, config
        self.device = input_ids.device
        mask = torch.ones_like(input_ids, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
        if not mask.any(dim=1).all():
            raise ValueError("every input row needs at least one token (attention_mask has an all-zero row)")
        # right-align every row: padding first, tokens in their order after it
        order = torch.argsort(mask.to(torch.int8), dim=1, stable=True)
        self.input_ids = input_ids.gather(1, order)
        self.mask = mask.gather(1, order)
        self.token_type_ids = None if token_type_ids is None else token_type_ids.gather(1, order)
        self.lengths = self.mask.sum(1)
        self.padded = not bool(self.mask.all())
        self.new_type = self._new_token_type()
        self.eos = torch.tensor(opts.eos_ids, dtype=torch.long, device=self.device)
        self.generator = None
        if opts.seed is not None:
            self.generator = torch.Generator(device=self.device).manual_seed(opts.seed)
        self.procs, self.states = [], []
        for item in opts.logits_processors or ():
            proc, state = item if isinstance(item, tuple) else (item, None)
            if not callable(proc):
                raise ValueError(f"logits processor {proc!r} is not callable")
            self.procs.append(proc)
            self.states.append(state)

    def _new_token_type(self):
        t = self.opts.new_token_type_id
        batch = self.input_ids.shape[0]
        if t is None:
            if self.config.attention == "unilm":
                return torch.ones(batch, dtype=torch.long, device=self.device)
            return None if self.token_type_ids is None else self.token_type_ids[:, -1].clone()
        t = torch.as_tensor(t, dtype=torch.long, device=self.device)
        return t.expand(batch).clone() if t.dim() == 0 else t.reshape(batch).clone()

    def prefill(self, expand: int) -> torch.Tensor:
        """Run the prompt once; repeat each row `expand` times (beams / samples). Returns last logits [N, V]."""
        positions = (self.mask.long().cumsum(1) - 1).clamp(min=0)
        capacity = self.input_ids.shape[1] + self.opts.max_new_tokens
        cache = KVCache(self.config.num_hidden_layers, capacity=capacity)
        out = self.model(
            self.input_ids, token_type_ids=self.token_type_ids,
            attention_mask=self.mask if self.padded else None,
            position_ids=positions, cache=cache, use_cache=True, logits_to_keep=1,
        )
        logits = out.logits[:, -1].float()
        self.cache = cache
        if expand > 1:
            index = torch.arange(self.input_ids.shape[0], device=self.device).repeat_interleave(expand)
            self.select(index)
            logits = logits.index_select(0, index)
        return logits

    def select(self, index: torch.Tensor) -> None:
        """Reorder/expand every per-row structure by `index` (cache, positions, token types, states)."""
        self.cache.reorder(index)
        self.lengths = self.lengths.index_select(0, index)
        if self.new_type is not None:
            self.new_type = self.new_type.index_select(0, index)
        self.states = [_map_state(s, lambda t: t.index_select(0, index)) for s in self.states]

    def step(self, tokens: torch.Tensor, t: int) -> torch.Tensor:
        """Feed one new token per row (the t-th generated, 0-based); returns next logits [N, V]."""
        out = self.model(
            tokens[:, None],
            token_type_ids=None if self.new_type is None else self.new_type[:, None],
            position_ids=(self.lengths + t)[:, None],
            cache=self.cache,
        )
        return out.logits[:, -1].float()

    def process(self, generated: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """User processors, then repetition controls, then min length; returns processed logits."""
        opts = self.opts
        for i, proc in enumerate(self.procs):
            result = proc(generated, logits, self.states[i])
            if isinstance(result, tuple):
                logits, self.states[i] = result
            else:
                logits = result
        logits = apply_repetition_penalty(generated, logits, opts.repetition_penalty)
        logits = ban_repeated_ngrams(generated, logits, opts.no_repeat_ngram_size)
        if generated.shape[1] < opts.min_new_tokens and self.eos.numel() and opts.beam_mode == "hf":
            logits[:, self.eos] = -math.inf
        return logits

    def is_eos(self, tokens: torch.Tensor) -> torch.Tensor:
        if not self.eos.numel():
            return torch.zeros_like(tokens, dtype=torch.bool)
        return torch.isin(tokens, self.eos)


def _check_sync_every(device: torch.device) -> int:
    """How many steps between checks whether every row has ended (each check waits for the device)."""
    return 1 if device.type == "cpu" else 8


def _sample_steps(dec: _Decoder) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Greedy or sampling. Yields (tokens [N], log-prob of each [N], finished-before-this-step [N]) per step."""
    opts = dec.opts
    n = dec.input_ids.shape[0] * opts.num_return_sequences
    logits = dec.prefill(opts.num_return_sequences)
    generated = torch.empty(n, 0, dtype=torch.long, device=dec.device)
    finished = torch.zeros(n, dtype=torch.bool, device=dec.device)
    check = _check_sync_every(dec.device)
    for t in range(opts.max_new_tokens):
        logits = dec.process(generated, logits)
        if opts.do_sample:
            logits = top_k_top_p_filter(logits / opts.temperature, opts.top_k, opts.top_p)
        logprobs = torch.log_softmax(logits, dim=-1)
        if opts.do_sample:
            tokens = torch.multinomial(logprobs.exp(), 1, generator=dec.generator).squeeze(1)
        elif opts.beam_mode == "bert4keras":  # ties go to the last index, as the original's argpartition
            tokens = logprobs.shape[-1] - 1 - logprobs.flip(-1).argmax(-1)
        else:
            tokens = logprobs.argmax(-1)
        chosen = logprobs.gather(1, tokens[:, None]).squeeze(1)
        tokens = torch.where(finished, torch.full_like(tokens, opts.pad_token_id), tokens)
        yield tokens, torch.where(finished, torch.zeros_like(chosen), chosen), finished
        if t + 1 >= opts.min_new_tokens:  # bert4keras mode: an eos before min length does not end the row
            finished = finished | dec.is_eos(tokens)
        generated = torch.cat([generated, tokens[:, None]], dim=1)
        if t + 1 == opts.max_new_tokens or ((t + 1) % check == 0 and bool(finished.all())):
            break
        logits = dec.step(tokens, t)


def _collect(steps, n: int, device, pad: int) -> GenerateOutput:
    tokens, scores, lengths = [], torch.zeros(n, device=device), torch.zeros(n, dtype=torch.long, device=device)
    for tok, logp, finished in steps:
        tokens.append(tok)
        scores += logp
        lengths += (~finished).long()
    seqs = torch.stack(tokens, 1) if tokens else torch.full((n, 0), pad, dtype=torch.long, device=device)
    width = int(lengths.max()) if n else 0
    return GenerateOutput(seqs[:, :width], scores, lengths)


def _beam_search(dec: _Decoder) -> GenerateOutput:
    opts = dec.opts
    batch, k = dec.input_ids.shape[0], opts.num_beams
    compat = opts.beam_mode == "bert4keras"
    logits = dec.prefill(k)
    device = dec.device
    vocab = logits.shape[-1]
    beam_scores = torch.full((batch, k), -math.inf, device=device)
    beam_scores[:, 0] = 0.0  # all beams start identical: expand only the first
    alive_k = [k] * batch  # bert4keras shrinks the beam as ended beams are dropped
    generated = torch.empty(batch * k, 0, dtype=torch.long, device=device)
    results: list[tuple[list[int], float] | None] = [None] * batch
    pools: list[list[tuple[float, float, list[int]]]] = [[] for _ in range(batch)]  # hf mode
    done = [False] * batch
    for t in range(opts.max_new_tokens):
        logprobs = torch.log_softmax(dec.process(generated, logits), dim=-1)
        cand = (beam_scores.view(-1, 1) + logprobs).view(batch, k * vocab)
        if compat:  # numpy argpartition in the original breaks ties towards the last index (vector §8.4)
            top_scores, flipped = torch.topk(cand.flip(-1), k, dim=-1)
            top_index = k * vocab - 1 - flipped
        else:
            top_scores, top_index = torch.topk(cand, 2 * k if dec.eos.numel() else k, dim=-1)
        beam_of, token = top_index // vocab, top_index % vocab
        source = (beam_of + torch.arange(batch, device=device)[:, None] * k)
        ended = dec.is_eos(token)
        length = t + 1
        new_scores = torch.full((batch, k), -math.inf, device=device)
        new_source = torch.arange(batch * k, device=device).view(batch, k).clone()
        new_token = torch.full((batch, k), opts.pad_token_id, dtype=torch.long, device=device)
        ts, ti, tb, te = top_scores.tolist(), token.tolist(), source.tolist(), ended.tolist()
        for b in range(batch):
            if done[b]:
                continue
            if compat:
                order = list(range(alive_k[b]))  # topk returns candidates best first
                best = 0
                if length >= max(opts.min_new_tokens, 1) and te[b][best]:
                    results[b] = (generated[tb[b][best]].tolist() + [ti[b][best]], ts[b][best])
                    done[b] = True
                    continue
                keep = [j for j in order if not te[b][j]] if length >= max(opts.min_new_tokens, 1) else order
                alive_k[b] = len(keep)
            else:
                keep = []
                for j in range(len(ts[b])):
                    if ts[b][j] == -math.inf:
                        break
                    if te[b][j]:
                        if j < k and length >= opts.min_new_tokens:
                            seq = generated[tb[b][j]].tolist() + [ti[b][j]]
                            pools[b].append((ts[b][j] / length ** opts.length_penalty, ts[b][j], seq))
                            pools[b].sort(key=lambda x: -x[0])
                            del pools[b][k:]
                    elif len(keep) < k:
                        keep.append(j)
                best_alive = ts[b][keep[0]] / length ** opts.length_penalty if keep else -math.inf
                if len(pools[b]) >= k and pools[b][-1][0] >= best_alive:
                    done[b] = True
                    continue
            for slot, j in enumerate(keep):
                new_scores[b, slot] = ts[b][j]
                new_source[b, slot] = tb[b][j]
                new_token[b, slot] = ti[b][j]
        if all(done):
            break
        index = new_source.view(-1)
        generated = torch.cat([generated.index_select(0, index), new_token.view(-1, 1)], dim=1)
        beam_scores = new_scores
        dec.select(index)
        if t + 1 == opts.max_new_tokens:
            break
        logits = dec.step(new_token.view(-1), t)
    return _finish_beams(dec, generated, beam_scores, results, pools, done)


def _finish_beams(dec, generated, beam_scores, results, pools, done) -> GenerateOutput:
    opts = dec.opts
    batch, k = beam_scores.shape
    final: list[tuple[list[int], float]] = []
    for b in range(batch):
        if opts.beam_mode == "bert4keras":
            if results[b] is None:  # maxlen reached: the best beam, ended or not
                best = int(beam_scores[b].argmax())
                results[b] = (generated[b * k + best].tolist(), float(beam_scores[b, best]))
            final.append(results[b])
        else:
            pool = list(pools[b])
            if len(pool) < opts.num_return_sequences or not done[b]:
                length = max(generated.shape[1], 1)
                for j in range(k):
                    score = float(beam_scores[b, j])
                    if score > -math.inf:
                        pool.append((score / length ** opts.length_penalty, score, generated[b * k + j].tolist()))
                pool.sort(key=lambda x: -x[0])
            final.extend((seq, score) for _, score, seq in pool[: opts.num_return_sequences])
    width = max((len(s) for s, _ in final), default=0)
    seqs = torch.full((len(final), width), opts.pad_token_id, dtype=torch.long, device=dec.device)
    for i, (s, _) in enumerate(final):
        seqs[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    scores = torch.tensor([sc for _, sc in final], device=dec.device)
    lengths = torch.tensor([len(s) for s, _ in final], device=dec.device)
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


@torch.no_grad()
def generate(model, input_ids, token_type_ids=None, attention_mask=None, **options):
    """Decode new tokens after `input_ids` (see the module docstring and `GenerateOptions` for options).

    Returns a LongTensor [batch * num_return_sequences, T] of new tokens (eos included where a row ended, then
    pad_token_id), or a `GenerateOutput` with `return_dict=True`. A prompt plus ``max_new_tokens`` that does not
    fit the model's positions is refused up front (`check_lengths`).
    """
    check_lengths(model, input_ids, options)
    opts = GenerateOptions.parse(model, options)
    dec = _Decoder(model, input_ids, token_type_ids, attention_mask, opts)
    if opts.num_beams > 1:
        out = _beam_search(dec)
    else:
        n = dec.input_ids.shape[0] * opts.num_return_sequences
        out = _collect(_sample_steps(dec), n, dec.device, opts.pad_token_id)
    return out if opts.return_dict else out.sequences


def stream(model, input_ids, token_type_ids=None, attention_mask=None, **options) -> Iterator[int]:
    """Yield new token ids one at a time (greedy or sampling, one input row), stopping after eos."""
    check_lengths(model, input_ids, options)
    opts = GenerateOptions.parse(model, options)
    if opts.num_beams > 1 or opts.num_return_sequences > 1:
        raise ValueError("stream supports greedy or sampling with one sequence")
    dec = _Decoder(model, input_ids, token_type_ids, attention_mask, opts)
    if dec.input_ids.shape[0] != 1:
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
