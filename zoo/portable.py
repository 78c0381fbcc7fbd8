"""Save zoo models in the most portable form.

A zoo model whose architecture is exactly a plain BERT, RoBERTa, GPT-2 or OpenAI-GPT (with or without its LM head)
is written as that model by transformers' own class: standard `model_type`, `architectures` and weight names, so
vanilla transformers (no `import zoo`) loads it with `AutoModel*.from_pretrained`. Everything else (NEZHA relative
positions, UniLM or causal BERT masks, RealFormer) keeps model_type "zoo", and its config names what to install.
Either way `zoo.from_pretrained(folder)` brings the model back with its head (the config's `zoo_head`).
"""

from __future__ import annotations

import os

import torch

REQUIRES = ("nlpzoo (pip install nlpzoo): load with zoo.from_pretrained(folder), or `import zoo` before "
            "transformers' Auto classes; vanilla transformers does not know model_type 'zoo'")

_HF_ACT = ("gelu", "gelu_new", "relu", "silu", "swish", "tanh")
_OPENAI_ACT = {"gelu_new": "gelu", "relu": "relu", "silu": "silu", "swish": "silu"}  # OpenAI-GPT's "gelu" is tanh


def portable_family(config, lm: bool) -> str | None:
    """"bert", "roberta", "gpt2", "openai-gpt", or None when no vanilla transformers class computes the same."""
    c = config
    common = (c.position_embedding_type == "absolute" and not c.residual_attention)
    if not common:
        return None
    if (c.attention == "bidirectional" and c.token_type_embedding == "segment" and c.type_vocab_size > 0
            and c.embedding_norm and not c.pre_norm and c.hidden_act in _HF_ACT
            and (not lm or (c.lm_head_transform and c.lm_head_bias))):
        if c.position_offset == 0:
            return "bert"
        if c.pad_token_id is not None and c.position_offset == c.pad_token_id + 1:
            return "roberta"
        return None
    if (c.attention == "causal" and c.token_type_embedding == "shared" and not c.embedding_norm
            and not c.add_pooler and c.position_offset == 0
            and (not lm or (not c.lm_head_transform and not c.lm_head_bias))):
        if c.pre_norm and c.hidden_act in _HF_ACT:
            return "gpt2"
        if not c.pre_norm and c.hidden_act in _OPENAI_ACT:
            return "openai-gpt"
    return None


def _hf_config(config, family: str, lm: bool):
    from transformers import BertConfig, GPT2Config, OpenAIGPTConfig, RobertaConfig

    c = config
    if family in ("bert", "roberta"):
        cls = BertConfig if family == "bert" else RobertaConfig
        extra = c.position_offset
        return cls(vocab_size=c.vocab_size, hidden_size=c.hidden_size, num_hidden_layers=c.num_hidden_layers,
                   num_attention_heads=c.num_attention_heads, intermediate_size=c.intermediate_size,
                   hidden_act=c.hidden_act, hidden_dropout_prob=c.hidden_dropout_prob,
                   attention_probs_dropout_prob=c.attention_probs_dropout_prob,
                   max_position_embeddings=c.max_position_embeddings + extra, type_vocab_size=c.type_vocab_size,
                   initializer_range=c.initializer_range, layer_norm_eps=c.layer_norm_eps,
                   pad_token_id=c.pad_token_id, zoo_head="lm" if lm else None)
    common = dict(vocab_size=c.vocab_size, n_positions=c.max_position_embeddings, n_embd=c.hidden_size,
                  n_layer=c.num_hidden_layers, n_head=c.num_attention_heads, resid_pdrop=c.hidden_dropout_prob,
                  embd_pdrop=c.hidden_dropout_prob, attn_pdrop=c.attention_probs_dropout_prob,
                  layer_norm_epsilon=c.layer_norm_eps, initializer_range=c.initializer_range,
                  pad_token_id=c.pad_token_id, bos_token_id=getattr(c, "bos_token_id", None),
                  eos_token_id=getattr(c, "eos_token_id", None), zoo_head="lm" if lm else None)
    if family == "gpt2":
        return GPT2Config(n_inner=c.intermediate_size, activation_function=c.hidden_act, **common)
    if c.intermediate_size != 4 * c.hidden_size:
        return None  # OpenAI-GPT's MLP is always 4x wide
    return OpenAIGPTConfig(afn=_OPENAI_ACT[c.hidden_act], **common)


def _hf_class(family: str, lm: bool):
    import transformers as t

    names = {"bert": ("BertModel", "BertForMaskedLM"), "roberta": ("RobertaModel", "RobertaForMaskedLM"),
             "gpt2": ("GPT2Model", "GPT2LMHeadModel"), "openai-gpt": ("OpenAIGPTModel", "OpenAIGPTLMHeadModel")}
    return getattr(t, names[family][lm])


class _NotPortable(Exception):
    """A weight the vanilla class has no place for (e.g. a subclass's extra head)."""


def _to_hf_names(state: dict, family: str, lm: bool, base_prefix: str) -> dict:
    """zoo names (of ZooModel, or of ZooForLM with `zoo.`/`head.` prefixes) -> the vanilla class's names."""
    try:
        return _rename(state, family, lm, base_prefix)
    except KeyError as err:
        raise _NotPortable(str(err)) from None


_BERT_LAYER = {"attention.out": "attention.output.dense", "norm1": "attention.output.LayerNorm",
               "ffn.up": "intermediate.dense", "ffn.down": "output.dense", "norm2": "output.LayerNorm"}
_GPT_LAYER = {"attention.qkv": "attn.c_attn", "attention.out": "attn.c_proj", "ffn.up": "mlp.c_fc",
              "ffn.down": "mlp.c_proj", "norm1": "ln_1", "norm2": "ln_2"}
_BERT_HEAD = {"head.dense.weight": "cls.predictions.transform.dense.weight",
              "head.dense.bias": "cls.predictions.transform.dense.bias",
              "head.norm.weight": "cls.predictions.transform.LayerNorm.weight",
              "head.norm.bias": "cls.predictions.transform.LayerNorm.bias", "head.bias": "cls.predictions.bias"}
_ROBERTA_HEAD = {"head.dense.weight": "lm_head.dense.weight", "head.dense.bias": "lm_head.dense.bias",
                 "head.norm.weight": "lm_head.layer_norm.weight", "head.norm.bias": "lm_head.layer_norm.bias",
                 "head.bias": "lm_head.bias"}
_GPT2_OTHER = {"embeddings.word_embeddings.weight": "wte.weight", "embeddings.position_embeddings.weight":
               "wpe.weight", "final_norm.weight": "ln_f.weight", "final_norm.bias": "ln_f.bias"}
_OPENAI_OTHER = {**_GPT2_OTHER, "embeddings.word_embeddings.weight": "tokens_embed.weight",
                 "embeddings.position_embeddings.weight": "positions_embed.weight"}


def _rename_layer(out: dict, parts: list[str], tensor, bert: bool, base_prefix: str) -> None:
    """One transformer-layer weight: BERT splits the fused qkv; GPT's Conv1D stores weights transposed."""
    i, rest = parts[1], ".".join(parts[2:])
    module, _, param = rest.rpartition(".")
    if not bert:
        conv = module not in ("norm1", "norm2") and param == "weight"
        out[f"{base_prefix}h.{i}.{_GPT_LAYER[module]}.{param}"] = tensor.T.contiguous() if conv else tensor
        return
    layer = f"{base_prefix}encoder.layer.{i}."
    if module == "attention.qkv":
        for piece, chunk in zip(("query", "key", "value"), tensor.chunk(3, dim=0)):
            out[f"{layer}attention.self.{piece}.{param}"] = chunk
    else:
        out[f"{layer}{_BERT_LAYER[module]}.{param}"] = tensor


def _rename(state: dict, family: str, lm: bool, base_prefix: str) -> dict:
    out = {}
    bert = family in ("bert", "roberta")
    for name, tensor in state.items():
        name = name[len("zoo."):] if name.startswith("zoo.") else name
        parts = name.split(".")
        if parts[0] not in ("layers", "embeddings", "pooler", "final_norm", "head"):
            raise KeyError(name)
        if parts[0] == "layers":
            _rename_layer(out, parts, tensor, bert, base_prefix)
        elif not bert:
            out[base_prefix + (_OPENAI_OTHER if family == "openai-gpt" else _GPT2_OTHER)[name]] = tensor
        elif name.startswith("head."):
            out[(_BERT_HEAD if family == "bert" else _ROBERTA_HEAD)[name]] = tensor
        elif name.startswith("pooler."):
            out[base_prefix + name] = tensor  # for an MLM: an extra, like bert-base-chinese's own pooler
        else:
            out[base_prefix + name.replace("embeddings.norm.", "embeddings.LayerNorm.")] = tensor
    return out


def vanilla_model(model):
    """The equivalent vanilla transformers model (weights copied), or None when there is none."""
    lm = hasattr(model, "head")
    family = portable_family(model.config, lm)
    if family is None:
        return None
    config = _hf_config(model.config, family, lm)
    if config is None:
        return None
    cls = _hf_class(family, lm)
    kwargs = {"add_pooling_layer": bool(model.config.add_pooler)} if family in ("bert", "roberta") and not lm else {}
    hf = cls(config, **kwargs)
    prefix = (hf.base_model_prefix + ".") if lm else ""
    try:
        state = _to_hf_names(model.state_dict(), family, lm, prefix)
    except _NotPortable:
        return None
    missing, unexpected = hf.load_state_dict(state, strict=False)
    extras = {k: state[k] for k in unexpected if lm and k.startswith(prefix + "pooler.")}
    unexpected = [k for k in unexpected if k not in extras]
    tied = {k for k in missing if k.endswith(("decoder.weight", "decoder.bias", "lm_head.weight"))}
    other = [k for k in missing if k not in tied and not k.endswith(("position_ids", "token_type_ids"))]
    if unexpected or other:
        raise RuntimeError(f"portable save: {family} weights do not line up (missing {other}, "
                           f"unexpected {unexpected}); this is a bug in zoo.portable")
    hf.tie_weights()
    hf._zoo_extras = extras  # saved next to the model's own weights (vanilla transformers ignores them)
    return hf.to(next(model.parameters()).dtype).eval()


def save_portable(model, save_directory, **kwargs) -> bool:
    """Write `model` as its vanilla transformers equivalent; False (nothing written) when there is none or when
    an explicit `state_dict` is to be saved."""
    if kwargs.get("state_dict") is not None:
        return False
    hf = vanilla_model(model)
    if hf is None:
        return False
    os.makedirs(save_directory, exist_ok=True)
    with torch.no_grad():
        if hf._zoo_extras:
            kwargs["state_dict"] = {**hf.state_dict(), **hf._zoo_extras}
        hf.save_pretrained(save_directory, **kwargs)
    return True


def saved_head(raw_config: dict) -> str | None:
    """The head a saved folder carries: "lm" for our own LM saves (zoo format or portable), else None."""
    head = raw_config.get("zoo_head")
    if head in ("lm", "mlm"):
        return "lm"
    if raw_config.get("model_type") == "zoo" and "ZooForLM" in (raw_config.get("architectures") or ()):
        return "lm"
    return None
