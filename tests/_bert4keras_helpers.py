"""Shared bits of the bert4keras fixture tests (fixtures made by tests/fixtures/bert4keras/make_fixtures.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "bert4keras"
CASES = ["bert_encoder", "bert_bare", "bert_lm", "bert_unilm", "nezha_encoder", "nezha_lm", "nezha_unilm"]
DECODE_CASES = [c for c in CASES if (FIXTURES / c / "decode.json").is_file()]
SOURCES = ["checkpoint", "weights"]
ATTENTION = {"lm": "causal", "unilm": "unilm", "encoder": None, "bare": None}
# a 48-token vocab for the layout tests (the fixtures' vocab_size): specials, then characters
CHARS = "你我他好的是了不在有人这个们中来上大为和国地到以说时要就出会可也天气很今想去公园玩吃饭爱"
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(dict.fromkeys(CHARS))[:43]


def outputs(case: str) -> dict:
    with np.load(FIXTURES / case / "outputs.npz") as f:
        return dict(f)


def decode_record(case: str) -> dict:
    return json.loads((FIXTURES / case / "decode.json").read_text())


def source_path(case: str, source: str, root: Path = FIXTURES) -> Path:
    """The folder (TF checkpoint) or the HDF5 file of a fixture case."""
    return root / case if source == "checkpoint" else root / case / "best_model.weights"


def attention(case: str) -> str | None:
    return ATTENTION[case.split("_")[1]]


def copy_case(case: str, dst: Path, keep_weights: bool = False) -> Path:
    """A copy of a fixture folder without the recorded outputs (and, unless asked, without the HDF5 file)."""
    dst.mkdir(parents=True, exist_ok=True)
    for p in (FIXTURES / case).iterdir():
        if p.name in ("outputs.npz", "decode.json") or (p.name == "best_model.weights" and not keep_weights):
            continue
        shutil.copyfile(p, dst / p.name)
    return dst


def write_vocab(folder: Path) -> Path:
    assert len(VOCAB) == 48
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return folder / "vocab.txt"
