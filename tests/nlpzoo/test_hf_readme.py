"""Every Python and shell snippet of README.md is executed, so the README cannot drift from the code.

The substitution rule (also stated in the README): hub ids and placeholders are replaced by tiny local folders and
files of the same layout; names a snippet takes as given are defined here; files are written in a scratch folder
with `../shared` pointing to the shared data; `pip install` and the test-suite command are not run; a command that
holds `...` is a template."""

import contextlib
import io
import re
import shlex
import shutil

import pytest
import torch
from conftest import DATA, REPO, SHARED, VOCAB

README = (REPO / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(python|bash)\n(.*?)```", README, flags=re.S)
PYTHON = [code for lang, code in BLOCKS if lang == "python"]
BASH = [line for lang, code in BLOCKS if lang == "bash" for line in code.splitlines()
        if line.strip() and not line.strip().startswith("#")]


def tiny_bert_layout(folder, vocab_file, mlm=True):
    from transformers import BertConfig, BertForMaskedLM, BertModel

    vocab = vocab_file.read_text(encoding="utf-8").splitlines()
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=128)
    (BertForMaskedLM if mlm else BertModel)(cfg).save_pretrained(folder)
    shutil.copyfile(vocab_file, folder / "vocab.txt")
    return folder


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """Hub id / placeholder -> local stand-in."""
    from _dialog_helpers import openai_gpt_layout

    root = tmp_path_factory.mktemp("readme")
    bert = tiny_bert_layout(root / "bert-base-chinese", VOCAB / "bert_chinese_vocab.txt")
    wobert_folder = tiny_bert_layout(root / "wobert", VOCAB / "wobert_plus_vocab.txt")
    import wobert

    shutil.copyfile(wobert.default_tokenizer_path() / "tokenizer_config.json", wobert_folder / "tokenizer_config.json")
    openai_gpt_layout(root / "cdial")
    from whitening import default_encoder_path

    judgment = root / "judgment.txt"
    judgment.write_text("原告张三与被告李四借款合同纠纷一案，原告诉称被告借款十万元未还，请求判令被告偿还借款本金及利息。"
                        "本院认为，借款事实清楚，被告应当偿还剩余借款。", encoding="utf-8")
    gbk = root / "texts_gbk.txt"
    gbk.write_bytes("今天天气很好\n我想去公园玩\n".encode("gbk"))
    from whitening.sts import read_sts

    corpus = root / "corpus.txt"
    split = read_sts(DATA / "sts_en" / "stsb_dev.tsv").head(200)
    corpus.write_text("\n".join(split.sentences1 + split.sentences2) + "\n", encoding="utf-8")
    return {
        "hfl/chinese-roberta-wwm-ext": bert, "bert-base-chinese": bert,
        "junnyu/wobert_chinese_plus_base": wobert_folder, "thu-coai/CDial-GPT_LCCC-large": root / "cdial",
        "path/or/hub-id": default_encoder_path(),
        "DIR": REPO / "whitening" / "models" / "minilm-stsb-train",
        "PIPELINE": REPO / "summarize" / "models" / "default",
        "judgment.txt": judgment,
        "chinese_wobert_plus_L-12_H-768_A-12": REPO / "tests" / "fixtures" / "bert4keras" / "bert_encoder",
        "wobert-plus-hf": root / "converted",
        "texts_gbk.txt": gbk,
        "corpus.txt": corpus,
        "my-whitening": root / "my-whitening",
    }


def substitute(code: str, local: dict, quoted: bool) -> str:
    for name, path in local.items():
        if quoted:
            code = code.replace(f'"{name}"', repr(str(path)))
        else:
            code = re.sub(rf"(?<![\w/.-]){re.escape(name)}(?![\w/-])", str(path), code)
    return code.replace("../shared/", f"{SHARED}/")


def given_names():
    """Names the snippets take as given."""
    import zoo
    from whitening.sts import read_sts

    torch.manual_seed(0)
    lm = zoo.ZooForLM(zoo.ZooConfig(vocab_size=21128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                    intermediate_size=64, attention="causal")).eval()
    split = read_sts(DATA / "sts_en" / "stsb_dev.tsv").head(300)
    return {
        "input_ids": torch.tensor([[101, 791, 1921, 102]]),
        "segments": torch.zeros(1, 4, dtype=torch.long),
        "mask": torch.ones(1, 4, dtype=torch.long),
        "lm": lm,
        "corpus": split.sentences1 + split.sentences2,
        "text": "原告张三与被告李四借款合同纠纷一案，原告诉称被告借款十万元未还。本院认为，被告应当偿还借款。",
    }


def test_the_readme_has_snippets():
    assert len(PYTHON) >= 7 and any(line.startswith("zoo ") for line in BASH)


@pytest.mark.parametrize("index", range(len(PYTHON)))
def test_python_snippet_runs(index, local, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = substitute(PYTHON[index], local, quoted=True)
    namespace = {"__name__": f"readme_snippet_{index}", **given_names()}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, f"README.md python snippet {index + 1}", "exec"), namespace)


def _commands():
    out = []
    for line in BASH:
        for part in line.split("&&"):
            part = part.split(" #")[0].strip()
            if not part or part.startswith("pip install") or "pytest" in part or "..." in part:
                continue
            out.append(part)
    return out


@pytest.mark.parametrize("command", _commands())
def test_shell_snippet_runs(command, local, tmp_path, monkeypatch):
    from nlpzoo.cli import main

    monkeypatch.chdir(tmp_path)
    argv = shlex.split(substitute(command, local, quoted=False))
    assert argv[0] == "zoo", f"README command not covered by this test: {command}"
    monkeypatch.setattr("sys.stdin", io.StringIO("/quit\n"))
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(argv[1:])
    assert code in (0, None), command
