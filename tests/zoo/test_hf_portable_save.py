"""Portable saves: plain BERT/RoBERTa/GPT-2/OpenAI-GPT zoo models are written in the standard layout that vanilla
transformers loads (checked in a process that never imports zoo); other architectures keep model_type "zoo" and
their config says what to install; a saved head comes back with zoo.from_pretrained without head=."""

import json
import subprocess
import sys

import pytest
import torch

import zoo

BASE = dict(vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
            max_position_embeddings=64)
GPT = dict(token_type_embedding="shared", type_vocab_size=0, embedding_norm=False, attention="causal",
           add_pooler=False, lm_head_transform=False, lm_head_bias=False, hidden_act="gelu_new", layer_norm_eps=1e-5)
PLAIN = {
    "bert": ({}, "BertForMaskedLM", "BertModel"),
    "roberta": (dict(position_offset=2, pad_token_id=1), "RobertaForMaskedLM", "RobertaModel"),
    "gpt2": (dict(GPT, pre_norm=True), "GPT2LMHeadModel", "GPT2Model"),
    "openai-gpt": (GPT, "OpenAIGPTLMHeadModel", "OpenAIGPTModel"),
}
ZOO_ONLY = {
    "nezha": dict(position_embedding_type="relative", max_relative_position=8),
    "unilm": dict(attention="unilm"),
    "realformer": dict(residual_attention=True),
    "causal-bert": dict(attention="causal"),
}

VANILLA = """
import json, sys, torch, transformers as T
results = {}
for job in json.loads(sys.argv[1]):
    cfg = json.load(open(job["folder"] + "/config.json"))
    causal = cfg["model_type"].startswith(("gpt", "openai"))
    auto = (T.AutoModelForCausalLM if causal else T.AutoModelForMaskedLM) if job["lm"] else T.AutoModel
    model = auto.from_pretrained(job["folder"]).eval()
    with torch.no_grad():
        out = model(torch.tensor(job["ids"]))
    results[job["folder"]] = {"cls": type(model).__name__,
                              "out": (out.logits if job["lm"] else out.last_hidden_state).tolist()}
print(json.dumps({"zoo_imported": "zoo" in sys.modules, "results": results}))
"""
CASES = [(family, lm) for family in PLAIN for lm in (True, False)]
IDS = torch.tensor([[5, 9, 13, 40, 22, 7, 3], [8, 8, 31, 2, 59, 4, 11]])


def build(kw, lm, seed=0):
    torch.manual_seed(seed)
    return (zoo.ZooForLM if lm else zoo.ZooModel)(zoo.ZooConfig(**BASE, **kw)).eval()


def output(model, ids, lm):
    with torch.no_grad():
        out = model(ids)
    return out.logits if lm else out.last_hidden_state


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Every plain case saved, then loaded by vanilla transformers in one process that never imports zoo."""
    root = tmp_path_factory.mktemp("portable")
    models, jobs = {}, []
    for family, lm in CASES:
        folder = root / f"{family}-{lm}"
        models[family, lm] = model = build(PLAIN[family][0], lm)
        model.save_pretrained(folder)
        jobs.append({"folder": str(folder), "lm": lm, "ids": IDS.tolist()})
    run = subprocess.run([sys.executable, "-c", VANILLA, json.dumps(jobs)], capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    vanilla = json.loads(run.stdout.strip().splitlines()[-1])
    assert not vanilla["zoo_imported"]
    return root, models, vanilla["results"]


@pytest.mark.parametrize("family, lm", CASES, ids=[f"{f}-{'lm' if lm else 'base'}" for f, lm in CASES])
def test_plain_architectures_save_in_the_standard_layout_vanilla_transformers_loads(saved, family, lm):
    root, models, vanilla = saved
    folder = root / f"{family}-{lm}"
    _, lm_class, base_class = PLAIN[family]
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["model_type"] == family and cfg["architectures"] == [lm_class if lm else base_class]
    result = vanilla[str(folder)]
    assert result["cls"] == (lm_class if lm else base_class)
    model = models[family, lm]
    torch.testing.assert_close(torch.tensor(result["out"]), output(model, IDS, lm), atol=1e-5, rtol=1e-5)
    back = zoo.from_pretrained(folder)  # no head=: the saved head comes back
    assert isinstance(back, zoo.ZooForLM) == lm
    torch.testing.assert_close(output(back, IDS, lm), output(model, IDS, lm), atol=1e-6, rtol=1e-6)
    original, loaded = model.state_dict(), back.state_dict()  # nothing lost, the MLM's pooler included
    assert loaded.keys() == original.keys()
    assert all(torch.equal(loaded[k], original[k]) for k in original)


@pytest.mark.parametrize("name", list(ZOO_ONLY))
def test_other_architectures_keep_model_type_zoo_and_say_what_to_install(tmp_path, name):
    model = build(ZOO_ONLY[name], lm=True)
    model.save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["model_type"] == "zoo"
    assert "pip install nlpzoo" in cfg["zoo_requires"] and "zoo.from_pretrained" in cfg["zoo_requires"]
    back = zoo.from_pretrained(tmp_path)
    assert isinstance(back, zoo.ZooForLM)
    ids = torch.randint(3, 60, (1, 6))
    types = torch.tensor([[0, 0, 0, 1, 1, 1]])
    with torch.no_grad():
        assert torch.equal(back(ids, token_type_ids=types).logits, model(ids, token_type_ids=types).logits)


def test_explicit_head_none_still_gives_the_encoder_and_portable_false_keeps_zoo(tmp_path):
    model = build({}, lm=True)
    model.save_pretrained(tmp_path / "a", portable=False)
    assert json.loads((tmp_path / "a" / "config.json").read_text())["model_type"] == "zoo"
    assert isinstance(zoo.from_pretrained(tmp_path / "a"), zoo.ZooForLM)
    assert type(zoo.from_pretrained(tmp_path / "a", head=None)) is zoo.ZooModel
    model.save_pretrained(tmp_path / "b")
    assert type(zoo.from_pretrained(tmp_path / "b", head=None)) is zoo.ZooModel


def test_a_subclass_with_extra_weights_is_not_written_as_plain_bert(tmp_path):
    class WithExtra(zoo.ZooForLM):
        def __init__(self, config):
            super().__init__(config)
            self.extra = torch.nn.Linear(config.hidden_size, 3)
            self.post_init()

    torch.manual_seed(0)
    model = WithExtra(zoo.ZooConfig(**BASE)).eval()
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "zoo"
