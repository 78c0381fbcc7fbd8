"""The zoo transformer: one compact implementation of the BERT, RoBERTa, NEZHA, OpenAI-GPT and GPT-2 layouts,
with bidirectional / causal / UniLM attention, RealFormer residual scores and a KV cache.

Reading order: activations -> relative positions -> attention -> feed-forward -> layer -> embeddings ->
heads -> models. Fused attention (scaled_dot_product_attention) is used whenever the attention weights themselves
are not needed; NEZHA's relative positions and RealFormer's carried scores take the explicit path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.utils import ModelOutput

from . import masks
from .cache import KVCache
from .configuration import ZooConfig
from .hf_compat import ZooGenerationMixin, as_zoo_cache, lm_loss

ACT2FN = {
    "gelu": F.gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
    "tanh": torch.tanh,
}


def sinusoid_table(rows: int, dim: int) -> torch.Tensor:
    """NEZHA's fixed table: row r holds [sin, cos, sin, cos, ...] of position r, frequencies 10000^(-2i/d)."""
    position = torch.arange(rows, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(rows, dim)
    table[:, 0::2] = torch.sin(position * div)
    table[:, 1::2] = torch.cos(position * div)
    return table


def relative_index(q_len: int, k_len: int, max_distance: int, device=None) -> torch.Tensor:
    """[q_len, k_len] rows of the relative table: clip(key_pos - query_pos, -m, m) + m; queries are the last
    q_len of k_len positions."""
    q = torch.arange(k_len - q_len, k_len, device=device)[:, None]
    k = torch.arange(k_len, device=device)[None, :]
    return (k - q).clamp(-max_distance, max_distance) + max_distance


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection."""

    def __init__(self, config: ZooConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_size = config.head_size
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.out = nn.Linear(config.hidden_size, config.hidden_size)
        self.attn_dropout = config.attention_probs_dropout_prob
        self.resid_dropout = nn.Dropout(config.hidden_dropout_prob)
        self.residual = config.residual_attention

    def forward(self, x, bias, *, layer, fused, cache=None, rel=None, prev_scores=None, is_causal=False):
        """Returns (output, carried scores for RealFormer or None, attention probabilities or None).

        fused: scaled_dot_product_attention (no weights, scores or relative positions); chosen once per forward
        by the model, which then builds the matching mask. rel: (table [2m+1, d], index [Q, K]) for NEZHA
        relative positions, or None."""
        batch, q_len, hidden = x.shape
        q, k, v = self.qkv(x).view(batch, q_len, 3, self.num_heads, self.head_size).permute(2, 0, 3, 1, 4)
        if cache is not None:
            k, v = cache.update(layer, k, v)
        dropout = self.attn_dropout if self.training else 0.0
        if fused:
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout, is_causal=is_causal)
            scores = probs = None
        else:
            ctx, scores, probs = self._explicit(q, k, v, bias, rel, prev_scores, dropout)
        ctx = ctx.transpose(1, 2).reshape(batch, q_len, hidden)
        return self.resid_dropout(self.out(ctx)), scores, probs

    def _explicit(self, q, k, v, bias, rel, prev_scores, dropout):
        """Attention written out: NEZHA relative positions on keys and values, RealFormer's carried scores,
        returned probabilities. Returns (context, scores before the mask, probabilities)."""
        scores = q @ k.transpose(-1, -2)
        if rel is not None:
            table, index = rel
            idx = index.expand(q.shape[0], self.num_heads, *index.shape)
            scores = scores + torch.gather(q @ table.T.to(q.dtype), -1, idx)
        scores = scores * (1.0 / math.sqrt(self.head_size))
        if prev_scores is not None:
            scores = scores + prev_scores
        logits = scores if bias is None else scores + bias
        probs = torch.softmax(logits.float(), dim=-1).to(q.dtype)
        dropped = F.dropout(probs, dropout, self.training)
        ctx = dropped @ v
        if rel is not None:
            buckets = torch.zeros(*dropped.shape[:-1], table.shape[0], dtype=dropped.dtype, device=q.device)
            ctx = ctx + buckets.scatter_add_(-1, idx, dropped) @ table.to(ctx.dtype)
        return ctx, scores, probs


class FeedForward(nn.Module):
    def __init__(self, config: ZooConfig):
        super().__init__()
        self.up = nn.Linear(config.hidden_size, config.intermediate_size)
        self.down = nn.Linear(config.intermediate_size, config.hidden_size)
        self.act = ACT2FN[config.hidden_act]
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x):
        return self.dropout(self.down(self.act(self.up(x))))


class Layer(nn.Module):
    """One block: post-LN (BERT, NEZHA, OpenAI-GPT) or pre-LN (GPT-2)."""

    def __init__(self, config: ZooConfig):
        super().__init__()
        self.pre_norm = config.pre_norm
        self.attention = Attention(config)
        self.norm1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.ffn = FeedForward(config)
        self.norm2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, x, bias, **kw):
        if self.pre_norm:
            a, scores, probs = self.attention(self.norm1(x), bias, **kw)
            x = x + a
            return x + self.ffn(self.norm2(x)), scores, probs
        a, scores, probs = self.attention(x, bias, **kw)
        x = self.norm1(x + a)
        return self.norm2(x + self.ffn(x)), scores, probs


class Embeddings(nn.Module):
    def __init__(self, config: ZooConfig):
        super().__init__()
        self.config = config
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embeddings = None
        if config.position_embedding_type == "absolute":
            self.position_embeddings = nn.Embedding(
                config.max_position_embeddings + config.position_offset, config.hidden_size
            )
        self.token_type_embeddings = None
        if config.token_type_embedding == "segment" and config.type_vocab_size > 0:
            self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) if config.embedding_norm else None
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids, token_type_ids, position_ids):
        x = self.word_embeddings(input_ids)
        if self.position_embeddings is not None:
            x = x + self.position_embeddings(position_ids)
        if self.token_type_embeddings is not None:
            if token_type_ids is None:  # as HF BERT: segment 0 is added when no segments are given
                x = x + self.token_type_embeddings.weight[0]
            else:
                x = x + self.token_type_embeddings(token_type_ids)
        elif token_type_ids is not None and self.config.token_type_embedding == "shared":
            x = x + self.word_embeddings(token_type_ids)
        if self.norm is not None:
            x = self.norm(x)
        return self.dropout(x)


class Pooler(nn.Module):
    """tanh(dense(h[CLS])); `dense` alone is bert4keras' with_pool='linear'."""

    def __init__(self, config: ZooConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden):
        return torch.tanh(self.dense(hidden[:, 0]))


class LMHead(nn.Module):
    """Tied output projection; with BERT's MLM transform (dense, act, LayerNorm) and bias when configured."""

    def __init__(self, config: ZooConfig):
        super().__init__()
        self.dense = self.norm = None
        if config.lm_head_transform:
            self.dense = nn.Linear(config.hidden_size, config.hidden_size)
            self.act = ACT2FN[config.hidden_act]
            self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size)) if config.lm_head_bias else None

    def transform(self, hidden):
        if self.dense is None:
            return hidden
        return self.norm(self.act(self.dense(hidden)))

    def forward(self, hidden, weight):
        return F.linear(hidden, weight, self.bias)


class _CacheAlias:
    """`past_key_values` as a read-only alias of the `cache` field.

    transformers 5.24 renamed every ModelOutput cache field to `cache` and rewrites the keyword
    `past_key_values=` into `cache=` before a dataclass __init__ runs; releases before 5.24 know only
    `past_key_values`. Our outputs use `cache` and keep the old name readable everywhere, without the
    deprecation warning that 5.24's own alias logs."""

    @property
    def past_key_values(self):
        return self.cache


@dataclass
class ZooModelOutput(_CacheAlias, ModelOutput):
    last_hidden_state: torch.Tensor | None = None
    pooler_output: torch.Tensor | None = None
    cache: KVCache | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


@dataclass
class ZooLMOutput(_CacheAlias, ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    head_hidden_state: torch.Tensor | None = None
    last_hidden_state: torch.Tensor | None = None
    cache: KVCache | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class ZooPreTrainedModel(PreTrainedModel):
    config_class = ZooConfig
    base_model_prefix = "zoo"
    supports_gradient_checkpointing = False
    _no_split_modules = ["Layer"]

    def save_pretrained(self, save_directory, *args, portable: bool = True, **kwargs):
        """transformers' save; a plain BERT/RoBERTa/GPT-2/OpenAI-GPT is written in that standard layout so that
        vanilla transformers loads it (`portable=False` keeps model_type "zoo"). See `zoo.portable`."""
        from .portable import save_portable

        if portable and not args and save_portable(self, save_directory, **kwargs):
            return None
        return super().save_pretrained(save_directory, *args, **kwargs)

    @torch.no_grad()
    def _init_weights(self, module):
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            module.weight.normal_(0.0, std)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.normal_(0.0, std)
        elif isinstance(module, nn.LayerNorm):
            module.weight.fill_(1.0)
            module.bias.zero_()
        elif isinstance(module, LMHead) and module.bias is not None:
            module.bias.zero_()
        elif isinstance(module, ZooModel) and module.config.position_embedding_type == "relative":
            # a non-persistent buffer: HF 5 builds models on the meta device, so it must be recomputed here
            rows, dim = module.relative_table.shape
            module.relative_table.copy_(sinusoid_table(rows, dim))


class ZooModel(ZooPreTrainedModel):
    """The encoder/decoder stack. Output: last_hidden_state, pooler_output, cache, hidden_states, attentions.

    The KV cache is passed as `cache=` (transformers >= 5.24) or `past_key_values=` (earlier releases)."""

    def __init__(self, config: ZooConfig):
        super().__init__(config)
        self.embeddings = Embeddings(config)
        self.layers = nn.ModuleList(Layer(config) for _ in range(config.num_hidden_layers))
        self.final_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) if config.pre_norm else None
        self.pooler = Pooler(config) if config.add_pooler else None
        if config.position_embedding_type == "relative":
            rows = 2 * config.max_relative_position + 1
            self.register_buffer("relative_table", sinusoid_table(rows, config.head_size), persistent=False)
        self.post_init()

    def get_input_embeddings(self):
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value):
        self.embeddings.word_embeddings = value

    def forward(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: KVCache | None = None,
        use_cache: bool = False,
        cache: KVCache | None = None,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
        return_dict: bool | None = True,
        **unused,
    ) -> ZooModelOutput:
        """attention_mask is [B, L] (1 = token, 0 = padding) over the new tokens or over cached + new tokens.
        With a cache, only the new tokens are passed; the model's `config.attention` pattern is applied."""
        if unused:
            raise TypeError(f"unexpected arguments: {sorted(unused)}")
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must be [batch, length], got shape {tuple(input_ids.shape)}")
        config = self.config
        batch, q_len = input_ids.shape
        cache = self._cache(cache, past_key_values, use_cache)
        past = cache.length if cache is not None else 0
        # fused attention unless the weights themselves are needed: one decision for the mask and every layer
        fused = config.position_embedding_type != "relative" and not config.residual_attention and not output_attentions
        key_mask = self._key_mask(attention_mask, cache, batch, q_len, past, input_ids.device)
        segments = None
        if config.attention == "unilm":
            types = token_type_ids if token_type_ids is not None else torch.zeros_like(input_ids)
            segments = masks.segment_cumsum(types, cache.segments if cache is not None else None)
        visible, is_causal = masks.assemble(config.attention, q_len, past + q_len, key_mask=key_mask,
                                            segments=segments, fused=fused, device=input_ids.device)
        x = self._embed(input_ids, token_type_ids, position_ids, past)
        rel = None
        if config.position_embedding_type == "relative":
            rel = (self.relative_table, relative_index(q_len, past + q_len, config.max_relative_position, x.device))
        x, hidden_states, attentions = self._layers(
            x, masks.to_bias(visible, x.dtype), dict(cache=cache, rel=rel, is_causal=is_causal, fused=fused),
            output_hidden_states, output_attentions)
        if cache is not None:
            cache.advance(q_len, key_mask, segments)
        out = ZooModelOutput(
            last_hidden_state=x,
            pooler_output=self.pooler(x) if self.pooler is not None else None,
            cache=cache,
            hidden_states=hidden_states,
            attentions=attentions,
        )
        return out if return_dict is not False else out.to_tuple()

    def _embed(self, input_ids, token_type_ids, position_ids, past: int) -> torch.Tensor:
        """Token (+ absolute position, counted from `past` unless given) + token type embeddings."""
        if self.config.position_embedding_type == "absolute":
            if position_ids is None:
                position_ids = torch.arange(past, past + input_ids.shape[1], device=input_ids.device)[None]
            position_ids = position_ids + self.config.position_offset
        return self.embeddings(input_ids, token_type_ids, position_ids)

    def _layers(self, x, bias, layer_kw: dict, output_hidden_states: bool, output_attentions: bool):
        """Every layer (RealFormer carries each layer's scores to the next), then the final norm of pre-LN
        stacks. Returns (hidden, hidden states or None, attention probabilities or None)."""
        hidden_states = [x] if output_hidden_states else None
        attentions = [] if output_attentions else None
        scores = None
        for i, layer in enumerate(self.layers):
            x, scores, probs = layer(x, bias, layer=i, prev_scores=scores, **layer_kw)
            if not self.config.residual_attention:
                scores = None
            if output_attentions:
                attentions.append(probs)
            if output_hidden_states:
                hidden_states.append(x)
        if self.final_norm is not None:
            x = self.final_norm(x)
            if output_hidden_states:
                hidden_states[-1] = x
        return (x, tuple(hidden_states) if output_hidden_states else None,
                tuple(attentions) if output_attentions else None)

    def _cache(self, cache: KVCache | None, past_key_values: KVCache | None, use_cache: bool) -> KVCache | None:
        """The cache given under either name, or a new one when `use_cache` asks for it."""
        if cache is not None and past_key_values is not None and cache is not past_key_values:
            raise ValueError("pass the cache once, as cache= (or its older name past_key_values=)")
        cache = cache if cache is not None else past_key_values
        if cache is None and use_cache:
            cache = KVCache(self.config.num_hidden_layers)
        return cache

    @staticmethod
    def _key_mask(attention_mask, cache, batch, q_len, past, device):
        """The [B, past + q_len] bool key mask, or None when no position is padding."""
        if attention_mask is None:
            if cache is None or cache.key_mask is None:
                return None
            return torch.cat([cache.key_mask, torch.ones(batch, q_len, dtype=torch.bool, device=device)], dim=1)
        mask = attention_mask.bool()
        if mask.shape == (batch, past + q_len):
            return mask
        if mask.shape == (batch, q_len) and past:
            previous = cache.key_mask
            if previous is None:
                previous = torch.ones(batch, past, dtype=torch.bool, device=device)
            return torch.cat([previous, mask], dim=1)
        raise ValueError(
            f"attention_mask has shape {tuple(mask.shape)}; expected ({batch}, {past + q_len}) or ({batch}, {q_len})"
        )


class ZooForLM(ZooPreTrainedModel, ZooGenerationMixin):
    """ZooModel plus the tied LM head: BERT's MLM head (also what bert4keras uses for LM and UniLM models)
    or GPT's bare projection. Output: loss (with labels), logits, head_hidden_state (the MLM-transform output), ...

    `generate` is transformers' (causal models); `zoo.generate(model, ...)` is the faster engine."""

    def __init__(self, config: ZooConfig):
        super().__init__(config)
        self.zoo = ZooModel(config)
        self.head = LMHead(config)
        self.post_init()

    def get_input_embeddings(self):
        return self.zoo.embeddings.word_embeddings

    def set_input_embeddings(self, value):
        self.zoo.embeddings.word_embeddings = value

    def forward(self, input_ids, token_type_ids=None, attention_mask=None, logits_to_keep: int = 0,
                logits_mask: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                return_dict: bool | None = None, cache=None, past_key_values=None, num_items_in_batch=None,
                **kwargs) -> ZooLMOutput | tuple:
        """logits_to_keep > 0 computes the head only for the last that many positions (decoding needs one).

        ``logits_mask`` (bool [batch, length]) computes the vocabulary projection only where it is True and
        returns those rows packed as ``logits[n, vocab]`` in row-major order: a seq2seq loss over a short target
        then skips the (dominant) projection of every source position. ``head_hidden_state`` stays full.

        ``labels`` ([batch, length], -100 = ignored) add ``loss``: masked LM for bidirectional models, the shifted
        next-token loss for causal ones, and for UniLM the shifted loss over the target segment (token type 1).
        ``return_dict=False`` returns the non-None fields as a tuple (loss first). ``cache`` may be our KVCache or
        a transformers Cache (what HF's generate passes)."""
        if labels is not None and (logits_to_keep > 0 or logits_mask is not None):
            raise ValueError("labels need the logits of every position: drop logits_to_keep / logits_mask")
        if cache is not None and past_key_values is not None and cache is not past_key_values:
            raise ValueError("pass the cache once, as cache= (or its older name past_key_values=)")
        given = cache if cache is not None else past_key_values
        zoo_cache = as_zoo_cache(given)
        out = self.zoo(input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask, cache=zoo_cache,
                       **kwargs)
        hidden = out.last_hidden_state if logits_to_keep <= 0 else out.last_hidden_state[:, -logits_to_keep:]
        transformed = self.head.transform(hidden)
        if logits_mask is not None:
            if logits_mask.shape != transformed.shape[:2]:
                raise ValueError(f"logits_mask has shape {tuple(logits_mask.shape)}, "
                                 f"expected {tuple(transformed.shape[:2])}")
            projected = transformed[logits_mask.bool()]
        else:
            projected = transformed
        logits = self.head(projected, self.zoo.embeddings.word_embeddings.weight)
        loss = None
        if labels is not None:
            loss = lm_loss(self.config.attention, logits, labels, token_type_ids, attention_mask,
                           num_items_in_batch)
        result = ZooLMOutput(
            loss=loss,
            logits=logits,
            head_hidden_state=transformed,
            last_hidden_state=out.last_hidden_state,
            cache=given if zoo_cache is not given else out.cache,  # a transformers Cache is handed back as given
            hidden_states=out.hidden_states,
            attentions=out.attentions,
        )
        return result if return_dict is None or return_dict else result.to_tuple()
