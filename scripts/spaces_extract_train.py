"""SPACES stage C: k-fold extractor training, out-of-fold predictions and threshold selection (SPACES extract_model.py).

    python scripts/spaces_extract_train.py --records work/extract.jsonl --vectors work/vectors.pt --out work/extractor
Writes fold-K/ models, oof.json (per-document probabilities, null where the fold was not trained) and
threshold.json; the last line printed is JSON with the chosen threshold and its out-of-fold char-level main.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch


def main(argv=None) -> int:
    from summarize.training import train_extractor_kfold

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", required=True)
    p.add_argument("--vectors", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--num-folds", type=int, default=15)
    p.add_argument("--folds", default=None, help="comma-separated folds to train (default: all)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--hidden-size", type=int, default=384)
    p.add_argument("--lr", type=float, default=1e-3)
    args = p.parse_args(argv)
    with open(args.records, encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    vectors = torch.load(args.vectors, weights_only=True)
    folds = [int(x) for x in args.folds.split(",")] if args.folds else None
    oof, info = train_extractor_kfold(vectors, records, args.out, num_folds=args.num_folds, folds=folds,
                                      hidden_size=args.hidden_size, epochs=args.epochs,
                                      batch_size=args.batch_size, learning_rate=args.lr)
    out = Path(args.out)
    (out / "oof.json").write_text(json.dumps(oof), encoding="utf-8")
    (out / "threshold.json").write_text(json.dumps(info), encoding="utf-8")
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
