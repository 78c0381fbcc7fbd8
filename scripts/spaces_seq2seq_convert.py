"""SPACES stage D: seq2seq data from out-of-fold extractions (SPACES seq2seq_convert.py).

    python scripts/spaces_seq2seq_convert.py --records work/extract.jsonl --extractor work/extractor --out work/seq2seq.jsonl
Each line: {"source_1": predicted extract, "source_2": oracle extract, "target": summary}.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from summarize.training import seq2seq_records


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", required=True)
    p.add_argument("--extractor", required=True, help="folder with oof.json and threshold.json (stage C)")
    p.add_argument("--threshold", type=float, default=None, help="default: the selected one")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    with open(args.records, encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    folder = Path(args.extractor)
    oof = json.loads((folder / "oof.json").read_text(encoding="utf-8"))
    threshold = args.threshold
    if threshold is None:
        threshold = json.loads((folder / "threshold.json").read_text(encoding="utf-8"))["threshold"]
    data = seq2seq_records(records, oof, threshold)
    with open(args.out, "w", encoding="utf-8") as f:
        for d in data:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    print(json.dumps({"documents": len(data), "threshold": threshold}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
