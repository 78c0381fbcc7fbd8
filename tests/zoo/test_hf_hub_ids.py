"""Hub ids: every valid id (with or without owner) is tried once; offline or unreachable gives one clear error that
says how to download it; a name written as a path is a path."""

import time

import huggingface_hub
import pytest
from huggingface_hub import constants

import zoo
from zoo.loading import CheckpointError, looks_like_path, resolve_folder


@pytest.fixture
def calls(monkeypatch):
    """Counts snapshot_download calls (the real function still runs)."""
    real = huggingface_hub.snapshot_download
    seen = []

    def counting(repo_id, **kw):
        seen.append(repo_id)
        return real(repo_id, **kw)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", counting)
    return seen


@pytest.mark.parametrize("name", ["bert-base-chinese", "junnyu/wobert_chinese_plus_base", "gpt2"])
def test_offline_hub_id_is_tried_once_and_says_how_to_download(monkeypatch, calls, name):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(CheckpointError) as info:
        zoo.from_pretrained(name)
    message = str(info.value)
    assert calls == [name]
    assert f"hf download {name}" in message and "HF_HUB_OFFLINE" in message


def test_unreachable_hub_fails_fast_after_one_attempt(monkeypatch, calls):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match="could not be reached") as info:
        zoo.from_pretrained("bert-base-chinese")
    assert time.perf_counter() - start < 30
    assert calls == ["bert-base-chinese"]
    assert "hf download bert-base-chinese" in str(info.value)


def test_wobert_tokenizer_hub_id_offline_fails_once_with_the_download_hint(monkeypatch, calls):
    from wobert import WoBertTokenizer

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    start = time.perf_counter()
    with pytest.raises(ValueError, match="hf download junnyu/wobert_chinese_plus_base"):
        WoBertTokenizer.from_pretrained("junnyu/wobert_chinese_plus_base")
    assert time.perf_counter() - start < 30 and calls == ["junnyu/wobert_chinese_plus_base"]


@pytest.mark.parametrize("name", ["./nope", "../nope/model", "/definitely/not/here", "~/nope", "a/b/c", "nope/",
                                  "C:\\models\\bert"])
def test_a_name_written_as_a_path_is_a_path(calls, name):
    assert looks_like_path(name)
    with pytest.raises(CheckpointError, match="folder not found"):
        resolve_folder(name)
    assert calls == []


@pytest.mark.parametrize("name", ["bert-base-chinese", "owner/name", "hfl/chinese-roberta-wwm-ext", "a.b_c-d"])
def test_valid_ids_are_not_paths(name):
    assert not looks_like_path(name)


@pytest.mark.parametrize("name", ["bad id", "owner/na me", "x" * 200, "a--b"])
def test_invalid_ids_are_rejected_without_a_hub_call(calls, name):
    with pytest.raises(CheckpointError, match="neither an existing folder nor a valid hub id"):
        resolve_folder(name)
    assert calls == []


def test_an_existing_relative_folder_is_used(tmp_path, monkeypatch):
    (tmp_path / "models" / "m").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert resolve_folder("./models/m") == tmp_path.joinpath("models", "m").relative_to(tmp_path)
    assert resolve_folder("models/m").is_dir()
