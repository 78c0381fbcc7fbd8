"""`zoo tokenize` through zoo.cli.main."""

import io
import json

from _wobert_helpers import hub_folder
from conftest import DATA, VOCAB

from nlpzoo.cli import main


def test_tokenize_from_hub_folder_and_vocab(tmp_path_factory, capsys):
    folder = hub_folder(tmp_path_factory, "plus")
    assert main(["tokenize", "--model", str(folder), "我爱北京天安门", "今天[MASK]"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "[CLS] 我 爱 北京 天安门 [SEP]"
    assert lines[1] == "[CLS] 今天 [ ma ##sk ] [SEP]"  # bert4keras: a literal [MASK] is text
    assert main(["tokenize", "--vocab", str(VOCAB / "wobert_plus_vocab.txt"), "--ids", "--maxlen", "4",
                 "我爱北京天安门"]) == 0
    assert capsys.readouterr().out.strip() == "101 1909 3101 102"


def test_tokenize_json_offsets_stdin_and_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("Café的咖啡很好喝\n"))
    texts = tmp_path / "in.txt"
    texts.write_text("原告与被告侵权责任纠纷一案。\n", encoding="utf-8")
    code = main(["tokenize", "--vocab", str(VOCAB / "derived" / "spaces_vocab.txt"), "--user-dict",
                 str(DATA / "cail2020_sfzy" / "user_dict.txt"), "--json", "--offsets", "-", "--file", str(texts)])
    assert code == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records[0]["tokens"][1] == "cafe" and records[0]["offsets"][1] == [0, 4]
    assert records[1]["ids"] == [2, 14710, 578, 14709, 14232, 14788, 409, 3]
    assert records[1]["tokens"][4] == "侵权责任纠纷"


def test_tokenize_errors(tmp_path, capsys):
    assert main(["tokenize", "--vocab", str(VOCAB / "wobert_plus_vocab.txt")]) == 2
    assert main(["tokenize", "--vocab", str(tmp_path / "missing.txt"), "x"]) == 1
    assert main(["tokenize", "--model", str(tmp_path / "nothing-here"), "x"]) == 1
    assert "cannot load" in capsys.readouterr().err


def test_default_is_the_shipped_wobert_plus_tokenizer(capsys):
    """With no --model, the shipped copy of the junnyu/wobert_chinese_plus_base tokenizer (spec §8.1 ids)."""
    assert main(["tokenize", "--ids", "我爱北京天安门"]) == 0
    assert capsys.readouterr().out.split() == ["101", "1909", "3101", "11447", "38331", "102"]
