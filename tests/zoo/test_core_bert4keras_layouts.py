"""The packages take the originals' release layouts: the NEZHA-GPT dialog release (config.json, model.ckpt.*,
vocab.txt), the WoBERT / WoNEZHA releases (bert_config.json, bert_model.ckpt.*, vocab.txt) and a bert4keras
`best_model.weights` saved by a training script, next to its config and vocab."""

import numpy as np
import torch

from _bert4keras_helpers import VOCAB, copy_case, outputs, write_vocab

TOL = 1e-5


def _logits(model, ref):
    ids = torch.as_tensor(ref["token_ids"]).long()
    with torch.no_grad():
        out = model(ids, token_type_ids=torch.as_tensor(ref["segment_ids"]).long(), attention_mask=(ids != 0).long())
    return out.logits.numpy()


def test_chatbot_loads_the_nezha_gpt_dialog_release_layout(tmp_path):
    from dialog import ChatBot

    folder = copy_case("nezha_lm", tmp_path / "nezha_gpt_dialog")
    write_vocab(folder)
    assert sorted(p.name for p in folder.iterdir()) == [
        "checkpoint", "config.json", "model.ckpt.data-00000-of-00001", "model.ckpt.index", "vocab.txt"]
    bot = ChatBot.from_pretrained(folder)
    assert bot.family == "nezha-gpt"
    assert bot.model.config.position_embedding_type == "relative" and bot.model.config.attention == "causal"
    ref = outputs("nezha_lm")
    assert np.abs(_logits(bot.model, ref) - ref["mlm_logits"]).max() <= TOL
    reply = bot.reply(["你好", "我很好"], do_sample=False, max_new_tokens=5)
    assert isinstance(reply, str)
    assert set(reply) <= set("".join(VOCAB[5:]))


def test_wobert_loads_the_release_layout(tmp_path):
    from wobert import WoBertForMaskedLM, WoBertModel, WoBertTokenizer

    folder = copy_case("bert_encoder", tmp_path / "chinese_wobert_plus_L-12_H-768_A-12")
    write_vocab(folder)
    model = WoBertForMaskedLM.from_pretrained(folder)
    assert isinstance(model, WoBertForMaskedLM)
    ref = outputs("bert_encoder")
    assert np.abs(_logits(model, ref) - ref["mlm_logits"]).max() <= TOL
    encoder = WoBertModel.from_pretrained(folder)
    assert encoder.pooler is not None
    tok = WoBertTokenizer.from_pretrained(folder)
    ids = tok("今天天气很好")["input_ids"]
    assert ids[0] == VOCAB.index("[CLS]") and ids[-1] == VOCAB.index("[SEP]")
    assert tok.convert_ids_to_tokens(ids)[1:-1] == list("今天天气很好")


def test_wonezha_release_layout(tmp_path):
    from wobert import WoBertForMaskedLM

    folder = copy_case("nezha_encoder", tmp_path / "chinese_wonezha_L-12_H-768_A-12")
    write_vocab(folder)
    model = WoBertForMaskedLM.from_pretrained(folder)
    assert model.config.position_embedding_type == "relative"
    ref = outputs("nezha_encoder")
    assert np.abs(_logits(model, ref) - ref["mlm_logits"]).max() <= TOL


def test_solver_loads_weights_saved_by_the_training_script(tmp_path):
    """ape210k's script: `model.save_weights('./best_model.weights')` of a UniLM BERT; folder = that file, the
    pretrained model's bert_config.json and the vocab.txt the script trained with."""
    from mathwp import Solver

    folder = copy_case("bert_unilm", tmp_path / "ape210k", keep_weights=True)
    for p in folder.glob("bert_model.ckpt*"):
        p.unlink()
    (folder / "checkpoint").unlink()
    write_vocab(folder)
    solver = Solver.from_pretrained(folder)
    assert solver.model.config.attention == "unilm"
    ref = outputs("bert_unilm")
    assert np.abs(_logits(solver.model, ref) - ref["mlm_logits"]).max() <= TOL
