"""Loading: public layouts, round trips, Auto classes, unsafe pickles, vocab surgery and clear errors."""

import json
import os
import pickle
import tempfile
import types
from pathlib import Path

import pytest
import torch
import transformers as T
from safetensors.torch import save_file

import zoo
from zoo.loading import CheckpointError

from test_core_modeling import ATOL, batch, save, slow_reference, tiny_bert_config


def write_checkpoint(folder, config: dict, state: dict, bin_format=False):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    if bin_format:
        torch.save(state, folder / "pytorch_model.bin")
    else:
        save_file({k: v.contiguous() for k, v in state.items()}, folder / "model.safetensors")
    return folder


def nezha_checkpoint(folder, layers=2, hidden=16, heads=2, vocab=50, inter=24):
    """Random weights under the transformers-4 NezhaForMaskedLM names (incl. its relative-position buffer)."""
    g = torch.Generator().manual_seed(0)

    def r(*shape):
        return torch.randn(*shape, generator=g) * 0.2

    s = {
        "nezha.embeddings.word_embeddings.weight": r(vocab, hidden),
        "nezha.embeddings.token_type_embeddings.weight": r(2, hidden),
        "nezha.embeddings.LayerNorm.weight": 1 + r(hidden),
        "nezha.embeddings.LayerNorm.bias": r(hidden),
        "nezha.pooler.dense.weight": r(hidden, hidden),
        "nezha.pooler.dense.bias": r(hidden),
        "cls.predictions.transform.dense.weight": r(hidden, hidden),
        "cls.predictions.transform.dense.bias": r(hidden),
        "cls.predictions.transform.LayerNorm.weight": 1 + r(hidden),
        "cls.predictions.transform.LayerNorm.bias": r(hidden),
        "cls.predictions.bias": r(vocab),
    }
    s["cls.predictions.decoder.weight"] = s["nezha.embeddings.word_embeddings.weight"].clone()
    for i in range(layers):
        p = f"nezha.encoder.layer.{i}."
        for name in ("query", "key", "value"):
            s[p + f"attention.self.{name}.weight"] = r(hidden, hidden)
            s[p + f"attention.self.{name}.bias"] = r(hidden)
        s[p + "attention.self.relative_positions_encoding.positions_encoding"] = r(64, 64, hidden // heads)
        s[p + "attention.output.dense.weight"] = r(hidden, hidden)
        s[p + "attention.output.dense.bias"] = r(hidden)
        s[p + "attention.output.LayerNorm.weight"] = 1 + r(hidden)
        s[p + "attention.output.LayerNorm.bias"] = r(hidden)
        s[p + "intermediate.dense.weight"] = r(inter, hidden)
        s[p + "intermediate.dense.bias"] = r(inter)
        s[p + "output.dense.weight"] = r(hidden, inter)
        s[p + "output.dense.bias"] = r(hidden)
        s[p + "output.LayerNorm.weight"] = 1 + r(hidden)
        s[p + "output.LayerNorm.bias"] = r(hidden)
    config = {"architectures": ["NezhaForMaskedLM"], "model_type": "nezha", "vocab_size": vocab,
              "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
              "intermediate_size": inter, "hidden_act": "gelu", "max_position_embeddings": 64,
              "max_relative_position": 64, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0}
    return write_checkpoint(folder, config, s), s, config


def test_nezha_transformers4_layout_loads_and_matches_reference(tmp_path):
    folder, s, config = nezha_checkpoint(tmp_path / "nezha")
    model = zoo.from_pretrained(folder, head="mlm")
    assert model.config.position_embedding_type == "relative" and model.config.max_relative_position == 64
    # the reference reads the checkpoint through a name map written here, not the loader's
    ours = {
        "embeddings.word_embeddings.weight": s["nezha.embeddings.word_embeddings.weight"],
        "embeddings.token_type_embeddings.weight": s["nezha.embeddings.token_type_embeddings.weight"],
        "embeddings.norm.weight": s["nezha.embeddings.LayerNorm.weight"],
        "embeddings.norm.bias": s["nezha.embeddings.LayerNorm.bias"],
    }
    for i in range(config["num_hidden_layers"]):
        p = f"nezha.encoder.layer.{i}."
        q = f"layers.{i}."
        for part in ("weight", "bias"):
            ours[q + f"attention.qkv.{part}"] = torch.cat(
                [s[p + f"attention.self.{n}.{part}"] for n in ("query", "key", "value")])
            ours[q + f"attention.out.{part}"] = s[p + f"attention.output.dense.{part}"]
            ours[q + f"norm1.{part}"] = s[p + f"attention.output.LayerNorm.{part}"]
            ours[q + f"ffn.up.{part}"] = s[p + f"intermediate.dense.{part}"]
            ours[q + f"ffn.down.{part}"] = s[p + f"output.dense.{part}"]
            ours[q + f"norm2.{part}"] = s[p + f"output.LayerNorm.{part}"]
    fake = types.SimpleNamespace(config=model.config, state_dict=lambda: ours)
    ids, tt, mask = batch(vocab=50, length=8)
    visible = mask.bool()[:, None, :].expand(-1, 8, -1)
    want = slow_reference(fake, ids, tt, visible).float()
    got = model(ids, token_type_ids=tt, attention_mask=mask)
    assert (got.last_hidden_state - want)[mask.bool()].abs().max() <= ATOL
    assert got.logits.shape == (3, 8, 50)


def test_cdial_openai_gpt_legacy_bin_with_512_bias_buffer(tmp_path):
    """CDial-GPT: n_positions 513 but a 512x512 `attn.bias` buffer per layer in pytorch_model.bin."""
    torch.manual_seed(0)
    cfg = T.OpenAIGPTConfig(vocab_size=60, n_embd=32, n_layer=2, n_head=4, n_positions=513, n_ctx=512)
    hf = T.OpenAIGPTLMHeadModel(cfg).eval()
    state = dict(hf.state_dict())
    for i in range(2):
        state[f"transformer.h.{i}.attn.bias"] = torch.ones(512, 512).tril().view(1, 1, 512, 512)
    config = json.loads(cfg.to_json_string())
    write_checkpoint(tmp_path, config, state, bin_format=True)
    ours = zoo.from_pretrained(tmp_path, head="lm")
    ids = torch.randint(0, 60, (2, 11))
    speakers = torch.full_like(ids, 58)
    assert (hf(ids, token_type_ids=speakers).logits - ours(ids, token_type_ids=speakers).logits).abs().max() <= ATOL


def test_save_load_round_trip_and_auto_model(tmp_path):
    torch.manual_seed(0)
    cfg = zoo.ZooConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=24, attention="unilm", position_embedding_type="relative",
                        residual_attention=True)
    model = zoo.ZooForLM(cfg).eval()
    model.save_pretrained(tmp_path)
    ids, tt, mask = batch(vocab=40)
    want = model(ids, token_type_ids=tt, attention_mask=mask).logits
    for loaded in (zoo.from_pretrained(tmp_path, head="lm"), T.AutoModelForMaskedLM.from_pretrained(tmp_path),
                   T.AutoModelForCausalLM.from_pretrained(tmp_path)):
        assert torch.equal(loaded.eval()(ids, token_type_ids=tt, attention_mask=mask).logits, want)
    base = T.AutoModel.from_pretrained(tmp_path).eval()
    assert isinstance(base, zoo.ZooModel)
    assert torch.equal(base(ids, token_type_ids=tt, attention_mask=mask).last_hidden_state,
                       model.zoo(ids, token_type_ids=tt, attention_mask=mask).last_hidden_state)


def test_overrides_turn_bert_into_unilm_and_realformer(tmp_path):
    hf = T.BertForMaskedLM(tiny_bert_config()).eval()
    folder = save(hf)
    m = zoo.from_pretrained(folder, head="lm", attention="unilm", residual_attention=True, hidden_dropout_prob=0.0)
    assert m.config.attention == "unilm" and m.config.residual_attention and m.config.hidden_dropout_prob == 0.0
    with pytest.raises(ValueError):
        zoo.from_pretrained(folder, no_such_field=1)
    with pytest.raises(ValueError):
        zoo.from_pretrained(folder, head="classifier")


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


MARKER = Path(tempfile.gettempdir()) / "nlpzoo_pwned_marker"


def test_malicious_bin_is_refused_and_never_runs(tmp_path):
    MARKER.unlink(missing_ok=True)
    (tmp_path / "config.json").write_text(json.dumps(json.loads(tiny_bert_config().to_json_string())))
    with open(tmp_path / "pytorch_model.bin", "wb") as f:
        pickle.dump({"embeddings.word_embeddings.weight": Payload()}, f)
    with pytest.raises(CheckpointError, match="refused"):
        zoo.from_pretrained(tmp_path)
    assert not MARKER.exists()


def test_keep_tokens_and_compound_tokens(tmp_path):
    hf = T.BertForMaskedLM(tiny_bert_config()).eval()
    folder = save(hf)
    keep = [0, 5, 7, 3, 10]
    m = zoo.from_pretrained(folder, head="mlm", keep_tokens=keep, compound_tokens=[[1, 2], [4]])
    emb = hf.bert.embeddings.word_embeddings.weight
    bias = hf.cls.predictions.bias
    got = m.get_input_embeddings().weight
    assert m.config.vocab_size == 7 and got.shape[0] == 7
    torch.testing.assert_close(got[:5], emb[keep])
    torch.testing.assert_close(got[5], (emb[5] + emb[7]) / 2)  # ids after keep_tokens re-indexing
    torch.testing.assert_close(got[6], emb[10])
    torch.testing.assert_close(m.head.bias[5], (bias[5] + bias[7]) / 2)
    with pytest.raises(ValueError):
        zoo.from_pretrained(folder, keep_tokens=[0, 1000])


def test_clear_errors_for_unknown_missing_and_mismatched_weights(tmp_path):
    hf = T.BertModel(tiny_bert_config()).eval()
    state = dict(hf.state_dict())
    config = json.loads(hf.config.to_json_string())
    extra = dict(state, **{"encoder.layer.0.adapter.weight": torch.zeros(2)})
    with pytest.raises(CheckpointError, match="adapter"):
        zoo.from_pretrained(write_checkpoint(tmp_path / "a", config, extra))
    missing = {k: v for k, v in state.items() if "layer.1.output.dense" not in k}
    with pytest.raises(CheckpointError, match="layers.1.ffn.down"):
        zoo.from_pretrained(write_checkpoint(tmp_path / "b", config, missing))
    bad = dict(state, **{"embeddings.position_embeddings.weight": torch.zeros(10, 32)})
    with pytest.raises(CheckpointError, match="shape"):
        zoo.from_pretrained(write_checkpoint(tmp_path / "c", config, bad))
    with pytest.raises(CheckpointError, match="model_type"):
        zoo.from_pretrained(write_checkpoint(tmp_path / "d", dict(config, model_type="llama"), state))
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        zoo.from_pretrained(tmp_path / "e")


def test_missing_hub_id_offline_names_it(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(CheckpointError, match="nobody/no-such-model") as err:
        zoo.from_pretrained("nobody/no-such-model")
    assert "hf download" in str(err.value)
    with pytest.raises(CheckpointError):
        zoo.from_pretrained("not a path or id")


def test_bert_mlm_checkpoint_without_pooler_and_base_without_head(tmp_path, caplog):
    hf = T.BertForMaskedLM(tiny_bert_config()).eval()  # HF MLM checkpoints carry no pooler
    enc = zoo.from_pretrained(save(hf))
    assert enc.pooler is None
    base = T.BertModel(tiny_bert_config()).eval()  # no MLM head: loads with a warning, head initialised
    with caplog.at_level("WARNING"):
        lm = zoo.from_pretrained(save(base), head="mlm")
    assert "no LM head weights" in caplog.text
    assert lm.head.bias is not None
