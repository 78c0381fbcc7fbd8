"""Models built and saved by bert4keras itself (TF checkpoint and Keras HDF5) load into the zoo transformer and
reproduce bert4keras' recorded outputs and greedy AutoRegressiveDecoder decodes (no TensorFlow needed here)."""

import numpy as np
import pytest
import torch

import zoo
from _bert4keras_helpers import CASES, DECODE_CASES, SOURCES, attention, decode_record, outputs, source_path

TOL = 1e-5


def _head(case):
    return "mlm" if "mlm_logits" in outputs(case) else None


def _load(case, source):
    return zoo.from_pretrained(source_path(case, source), head=_head(case), attention=attention(case))


def _run(model, ids, segments):
    ids = torch.as_tensor(ids, dtype=torch.long)
    with torch.no_grad():  # bert4keras masks id 0 as keys (mask_zero): the same padding as attention_mask
        return model(ids, token_type_ids=torch.as_tensor(segments, dtype=torch.long),
                     attention_mask=(ids != 0).long())


def _max_diff(a, b):
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else a
    assert a.shape == b.shape
    return float(np.abs(a - b).max())


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("case", CASES)
def test_outputs_match_bert4keras(case, source):
    ref = outputs(case)
    model = _load(case, source)
    if case.startswith("nezha"):
        assert model.config.position_embedding_type == "relative"
    out = _run(model, ref["token_ids"], ref["segment_ids"])
    assert _max_diff(out.last_hidden_state, ref["sequence_output"]) <= TOL
    if "mlm_logits" in ref:
        assert _max_diff(out.logits, ref["mlm_logits"]) <= TOL
        assert _max_diff(out.logits.softmax(-1), ref["mlm_probs"]) <= TOL
    if "pooled_output" in ref:
        pooled = zoo.from_pretrained(source_path(case, source), attention=attention(case))
        assert _max_diff(_run(pooled, ref["token_ids"], ref["segment_ids"]).pooler_output,
                         ref["pooled_output"]) <= TOL
    else:
        assert not any(k.startswith("zoo.pooler") or k.startswith("pooler") for k in model.state_dict())
    if "long_token_ids" in ref:  # past bert4keras' relative-position clip at 64
        long = _run(model, ref["long_token_ids"], ref["long_segment_ids"])
        assert _max_diff(long.last_hidden_state, ref["long_sequence_output"]) <= TOL


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("case", DECODE_CASES)
def test_greedy_decode_matches_bert4keras(case, source):
    record = decode_record(case)
    model = _load(case, source)
    prompt = torch.tensor([record["prompt"]])
    segments = torch.tensor([record["segment_ids"]])
    assert len(record["runs"]) >= 1
    for run in record["runs"]:
        got = zoo.generate(model, prompt, token_type_ids=segments, new_token_type_id=record["new_segment_id"],
                           max_new_tokens=record["maxlen"], eos_token_id=run["end_id"])
        assert got[0].tolist() == run["output"], run


def test_decode_fixtures_exercise_the_end_token():
    ended = [run for case in DECODE_CASES for run in decode_record(case)["runs"] if run["end_id"] is not None]
    assert len(DECODE_CASES) == 4 and ended
    assert all(run["output"][-1] == run["end_id"] and len(run["output"]) < decode_record(DECODE_CASES[0])["maxlen"]
               for run in ended)


def test_checkpoint_and_weights_file_hold_the_same_model():
    for case in CASES:
        a = _load(case, "checkpoint").state_dict()
        b = _load(case, "weights").state_dict()
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a)
