"""Generation options that the original couples (beam algorithm, tie-breaking, min-length rule) and the processor
protocol: one signature, built-ins in the same list, each step's model output visible to processors."""

import math

import pytest
import torch
from test_generation import BOS, ToyLM, prompts, pad, tiny

from zoo.generation import LogitsProcessor, MinNewTokens, Step, generate

TIED = {0: [0.25] * 4}


class TiedFirst(ToyLM):
    """P(.|BOS) has two equal maxima (tokens 0 and 1)."""

    def forward(self, input_ids, cache=None, **kw):
        out = super().forward(input_ids, cache=cache, **kw)
        tied = torch.tensor([math.log(x) for x in (0.4, 0.4, 0.1, 0.1)] + [-1e9])
        first = (input_ids[:, -1] == BOS)[:, None, None]
        out.logits = torch.where(first, tied.expand_as(out.logits), out.logits)
        return out


def test_tie_break_last_follows_bert4keras_first_follows_torch():
    ids = torch.tensor([[BOS]])
    assert generate(TiedFirst(TIED), ids, max_new_tokens=1, tie_break="last")[0].tolist() == [1]
    assert generate(TiedFirst(TIED), ids, max_new_tokens=1, tie_break="first")[0].tolist() == [0]
    assert generate(TiedFirst(TIED), ids, max_new_tokens=1)[0].tolist() == [1]  # bert4keras by default
    assert generate(TiedFirst(TIED), ids, max_new_tokens=1, beam_mode="hf")[0].tolist() == [0]


@pytest.mark.parametrize("mode, explicit", [
    ("bert4keras", dict(beam_algorithm="bert4keras", tie_break="last", min_length_rule="ignore_eos")),
    ("hf", dict(beam_algorithm="hf", tie_break="first", min_length_rule="mask_eos")),
])
def test_beam_mode_is_a_shorthand(mode, explicit):
    model = tiny("unilm")
    ids, seg, mask = pad(prompts(), left=False)
    kw = dict(token_type_ids=seg, attention_mask=mask, max_new_tokens=8, eos_token_id=9, min_new_tokens=2,
              return_dict=True)
    for beams in (1, 3):
        a = generate(model, ids, num_beams=beams, beam_mode=mode, **kw)
        b = generate(model, ids, num_beams=beams, **explicit, **kw)
        assert torch.equal(a.sequences, b.sequences) and torch.equal(a.scores, b.scores)


def test_min_length_rules():
    """ignore_eos: an early end token is produced but does not end the row (bert4keras); mask_eos: it is never
    produced before min_new_tokens. Either rule combines with either beam algorithm."""
    model = tiny("causal")
    ids = torch.tensor([[2, 8, 9, 10]])
    first = generate(model, ids, max_new_tokens=1)[0, 0].item()
    kept = generate(model, ids, max_new_tokens=4, eos_token_id=first, min_new_tokens=3, return_dict=True)
    assert kept.sequences[0, 0].item() == first and kept.lengths[0] >= 3
    for beams in (1, 2):
        masked = generate(model, ids, max_new_tokens=4, eos_token_id=first, min_new_tokens=3, num_beams=beams,
                          beam_algorithm="bert4keras", min_length_rule="mask_eos")
        assert first not in masked[0, :3].tolist()


def test_min_new_tokens_keeps_the_end_token_when_nothing_else_is_possible():
    logits = torch.tensor([[0.0, 1.0, 2.0], [-math.inf, -math.inf, 2.0]])
    step = Step(torch.empty(2, 0, dtype=torch.long), None, torch.tensor([2]))
    out, _ = MinNewTokens(1)(step, logits, None)
    assert out[0].tolist() == [0.0, 1.0, -math.inf] and out[1].tolist() == logits[1].tolist()


class Recorder(LogitsProcessor):
    """Checks at every step that the model output it is handed belongs to the current rows."""

    def __init__(self):
        self.steps = 0

    def __call__(self, step, logits, state):
        assert step.output.logits.shape[0] == logits.shape[0] == step.generated.shape[0]
        assert torch.equal(step.output.logits[:, -1].float(), logits)  # first in the list: untouched logits
        self.steps += 1
        return logits, state


@pytest.mark.parametrize("kw", [dict(), dict(num_beams=3), dict(num_beams=3, beam_mode="hf"),
                                dict(do_sample=True, num_return_sequences=2, seed=0)])
def test_processors_see_each_steps_model_output(kw):
    model = tiny("unilm")
    ids, seg, mask = pad(prompts(2), left=True)
    rec = Recorder()
    generate(model, ids, token_type_ids=seg, attention_mask=mask, max_new_tokens=5, logits_processors=[rec],
             repetition_penalty=1.3, no_repeat_ngram_size=2, **kw)
    assert rec.steps == 5


def test_processors_must_use_the_protocol():
    with pytest.raises(ValueError, match="LogitsProcessor"):
        generate(tiny(), torch.tensor([[2, 5]]), logits_processors=[lambda g, logits, s: logits])
    for bad in (dict(beam_algorithm="greedy"), dict(tie_break="random"), dict(min_length_rule="x")):
        with pytest.raises(ValueError):
            generate(tiny(), torch.tensor([[2, 5]]), **bad)
