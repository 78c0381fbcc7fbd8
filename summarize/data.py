"""Readers for the summarisation sets used here: CAIL2020 sfzy JSON Lines, LCSTS (CLGE) and CSL TSV files."""

from __future__ import annotations

import json
from pathlib import Path


def read_pairs(path: str | Path, limit: int | None = None) -> list[tuple[str, str]]:
    """(document, summary) pairs from a CAIL2020 ``.json`` (JSON Lines, ``text`` = list of sentences joined
    with "\\n"), an LCSTS ``.tsv`` (``summary \\t text``) or a CSL ``.tsv`` (``prompt \\t abstract \\t title``)."""
    path = Path(path)
    pairs: list[tuple[str, str]] = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if limit is not None and len(pairs) >= limit:
                break
            line = line.rstrip("\n")
            if not line.strip():
                continue
            if path.suffix in (".json", ".jsonl"):
                record = json.loads(line)
                text = record["text"]
                if isinstance(text, list):
                    text = "\n".join(s["sentence"] for s in text)
                pairs.append((text, record["summary"]))
                continue
            fields = line.split("\t")
            if len(fields) == 2:
                pairs.append((fields[1], fields[0]))
            elif len(fields) == 3:
                pairs.append((fields[1], fields[2]))
            else:
                raise ValueError(f"{path}:{n}: expected 2 (LCSTS) or 3 (CSL) tab-separated fields, got {len(fields)}")
    return pairs
