"""`zoo chat` (one-shot and interactive), scripts/eval_dialog.py and scripts/train_dialog.py smoke runs."""

import io
import json
import sys

import pytest
from _dialog_helpers import CONTEXT, nezha_model
from conftest import DATA, REPO

import nlpzoo.cli

TOY = DATA / "lccc" / "cdial_gpt_toy" / "toy_data.json"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chat_model")
    nezha_model(folder)
    return folder


def test_once_json(model_dir, capsys):
    rc = nlpzoo.cli.main(["chat", "--model", str(model_dir), "--once", *CONTEXT, "--seed", "3", "--json",
                       "--max-new-tokens", "6"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rc == 0 and out["history"] == CONTEXT and out["family"] == "nezha-gpt"
    from dialog import ChatBot

    assert out["reply"] == ChatBot.from_pretrained(model_dir).reply(CONTEXT, seed=3, max_new_tokens=6)


def test_once_from_stdin(model_dir, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(CONTEXT, ensure_ascii=False)))
    assert nlpzoo.cli.main(["chat", "--model", str(model_dir), "--once", "-", "--greedy", "--max-new-tokens", "5"]) == 0
    first = capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(CONTEXT) + "\n"))
    assert nlpzoo.cli.main(["chat", "--model", str(model_dir), "--once", "--greedy", "--max-new-tokens", "5"]) == 0
    assert capsys.readouterr().out == first


def test_interactive_reset_and_quit(model_dir, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("你好\n/reset\n在吗\n/quit\n不会读到这里\n"))
    assert nlpzoo.cli.main(["chat", "--model", str(model_dir), "--seed", "1", "--max-new-tokens", "4"]) == 0
    captured = capsys.readouterr()
    assert "(new conversation)" in captured.err
    assert captured.out.count("\n") == 2  # two replies, nothing after /quit (no prompts: stdin is not a terminal)


def test_cli_errors(model_dir, capsys, tmp_path):
    assert nlpzoo.cli.main(["chat", "--model", str(tmp_path / "none"), "--once", "hi"]) == 1
    assert capsys.readouterr().err.startswith("zoo chat: error: cannot load the chat model")
    bad = tmp_path / "h.json"
    bad.write_text('["ok", 3]', encoding="utf-8")
    assert nlpzoo.cli.main(["chat", "--model", str(model_dir), "--file", str(bad)]) == 1
    assert capsys.readouterr().err == "zoo chat: error: a JSON history must be a list of strings\n"
    assert nlpzoo.cli.main(["chat", "--model", str(model_dir), "--once", ""]) == 1
    assert capsys.readouterr().err == "zoo chat: error: the turn is empty\n"


def _run_script(name, args, capsys):
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        module = __import__(name)
    finally:
        sys.path.pop(0)
    assert module.main(args) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_eval_script_json_line(model_dir, capsys):
    metrics = _run_script("eval_dialog", ["--data", str(TOY), "--split", "valid", "--model", str(model_dir),
                                          "--limit", "6", "--max-new-tokens", "4", "--batch-size", "4"], capsys)
    assert metrics["cases"] == 6
    assert metrics["ppl"] > 1000  # random model over a 14k vocab
    for key in ("bleu2", "bleu4", "distinct1", "distinct2"):
        assert 0 <= metrics[key] <= 100


def test_train_script_smoke(tmp_path, capsys):
    out = tmp_path / "model"
    metrics = _run_script("train_dialog", ["--data", str(TOY), "--split", "valid", "--dev-size", "20",
                                           "--dev-eval", "4", "--limit", "24", "--max-steps", "3", "--batch-size",
                                           "8", "--hidden", "32", "--layers", "1", "--intermediate", "64",
                                           "--output", str(out), "--work-dir", str(tmp_path / "work"),
                                           "--top-k", "10", "--no-repeat-ngram-size", "2"], capsys)
    assert metrics["cases"] == 4 and metrics["size_mb"] < 25
    assert {"config.json", "vocab.txt", "dialog_config.json", "README.md"} <= {p.name for p in out.iterdir()}
    from dialog import ChatBot

    bot = ChatBot.from_pretrained(out)
    assert isinstance(bot.reply(["你好"], max_new_tokens=3), str)
    # the decoding flags become the model's stored preset, on top of the family's (top-k 5 -> 10)
    assert bot.preset["top_k"] == 10 and bot.preset["no_repeat_ngram_size"] == 2 and bot.preset["do_sample"]
    assert '"top_k": 10' in (out / "README.md").read_text(encoding="utf-8")


def test_decoding_flags_map_to_chatbot_options():
    import argparse

    from dialog.presets import add_decoding_arguments, decoding_options

    p = argparse.ArgumentParser()
    add_decoding_arguments(p)
    assert decoding_options(p.parse_args([])) == {}
    assert decoding_options(p.parse_args(["--top-k", "0", "--top-p", "1", "--temperature", "0.7"])) == {
        "top_k": None, "top_p": None, "temperature": 0.7}
    assert decoding_options(p.parse_args(["--top-p", "0.9", "--repetition-penalty", "1.1"])) == {
        "top_p": 0.9, "repetition_penalty": 1.1}


def test_shipped_default_model(capsys):
    from dialog import ChatBot
    from dialog.chatbot import DEFAULT_MODEL

    size = sum(p.stat().st_size for p in DEFAULT_MODEL.iterdir())
    assert size <= 25 * 2**20
    assert "Dev metrics" in (DEFAULT_MODEL / "README.md").read_text(encoding="utf-8")
    bot = ChatBot.from_pretrained()
    assert bot.family == "nezha-gpt" and bot.model.config.position_embedding_type == "relative"
    assert nlpzoo.cli.main(["chat", "--once", "我最近天天吃火锅", "--seed", "0", "--max-new-tokens", "8"]) == 0
    reply = capsys.readouterr().out.strip()
    assert reply and reply == bot.reply(["我最近天天吃火锅"], seed=0, max_new_tokens=8)
