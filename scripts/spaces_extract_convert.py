"""SPACES stage A: split documents into clauses and label the oracle extract (SPACES extract_convert.py).

    python scripts/spaces_extract_convert.py --data ../shared/data/cail2020_sfzy/train.json --out work/extract.jsonl
Writes one JSON line per document {"clauses", "labels", "summary", "oracle_main"} and prints the mean oracle
word-level main metric as the last line (JSON).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from summarize.data import read_pairs
from summarize.training import oracle_records

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(SHARED / "data" / "cail2020_sfzy" / "train.json"))
    p.add_argument("--out", required=True)
    p.add_argument("--limit", type=int, default=None)
    args = p.parse_args(argv)
    records = oracle_records(read_pairs(args.data, args.limit))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    mean = sum(r["oracle_main"] for r in records) / max(len(records), 1)
    print(json.dumps({"documents": len(records), "oracle_word_main": round(mean, 6)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
