"""LCCC readers: JSON arrays / JSON lines of dialogs (utterances with characters or words separated by spaces),
the CDial-GPT toy ``{"train": [...], "valid": [...], "test": [...]}`` file and ``post<TAB>response`` text files."""

from __future__ import annotations

import json
import random
from pathlib import Path

from dialog.formats import DialogInputError, clean_utterance

Dialog = list[str]


def _as_dialog(item: object, where: str) -> Dialog:
    if not isinstance(item, list) or not all(isinstance(u, str) for u in item):
        raise DialogInputError(f"{where}: a dialog must be a JSON list of strings")
    return [clean_utterance(u) for u in item]


def _read_json(path: Path, split: str | None) -> list[Dialog]:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if data is None or (isinstance(data, list) and data and isinstance(data[0], str)):
        return [_as_dialog(json.loads(line), f"{path}:{i}")
                for i, line in enumerate(text.splitlines(), 1) if line.strip()]
    if isinstance(data, dict):
        if split is None or split not in data:
            raise DialogInputError(f"{path} holds splits {sorted(data)}; choose one with split=")
        data = data[split]
    if not isinstance(data, list):
        raise DialogInputError(f"{path}: expected a JSON list of dialogs")
    return [_as_dialog(item, f"{path}[{i}]") for i, item in enumerate(data)]


def _read_pairs(path: Path) -> list[Dialog]:
    dialogs = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) < 2:
                raise DialogInputError(f"{path}:{i}: expected utterances separated by tabs")
            dialogs.append([clean_utterance(p) for p in parts])
    return dialogs


def read_dialogs(path: str | Path, split: str | None = None, limit: int | None = None) -> list[Dialog]:
    """Read dialogs (lists of utterances, oldest first, spaces of the character-split text removed)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no dialog file at {path}")
    dialogs = _read_json(path, split) if path.suffix in (".json", ".jsonl") else _read_pairs(path)
    dialogs = [d for d in dialogs if d]
    return dialogs[:limit] if limit is not None else dialogs


def split_dev(dialogs: list[Dialog], dev_size: int, seed: int = 0) -> tuple[list[Dialog], list[Dialog]]:
    """Deterministic (train, dev) split: a seeded shuffle of indices, the first ``dev_size`` go to dev."""
    if not 0 <= dev_size <= len(dialogs):
        raise ValueError(f"dev_size {dev_size} out of range for {len(dialogs)} dialogs")
    order = list(range(len(dialogs)))
    random.Random(seed).shuffle(order)
    dev_ids = set(order[:dev_size])
    train = [d for i, d in enumerate(dialogs) if i not in dev_ids]
    dev = [dialogs[i] for i in sorted(dev_ids)]
    return train, dev
