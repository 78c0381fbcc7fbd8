"""transformers' generate() and pipeline("text-generation") on zoo causal LMs; HF option names in zoo.generate.

What this relies on in transformers (5.24): `GenerationMixin.prepare_inputs_for_generation(input_ids,
next_sequence_length=, cache=, attention_mask=, ...)` and `Cache.update(key, value, layer_idx)` /
`Cache.get_seq_length()` of `transformers.cache_utils.Cache`; the first test names them so a rename fails loudly."""

import inspect

import pytest
import torch
from conftest import VOCAB
from transformers import GenerationConfig, GenerationMixin

import zoo

GPT2_LIKE = dict(pre_norm=True, lm_head_transform=False, lm_head_bias=False, token_type_embedding="shared",
                 type_vocab_size=0, embedding_norm=False, layer_norm_eps=1e-5, hidden_act="gelu_new")


def tiny(attention="causal", vocab_size=60, seed=0, **kw):
    torch.manual_seed(seed)
    cfg = zoo.ZooConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=128, attention=attention, add_pooler=False,
                        **kw)
    return zoo.ZooForLM(cfg).eval()


def test_the_transformers_generation_api_we_rely_on_is_there():
    import transformers
    from transformers.cache_utils import Cache, DynamicCache

    version = transformers.__version__
    params = inspect.signature(GenerationMixin.prepare_inputs_for_generation).parameters
    assert {"next_sequence_length", "attention_mask"} <= set(params) and {"cache", "past_key_values"} & set(params), (
        f"transformers {version} changed GenerationMixin.prepare_inputs_for_generation's arguments; "
        "zoo/hf_compat.py ZooGenerationMixin.prepare_inputs_for_generation must follow")
    update = list(inspect.signature(DynamicCache.update).parameters)
    assert update[1:4] == ["key_states", "value_states", "layer_idx"], (
        f"transformers {version} changed Cache.update; zoo/hf_compat.py HFCacheView.update must follow")
    assert hasattr(Cache, "get_seq_length"), f"transformers {version}: Cache.get_seq_length is gone"


def test_model_is_a_generation_mixin_with_a_generation_config():
    model = tiny()
    assert isinstance(model, GenerationMixin) and model.can_generate()
    assert isinstance(model.generation_config, GenerationConfig)


@pytest.mark.parametrize("layout", [{}, GPT2_LIKE, {"position_embedding_type": "relative", "max_relative_position": 8}],
                         ids=["bert-causal", "gpt2", "nezha-gpt"])
def test_hf_greedy_equals_zoo_generate_on_a_left_padded_batch(layout):
    model = tiny(**layout)
    ids = torch.tensor([[2, 8, 9, 11, 7], [0, 0, 5, 7, 30]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]])
    ours = zoo.generate(model, ids, attention_mask=mask, max_new_tokens=10)
    hf = model.generate(ids, attention_mask=mask, max_new_tokens=10, do_sample=False, pad_token_id=0)
    assert torch.equal(hf[:, :5], ids)
    assert torch.equal(hf[:, 5:], ours)
    unbound = GenerationMixin.generate(model, ids[:1], max_new_tokens=6, do_sample=False)
    assert torch.equal(unbound[0, 5:], ours[0, :6])


def test_hf_beam_search_and_sampling_run_through_the_hf_cache():
    model = tiny(**GPT2_LIKE)
    ids = torch.tensor([[2, 8, 9]])
    beams = model.generate(ids, num_beams=3, num_return_sequences=2, max_new_tokens=6, do_sample=False)
    assert beams.shape == (2, 9)
    # HF's beam search, checked against a full recompute of the best beam's score ordering: the top beam
    # scores at least as well as greedy under the model
    greedy = model.generate(ids, max_new_tokens=6, do_sample=False)

    def logp(seq):
        logits = model(seq[None]).logits[0, 2:-1].log_softmax(-1)
        return logits.gather(-1, seq[3:, None]).sum().item()

    assert logp(beams[0]) >= logp(greedy[0]) - 1e-5
    torch.manual_seed(0)
    sampled = model.generate(ids, do_sample=True, top_k=5, max_new_tokens=6)
    assert sampled.shape == (1, 9)


def test_text_generation_pipeline_matches_zoo_generate():
    from transformers import BertTokenizer, pipeline

    tok = BertTokenizer(vocab=str(VOCAB / "bert_chinese_vocab.txt"))
    model = tiny(vocab_size=len(tok), **GPT2_LIKE)
    generator = pipeline("text-generation", model=model, tokenizer=tok)
    prompt = "今天天气很好"
    got = generator(prompt, max_new_tokens=8, do_sample=False, return_full_text=False,
                    add_special_tokens=False)[0]["generated_text"]
    ids = tok(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    expected = tok.decode(zoo.generate(model, ids, max_new_tokens=8)[0])
    assert got.replace(" ", "") == expected.replace(" ", "")
    assert len(expected.replace(" ", "")) > 0


def test_hf_generate_refuses_unilm_and_points_to_zoo_generate():
    model = tiny("unilm")
    ids = torch.tensor([[2, 8, 9]])
    with pytest.raises(ValueError, match=r"zoo\.generate"):
        model.generate(ids, max_new_tokens=3)
    with pytest.raises(ValueError, match=r"zoo\.generate"):
        GenerationMixin.generate(model, ids, max_new_tokens=3)
    with pytest.raises(ValueError, match="causal"):
        tiny("bidirectional").generate(ids, max_new_tokens=3)
    assert zoo.generate(model, ids, token_type_ids=torch.zeros_like(ids), max_new_tokens=3).shape == (1, 3)


# ------------------------------------------------------------------ HF names accepted by zoo.generate


def test_zoo_generate_accepts_max_length_generation_config_and_return_dict_in_generate():
    model = tiny()
    ids = torch.tensor([[2, 8, 9, 11]])
    reference = zoo.generate(model, ids, max_new_tokens=6)
    assert torch.equal(zoo.generate(model, ids, max_length=10), reference)
    config = GenerationConfig(max_new_tokens=6, do_sample=False, num_beams=1)
    assert torch.equal(zoo.generate(model, ids, generation_config=config), reference)
    assert zoo.generate(model, ids, generation_config=config, max_new_tokens=2).shape == (1, 2)  # explicit wins
    out = zoo.generate(model, ids, max_new_tokens=6, return_dict_in_generate=True)
    assert torch.equal(out.sequences, reference) and out.scores.shape == (1,)
    beams = zoo.generate(model, ids, generation_config=GenerationConfig(num_beams=3, max_new_tokens=4))
    assert torch.equal(beams, zoo.generate(model, ids, num_beams=3, max_new_tokens=4))


@pytest.mark.parametrize("options, message", [
    ({"streamer": object()}, r"zoo\.generation\.stream"),
    ({"output_scores": True}, "GenerateOutput.scores"),
    ({"max_length": 3}, "counts the prompt"),
    ({"max_length": 10, "max_new_tokens": 2}, "not both"),
    ({"generation_config": GenerationConfig(num_beam_groups=2, num_beams=4, diversity_penalty=1.0)},
     r"model\.generate"),
])
def test_zoo_generate_refuses_what_it_cannot_do_and_says_what_to_use(options, message):
    model = tiny()
    with pytest.raises(ValueError, match=message):
        zoo.generate(model, torch.tensor([[2, 8, 9, 11]]), **options)


def test_hf_generate_streams_the_tokens_it_returns():
    from transformers.generation.streamers import BaseStreamer

    class Collect(BaseStreamer):
        def __init__(self):
            self.chunks, self.ended = [], False

        def put(self, value):
            self.chunks.append(value.reshape(-1).tolist())

        def end(self):
            self.ended = True

    model = tiny(**GPT2_LIKE)
    ids = torch.tensor([[2, 8, 9]])
    streamer = Collect()
    out = model.generate(ids, max_new_tokens=5, do_sample=False, streamer=streamer)
    assert streamer.ended and streamer.chunks[0] == [2, 8, 9]
    assert [t for chunk in streamer.chunks[1:] for t in chunk] == out[0, 3:].tolist()


def test_text_generation_pipeline_on_the_shipped_dialog_folder_by_path():
    from conftest import REPO
    from transformers import pipeline

    generator = pipeline("text-generation", model=str(REPO / "dialog" / "models" / "default"))
    assert isinstance(generator.model, zoo.ZooForLM)
    got = generator("你好", max_new_tokens=8, do_sample=False, return_full_text=False,
                    add_special_tokens=False)[0]["generated_text"]
    ids = generator.tokenizer("你好", add_special_tokens=False, return_tensors="pt")["input_ids"]
    new = zoo.generate(generator.model, ids, max_new_tokens=8)[0]
    assert got == generator.tokenizer.decode(new, skip_special_tokens=True)  # as the pipeline decodes
