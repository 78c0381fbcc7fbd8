"""Tiny random dialog models for the dialog tests: the NEZHA-GPT format on a zoo model, and the two CDial-GPT hub
layouts built with transformers' own classes and the real CDial vocab."""

import json
import shutil

import torch
from conftest import VOCAB

CONTEXT = ["别爱我没结果", "你这样会失去我的", "失去了又能怎样"]
CDIAL_VOCAB = VOCAB / "cdial_gpt_vocab.txt"
NEZHA_VOCAB = VOCAB / "derived" / "nezha_gpt_dialog_vocab.txt"


def openai_gpt_layout(folder):
    """thu-coai/CDial-GPT_LCCC-large layout: OpenAIGPTLMHeadModel, pytorch_model.bin, vocab.txt."""
    from transformers import OpenAIGPTConfig, OpenAIGPTLMHeadModel

    torch.manual_seed(0)
    cfg = OpenAIGPTConfig(vocab_size=13088, n_positions=513, n_embd=32, n_layer=2, n_head=4, afn="gelu")
    model = OpenAIGPTLMHeadModel(cfg).eval()
    folder.mkdir(parents=True)
    cfg.save_pretrained(folder)
    state = dict(model.state_dict())
    for i in range(2):  # the hub checkpoint carries 512-wide causal-mask buffers (thu-coai/CDial-GPT#68)
        state[f"transformer.h.{i}.attn.bias"] = torch.tril(torch.ones(512, 512)).view(1, 1, 512, 512)
    torch.save(state, folder / "pytorch_model.bin")
    shutil.copyfile(CDIAL_VOCAB, folder / "vocab.txt")
    return model


def gpt2_layout(folder):
    """thu-coai/CDial-GPT2_LCCC-base layout: GPT2LMHeadModel, vocab.txt."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(1)
    cfg = GPT2Config(vocab_size=13088, n_positions=513, n_ctx=513, n_embd=32, n_layer=2, n_head=4)
    model = GPT2LMHeadModel(cfg).eval()
    model.save_pretrained(folder)
    shutil.copyfile(CDIAL_VOCAB, folder / "vocab.txt")
    return model


def nezha_model(folder):
    """A NEZHA-GPT-format model as train_dialog.py saves it (relative positions, causal, dialog vocab)."""
    import zoo

    torch.manual_seed(2)
    cfg = zoo.ZooConfig(vocab_size=14195, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, position_embedding_type="relative", attention="causal",
                        add_pooler=False)
    model = zoo.ZooForLM(cfg).eval()
    model.save_pretrained(folder)
    shutil.copyfile(NEZHA_VOCAB, folder / "vocab.txt")
    (folder / "dialog_config.json").write_text(json.dumps({"family": "nezha-gpt"}))
    return model
