"""Evaluate sentence vectors (optionally BERT-whitened) on STS data: Spearman per split and averaged.

    python scripts/eval_sts.py --data ../shared/data/sts_en/stsb_dev.tsv --pooling mean --normalize \
        --k 0 64 128 256 384 --regularization 0

Prints a markdown table (Spearman x 100) and ends with one JSON line of metrics.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from whitening.defaults import default_model
from whitening.encoder import POOLINGS, SentenceEncoder
from whitening.sts import evaluate_sts, load_sts, results_table


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", nargs="+", required=True, help="STS files or folders (every split is evaluated)")
    p.add_argument("--model", default=None, help="encoder folder or hub id (default: all-MiniLM-L6-v2)")
    p.add_argument("--pooling", choices=POOLINGS, default=None)
    p.add_argument("--normalize", action="store_true", help="L2-normalise pooled vectors before whitening")
    p.add_argument("--k", type=int, nargs="+", default=[0, 256], help="whitened dims; 0 = none, -1 = all")
    p.add_argument("--fit", nargs="+", default=["target"],
                   help="'target' (fit on the evaluated sentences) or STS files/folders to fit on instead")
    p.add_argument("--regularization", type=float, default=0.0, help="Whitening ridge (needed for singular fits)")
    p.add_argument("--max-length", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--limit", type=int, default=None, help="use only the first N pairs of each split")
    p.add_argument("--device", default=None)
    p.add_argument("--encoder", choices=["zoo", "sentence-transformers"], default="zoo",
                   help="embed with whitening.SentenceEncoder (default) or sentence-transformers' encode, to compare")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    splits = load_sts(args.data)
    if args.limit:
        splits = [s.head(args.limit) for s in splits]
    fit = "target"
    if args.fit != ["target"]:
        fit = [t for s in load_sts(args.fit) for t in (*s.sentences1, *s.sentences2)]
    encoder = SentenceEncoder(args.model or default_model(), pooling=args.pooling, max_length=args.max_length,
                              device=args.device)
    if args.encoder == "zoo":
        def embed(texts):
            return encoder.encode(texts, batch_size=args.batch_size, normalize=args.normalize)
    else:  # the model folder's own sentence-transformers pipeline (its pooling and normalization)
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(str(args.model or default_model()), device=args.device)

        def embed(texts):
            return st.encode(texts, batch_size=args.batch_size, normalize_embeddings=args.normalize)
    start = time.perf_counter()
    results = evaluate_sts(embed, splits, n_components=args.k, fit=fit, regularization=args.regularization)
    print(f"model {args.model or 'all-MiniLM-L6-v2'}, encoder {args.encoder}, pooling {encoder.pooling}, fit "
          f"{'target' if fit == 'target' else ' '.join(args.fit)}, Spearman x 100\n")
    print(results_table(results))
    metrics = {key: r if "error" in r else {"average": r["average"], "weighted_average": r["weighted_average"],
                                            **r["per_split"]}
               for key, r in results.items() if key.startswith("k=")}
    for key, r in metrics.items():
        if "error" in r:
            print(f"{key}: {r['error']}")
    print(json.dumps({"encoder": args.encoder, "pooling": encoder.pooling,
                      "fit": "target" if fit == "target" else args.fit,
                      "seconds": round(time.perf_counter() - start, 1), "sizes": results["sizes"],
                      "metrics": metrics}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
