"""Generation engine: spec §8.4 vectors, cache vs recompute, batching, beams, per-row state, options."""

import math
import types

import pytest
import torch

import zoo
from zoo.generation import LogitsProcessor, generate, stream, top_k_top_p_filter

# ------------------------------------------------------------------------------------- toy LM (§8.4)

FIRST = [0.5, 0.4, 0.05, 0.05]
TOY1 = {0: [0.35, 0.05, 0.3, 0.3], 1: [0.05, 0.02, 0.03, 0.9], 2: [0.2, 0.2, 0.1, 0.5]}
TOY2 = {0: [0.1, 0.1, 0.2, 0.6], 1: [0.6, 0.1, 0.1, 0.2], 2: [0.3, 0.3, 0.3, 0.1]}
BOS = 4  # stands for bert4keras' empty start: P(.|BOS) = FIRST; token 4 itself is never produced


class ToyLM(torch.nn.Module):
    """P(next | last token) from a table; 3 is the end token; after 3 the distribution is uniform."""

    config = types.SimpleNamespace(attention="causal", num_hidden_layers=1, pad_token_id=0)

    def __init__(self, table):
        super().__init__()
        self.table = table

    def forward(self, input_ids, cache=None, **_):
        rows = []
        for tok in input_ids[:, -1].tolist():
            p = FIRST if tok == BOS else self.table.get(tok, [0.25] * 4)
            rows.append([math.log(x) for x in p] + [-1e9])
        if cache is not None:
            cache.advance(input_ids.shape[1], None, None)
        logits = torch.tensor(rows)[:, None, :].expand(-1, input_ids.shape[1], -1)
        return types.SimpleNamespace(logits=logits)


@pytest.mark.parametrize(
    "table, beams, min_new, expected, score",
    [
        (TOY1, 1, 0, [0] * 10, -10.141546),
        (TOY1, 2, 0, [1, 3], math.log(0.4 * 0.9)),
        (TOY2, 1, 0, [0, 3], -1.203973),
        (TOY2, 2, 0, [0, 3], -1.203973),
        (TOY2, 3, 0, [0, 3], -1.203973),
        (TOY2, 1, 3, [0, 3, 3], None),
    ],
)
def test_spec_8_4_bert4keras_beam(table, beams, min_new, expected, score):
    out = generate(ToyLM(table), torch.tensor([[BOS]]), max_new_tokens=10, eos_token_id=3, num_beams=beams,
                   min_new_tokens=min_new, return_dict=True)
    assert out.sequences[0, : out.lengths[0]].tolist() == expected
    if score is not None:
        assert out.scores[0].item() == pytest.approx(score, abs=1e-5)


def test_spec_8_4_top_k_top_p_filter():
    p = torch.tensor([[0.05, 0.4, 0.3, 0.15, 0.1]])
    expected = torch.tensor([[0, 0.571429, 0.428571, 0, 0]])
    for k, top_p in ((3, 0.7), (None, 0.7)):
        got = torch.softmax(top_k_top_p_filter(p.log(), k, top_p), -1)
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


# ------------------------------------------------------------------------------------- tiny models


def tiny(attention="causal", position="absolute", seed=0, **kw):
    torch.manual_seed(seed)
    cfg = zoo.ZooConfig(vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=128, attention=attention,
                        position_embedding_type=position, max_relative_position=8, **kw)
    return zoo.ZooForLM(cfg).eval()


def recompute_greedy(model, ids, types_, steps, eos, new_type):
    """bert4keras-style reference: re-run the whole sequence every step, no cache."""
    out = []
    ids, types_ = ids.clone(), types_.clone()
    for _ in range(steps):
        nxt = int(model(ids[None], token_type_ids=types_[None]).logits[0, -1].argmax())
        out.append(nxt)
        if nxt == eos:
            break
        ids = torch.cat([ids, torch.tensor([nxt])])
        types_ = torch.cat([types_, torch.tensor([new_type])])
    return out


def prompts(n=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    rows = []
    for i in range(n):
        length = 4 + 3 * i
        ids = torch.randint(5, 60, (length,), generator=g)
        ids[0] = 2
        seg = torch.zeros(length, dtype=torch.long)
        rows.append((ids, seg))
    return rows


def pad(rows, left):
    width = max(len(r[0]) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    seg = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for i, (r, s) in enumerate(rows):
        sl = slice(width - len(r), width) if left else slice(0, len(r))
        ids[i, sl], seg[i, sl], mask[i, sl] = r, s, 1
    return ids, seg, mask


@pytest.mark.parametrize("attention,position", [("causal", "absolute"), ("unilm", "absolute"),
                                                ("unilm", "relative"), ("causal", "relative")])
@pytest.mark.parametrize("left", [True, False])
def test_cached_batched_greedy_equals_recompute_per_row(attention, position, left):
    model = tiny(attention, position)
    rows = prompts()
    new_type = 1 if attention == "unilm" else 0
    ids, seg, mask = pad(rows, left)
    got = generate(model, ids, token_type_ids=seg, attention_mask=mask, max_new_tokens=12, eos_token_id=7,
                   return_dict=True)
    for i, (r, s) in enumerate(rows):
        want = recompute_greedy(model, r, s, 12, 7, new_type)
        assert got.sequences[i, : got.lengths[i]].tolist() == want


@pytest.mark.parametrize("mode", ["bert4keras", "hf"])
def test_beam_batch_equals_rows_and_beam1_equals_greedy(mode):
    model = tiny("unilm")
    rows = prompts()
    ids, seg, mask = pad(rows, left=False)
    batch = generate(model, ids, token_type_ids=seg, attention_mask=mask, max_new_tokens=8, eos_token_id=9,
                     num_beams=3, beam_mode=mode, return_dict=True)
    for i, (r, s) in enumerate(rows):
        one = generate(model, r[None], token_type_ids=s[None], max_new_tokens=8, eos_token_id=9, num_beams=3,
                       beam_mode=mode, return_dict=True)
        assert batch.sequences[i, : batch.lengths[i]].tolist() == one.sequences[0, : one.lengths[0]].tolist()
        assert batch.scores[i].item() == pytest.approx(one.scores[0].item(), abs=1e-4)
    greedy = generate(model, ids, token_type_ids=seg, attention_mask=mask, max_new_tokens=8, eos_token_id=9)
    beam1 = generate(model, ids, token_type_ids=seg, attention_mask=mask, max_new_tokens=8, eos_token_id=9,
                     num_beams=1, beam_mode=mode)
    assert torch.equal(greedy, beam1)


def test_beam_finds_better_or_equal_score_than_greedy():
    model = tiny("causal", seed=3)
    ids = torch.tensor([[2, 11, 12, 13]])
    g = generate(model, ids, max_new_tokens=6, eos_token_id=5, return_dict=True)
    b = generate(model, ids, max_new_tokens=6, eos_token_id=5, num_beams=4, return_dict=True)
    assert b.scores[0] >= g.scores[0] - 1e-5


def test_sampling_seeded_reproducible_and_num_return_sequences():
    model = tiny("causal")
    ids, seg, mask = pad(prompts(2), left=True)
    kw = dict(attention_mask=mask, max_new_tokens=10, do_sample=True, top_p=0.9, temperature=0.7,
              num_return_sequences=3, seed=123)
    a = generate(model, ids, **kw)
    b = generate(model, ids, **kw)
    assert a.shape[0] == 6 and torch.equal(a, b)
    c = generate(model, ids, **{**kw, "seed": 124})
    assert not torch.equal(a, c)


def test_stream_joins_to_generate():
    model = tiny("causal")
    ids = torch.tensor([[2, 8, 9, 10]])
    for kw in (dict(), dict(do_sample=True, top_k=5, seed=7)):
        full = generate(model, ids, max_new_tokens=15, eos_token_id=6, return_dict=True, **kw)
        streamed = list(stream(model, ids, max_new_tokens=15, eos_token_id=6, **kw))
        assert streamed == full.sequences[0, : full.lengths[0]].tolist()
    assert torch.is_grad_enabled()


def test_min_new_tokens_multiple_eos_and_repetition_controls():
    model = tiny("causal")
    ids = torch.tensor([[2, 8, 9, 10]])
    first = generate(model, ids, max_new_tokens=1)[0, 0].item()
    out = generate(model, ids, max_new_tokens=5, eos_token_id=[first, 59], min_new_tokens=3, beam_mode="hf")
    assert first not in out[0, :3].tolist()
    out = generate(model, ids, max_new_tokens=30, no_repeat_ngram_size=2)[0].tolist()
    bigrams = list(zip(out, out[1:]))
    assert len(bigrams) == len(set(bigrams))
    plain = generate(model, ids, max_new_tokens=30)[0].tolist()
    penalised = generate(model, ids, max_new_tokens=30, repetition_penalty=5.0)[0].tolist()
    assert len(set(penalised)) >= len(set(plain))


def test_per_row_state_follows_its_beam():
    """A constraint that depends on a per-row state: each beam must only extend with tokens of its own parity,
    fixed by its first token. If states did not follow beams, some beam would mix parities."""
    model = tiny("unilm", seed=5)

    class Parity(LogitsProcessor):
        def initial_state(self, batch_size):
            return torch.full((batch_size,), -1)

        def __call__(self, step, logits, state):
            if step.generated.shape[1] == 0:
                return logits, state
            first = step.generated[:, 0] % 2
            state = torch.where(state < 0, first, state)
            vocab = torch.arange(logits.shape[1])
            allowed = (vocab[None, :] % 2) == state[:, None]
            return logits.masked_fill(~allowed, -math.inf), state

    ids = torch.tensor([[2, 20, 21, 22, 3], [2, 30, 31, 32, 3]])
    seg = torch.zeros_like(ids)
    out = generate(model, ids, token_type_ids=seg, max_new_tokens=8, num_beams=3, beam_mode="hf",
                   num_return_sequences=3, logits_processors=[Parity()], return_dict=True)
    assert out.sequences.shape[0] == 6
    for row in out.sequences.tolist():
        assert len({t % 2 for t in row}) == 1, row


@pytest.mark.parametrize(
    "kw",
    [dict(top_p=0.0, do_sample=True), dict(top_p=1.5, do_sample=True), dict(max_new_tokens=-1),
     dict(min_new_tokens=-2), dict(num_beams=0), dict(temperature=0), dict(bogus_option=1),
     dict(num_beams=2, do_sample=True), dict(beam_mode="other")],
)
def test_invalid_options_raise_value_error(kw):
    with pytest.raises(ValueError):
        generate(tiny(), torch.tensor([[2, 5]]), **kw)


def test_invalid_inputs_raise_value_error():
    model = tiny()
    with pytest.raises(ValueError):
        generate(model, torch.zeros(1, 0, dtype=torch.long))
    with pytest.raises(ValueError):
        generate(model, torch.tensor([[2, 5]]), attention_mask=torch.tensor([[0, 0]]))
    with pytest.raises(ValueError):
        generate(tiny("bidirectional"), torch.tensor([[2, 5]]))


def test_model_generate_method_matches_function():
    model = tiny()
    ids = torch.tensor([[2, 8, 9]])
    # model.generate is transformers' generate (prompt + new tokens); greedy agrees with zoo.generate
    assert torch.equal(model.generate(ids, max_new_tokens=5, do_sample=False)[:, 3:], generate(model, ids, max_new_tokens=5))


def test_bfloat16_model_generates_and_caches_consistently():
    model = tiny("unilm").to(torch.bfloat16)
    ids, seg, mask = pad(prompts(2), left=True)
    out = generate(model, ids, token_type_ids=seg, attention_mask=mask, max_new_tokens=6, num_beams=2,
                   return_dict=True)
    assert out.sequences.shape[0] == 2 and torch.isfinite(out.scores).all()
    greedy = generate(model, ids, token_type_ids=seg, attention_mask=mask, max_new_tokens=6)
    assert greedy.shape == (2, 6)
