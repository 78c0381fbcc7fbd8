"""`zoo embed` and scripts/eval_sts.py on a tiny random encoder."""

import importlib.util
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from _whitening_helpers import make_tiny_folder
from conftest import DATA, REPO
from whitening import SentenceEncoder, Whitening
from nlpzoo.cli import main

SENTENCES = [f"{a}{b}的天气很好" for a in "今明后昨前每某这那哪" for b in "天年月日周"]  # 50 > 32 dims


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory) -> Path:
    return make_tiny_folder(tmp_path_factory.mktemp("tiny_cli"))


@pytest.fixture(scope="module")
def expected(tiny_folder) -> np.ndarray:
    return SentenceEncoder(tiny_folder, pooling="cls", device="cpu").encode(SENTENCES)


def test_embed_arguments_to_jsonl_stdout(tiny_folder, expected, capsys):
    assert main(["embed", "--model", str(tiny_folder), "--pooling", "cls", "--device", "cpu", *SENTENCES[:2]]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in rows] == SENTENCES[:2]
    np.testing.assert_allclose(np.array([r["vector"] for r in rows]), expected[:2], rtol=1e-5, atol=1e-6)


def test_embed_file_to_npy_with_fitted_whitening(tiny_folder, expected, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("\n".join(SENTENCES) + "\n\n", encoding="utf-8")
    out, wdir = tmp_path / "out.npy", tmp_path / "w"
    argv = ["embed", "--model", str(tiny_folder), "--pooling", "cls", "--device", "cpu", "--input", str(src),
            "--fit-whitening", str(wdir), "-k", "8", "--normalize", "--output", str(out), "--json"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary == {"count": 50, "dim": 8, "output": str(out), "truncated": 0, "pooling": "cls",
                       "truncated_tokens": 0, "unk_inputs": 0}
    w = Whitening.load(wdir)
    got = np.load(out)
    np.testing.assert_allclose(got, w.transform(expected, normalize=True), rtol=1e-4, atol=1e-4)
    # applying the saved whitening to stdin input gives the same vectors, as jsonl
    monkey_stdin = io.StringIO("\n".join(SENTENCES[:3]))
    out2 = tmp_path / "out.jsonl"
    sys_stdin, sys.stdin = sys.stdin, monkey_stdin
    try:
        assert main(["embed", "--model", str(tiny_folder), "--pooling", "cls", "--device", "cpu", "--input", "-",
                     "--whitening", str(wdir), "--normalize", "-o", str(out2)]) == 0
    finally:
        sys.stdin = sys_stdin
    rows = [json.loads(line) for line in out2.read_text(encoding="utf-8").splitlines()]
    np.testing.assert_allclose(np.array([r["vector"] for r in rows]), got[:3], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("extra, code, message", [
    (["--output", "x.txt", "一"], 2, "must end with .npy or .jsonl"),
    (["--whitening", "a", "--fit-whitening", "b", "一"], 2, "not both"),
    (["--input", "/no/such/file"], 1, "/no/such/file: no such file"),
    (["--pooling", "cls", "--fit-whitening", "w", "一", "二"], 1, "N=2 <= dim"),
    ([""], 1, "the sentence is empty"),
])
def test_embed_errors(tiny_folder, extra, code, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["embed", "--model", str(tiny_folder), "--device", "cpu", *extra]) == code
    err = capsys.readouterr().err
    assert err.startswith("zoo embed: error: ") and message in err and len(err.splitlines()) == 1


def test_eval_sts_script(tiny_folder, capsys):
    spec = importlib.util.spec_from_file_location("eval_sts", REPO / "scripts" / "eval_sts.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    argv = ["--data", str(DATA / "sts_en" / "stsb_dev.tsv"), str(DATA / "sts_zh" / "STS-B.valid.data"),
            "--model", str(tiny_folder), "--pooling", "first-last-avg", "--k", "0", "16", "--limit", "40",
            "--device", "cpu"]
    assert script.main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[2].startswith("| k | stsb_dev | STS-B.valid |")
    result = json.loads(lines[-1])
    assert result["sizes"] == {"stsb_dev": 40, "STS-B.valid": 40}
    assert set(result["metrics"]) == {"k=0", "k=16"}
    assert -1 <= result["metrics"]["k=16"]["weighted_average"] <= 1


def test_embed_reports_truncated_tokens_once(tiny_folder, tmp_path, capsys):
    """--max-length cuts: counted in tokens, one warning line for the run, and fields in the --json summary."""
    out = tmp_path / "v.jsonl"
    texts = ["今天天气很好", "明天", "我想去公园玩"]  # 6, 2, 6 tokens; room for 4 beside [CLS] and [SEP]
    assert main(["embed", "--model", str(tiny_folder), "--pooling", "cls", "--device", "cpu", "--max-length", "6",
                 "-o", str(out), "--json", *texts]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["truncated"] == 2 and summary["truncated_tokens"] == 4
    assert captured.err.splitlines() == ["zoo embed: warning: 4 tokens cut from 2 of 3 input(s) to fit the model"]
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r.get("truncated_tokens", 0) for r in rows] == [2, 0, 2]


def test_cli_poolings_match_the_encoder():
    from nlpzoo.commands.embed import POOLINGS
    from whitening.encoder import POOLINGS as ENCODER_POOLINGS

    assert POOLINGS == ENCODER_POOLINGS
