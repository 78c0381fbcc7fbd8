"""The small Chinese base: pre-training script end to end on a few examples, fp16 export, fill-mask, and
fine-tuning scripts that start from it (--init) with number placeholders and the base's own vocab."""

import argparse
import json
import sys

import pytest
import torch
from conftest import REPO

import zoo
from dialog.data import read_dialogs, split_dev
from mathwp.seq2seq import PLACEHOLDERS
from summarize.data import read_pairs

sys.path.insert(0, str(REPO / "scripts"))
import pretrain_base  # noqa: E402
import train_mathwp  # noqa: E402


@pytest.fixture(scope="module")
def base(tmp_path_factory, shared):
    run = tmp_path_factory.mktemp("base")
    pretrain_base.main(["--output", str(run / "run"), "--hidden", "32", "--layers", "2", "--heads", "2",
                        "--intermediate", "64", "--limit", "40", "--batch-size", "8", "--max-steps", "3",
                        "--warmup", "1", "--save-every", "2", "--log-every", "1"])
    pretrain_base.main(["--export", str(run / "run"), "--to", str(run / "base")])
    return run


def test_run_is_logged_resumable_and_held_out(base):
    run = base / "run"
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]
    assert (run / "checkpoint-last" / "trainer_state.json").is_file()
    counts = json.loads((run / "data.json").read_text())
    assert counts["math_pairs"] == 40 and counts["dialogs"] == 40 and counts["tokens"] > 0


def test_held_out_dev_splits_are_not_in_the_corpus(shared):
    pairs = pretrain_base.math_pairs(shared / "data")
    assert len(pairs) == 9607  # the solver's training problems (its model card): ape210k minus dev ids, Math23K
    all_dialogs = read_dialogs(shared / "data" / "lccc" / "LCCC-base_valid.json")
    dev_dialogs = split_dev(all_dialogs, 1000, seed=0)[1]
    train = pretrain_base.train_dialogs(shared / "data")
    assert len(train) + len(dev_dialogs) == len(all_dialogs)
    assert dev_dialogs[0] not in train and dev_dialogs[-1] not in train
    lcsts_dev = {text for text, _ in read_pairs(shared / "data" / "lcsts_clge" / "val.tsv")}
    assert not lcsts_dev & {source for source, _ in pretrain_base.summary_pairs(shared / "data")}


def test_export_is_fp16_loadable_and_fills_masks(base, capsys):
    folder = base / "base"
    from safetensors.torch import load_file

    assert all(t.dtype == torch.float16 for t in load_file(str(folder / "model.safetensors")).values())
    vocab = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] and vocab[5:25] == PLACEHOLDERS
    model = zoo.from_pretrained(folder, head="lm", attention="causal")
    assert model.config.vocab_size == len(vocab)
    pretrain_base.fill_mask(folder, ["今天天[MASK]很好"])
    assert "[MASK]#4:" in capsys.readouterr().out
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(folder).tokenize("天气") == ["天", "气"]


def test_solver_fine_tuning_from_the_base_keeps_placeholders(base):
    from mathwp.training import build_tokenizer

    args = argparse.Namespace(init=str(base / "base"), number_placeholders=True)
    tokenizer, keep_tokens = build_tokenizer(None, args.init, args.number_placeholders)
    assert tokenizer.tokenize("[n0]+[n1]")[1:-1] == ["[n0]", "+", "[n1]"]
    assert [tokenizer.id_to_token(i) for i in range(4)] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    model = train_mathwp.build_model(args, tokenizer, keep_tokens)
    assert model.config.vocab_size == len(tokenizer) and model.config.attention == "unilm"


def test_placeholders_need_a_vocab_that_has_them(tmp_path):
    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a"]) + "\n")
    from mathwp.training import build_tokenizer

    with pytest.raises(ValueError, match="n19"):
        build_tokenizer(None, str(tmp_path), True)


SHIPPED_BASE = REPO / "zoo" / "models" / "base-zh"


def test_shipped_base_loads_in_every_mode_and_matches_its_tokenizers():
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    from zoo.tokenization import Tokenizer

    assert all(f.stat().st_size <= 25 * 2**20 for f in SHIPPED_BASE.iterdir())
    assert all(t.dtype == torch.float16 for t in load_file(str(SHIPPED_BASE / "model.safetensors")).values())
    vocab = (SHIPPED_BASE / "vocab.txt").read_text(encoding="utf-8").splitlines()
    for head, attention in (("mlm", "bidirectional"), ("mlm", "unilm"), ("lm", "causal")):
        model = zoo.from_pretrained(SHIPPED_BASE, head=head, attention=attention)
        assert model.config.vocab_size == len(vocab) and model.config.attention == attention
    text = "今天加班到很晚，好累啊 iPhone 12"
    ours = Tokenizer(str(SHIPPED_BASE / "vocab.txt")).tokenize(text)[1:-1]
    assert AutoTokenizer.from_pretrained(SHIPPED_BASE).tokenize(text) == ours and "[UNK]" not in ours
    card = (SHIPPED_BASE / "README.md").read_text(encoding="utf-8")
    assert "Fill-mask" in card and "scripts/pretrain_base.py" in card


def test_shipped_chat_default_is_fine_tuned_from_the_base():
    from dialog.chatbot import DEFAULT_MODEL

    base_vocab = (SHIPPED_BASE / "vocab.txt").read_text(encoding="utf-8")
    assert (DEFAULT_MODEL / "vocab.txt").read_text(encoding="utf-8") == base_vocab
    assert "--init" in (DEFAULT_MODEL / "README.md").read_text(encoding="utf-8")
