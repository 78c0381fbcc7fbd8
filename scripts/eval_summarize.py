"""Evaluate a summarisation pipeline: CAIL2020 ROUGE (word and char), repetition, length.

    python scripts/eval_summarize.py --data ../shared/data/lcsts_clge/val.tsv --model summarize/models/default
The last line printed is one JSON object of metrics.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"


def extraction_metrics(summarizer, extractions, is_boilerplate) -> dict:
    """What the extraction stage picked: mean chosen clauses and characters per document, and the share of
    documents whose extract contains judgment header/signature boilerplate (summarize.metrics.is_boilerplate)."""
    chosen, chars, boiler = 0, 0, 0
    for e in extractions:
        picked = [c for c, p in zip(e.clauses, e.probs) if p > summarizer.threshold] or e.clauses
        chosen += len(picked)
        chars += len(e.extract)
        boiler += any(is_boilerplate(c) for c in picked)
    n = max(len(extractions), 1)
    return {"extract_clauses": round(chosen / n, 2), "extract_chars": round(chars / n, 1),
            "boilerplate_docs": round(boiler / n, 4)}


def main(argv=None) -> int:
    import torch

    from summarize import Summarizer, rouge
    from summarize.data import read_pairs
    from summarize.metrics import is_boilerplate, repeated_ngram_rate

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(SHARED / "data" / "cail2020_sfzy" / "train.json"))
    p.add_argument("--model", default=None, help="pipeline folder (default: the shipped one)")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--device", default=None)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--num-beams", type=int, default=None)
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument("--min-new-tokens", type=int, default=None)
    p.add_argument("--no-copy", action="store_true")
    p.add_argument("--no-repeat-ngram-size", type=int, default=None)
    p.add_argument("--repetition-penalty", type=float, default=None)
    p.add_argument("--threshold", type=float, default=None,
                   help="extraction threshold (0: the generator reads the whole text); default: the pipeline's")
    p.add_argument("--outputs", default=None, help="write reference<TAB>prediction lines here")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--lead", type=int, default=None,
                   help="score the lead-N-characters baseline instead of a model (no model is loaded)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    pairs = read_pairs(args.data, args.limit)
    options = {k: v for k, v in {"num_beams": args.num_beams, "max_new_tokens": args.max_new_tokens,
                                 "min_new_tokens": args.min_new_tokens,
                                 "no_repeat_ngram_size": args.no_repeat_ngram_size,
                                 "repetition_penalty": args.repetition_penalty}.items() if v is not None}
    if args.no_copy:
        options["copy"] = False
    start = time.perf_counter()
    extraction = {}
    if args.lead is not None:
        options = {"lead": args.lead}
        predictions = [t.strip()[:args.lead] for t, _ in pairs]
    else:
        summarizer = Summarizer.from_pretrained(args.model, device=args.device)
        if args.threshold is not None:
            summarizer.threshold = args.threshold
        extractions = [summarizer.extract(t) for t, _ in pairs]  # once: for the summaries and the metrics
        predictions = []
        for s in range(0, len(extractions), args.batch_size):
            predictions += summarizer.generate([e.extract for e in extractions[s:s + args.batch_size]], **options)
        options["threshold"] = summarizer.threshold
        if summarizer.extractor is not None and summarizer.threshold > 0:
            extraction = extraction_metrics(summarizer, extractions, is_boilerplate)
    seconds = time.perf_counter() - start
    totals = {"word_main": 0.0, "word_rouge-1": 0.0, "word_rouge-2": 0.0, "word_rouge-l": 0.0,
              "char_main": 0.0, "char_rouge-1": 0.0, "char_rouge-2": 0.0, "char_rouge-l": 0.0,
              "repeated_3gram_rate": 0.0, "pred_chars": 0.0, "empty_rate": 0.0}
    for (_, ref), pred in zip(pairs, predictions):
        for unit in ("word", "char"):
            for k, v in rouge(pred, ref, unit).items():
                totals[f"{unit}_{k}"] += v
        totals["repeated_3gram_rate"] += repeated_ngram_rate(pred, 3)
        totals["pred_chars"] += len(pred)
        totals["empty_rate"] += not pred
    if args.outputs:
        with open(args.outputs, "w", encoding="utf-8") as f:
            for (_, ref), pred in zip(pairs, predictions):
                f.write(f"{ref}\t{pred}\n")
    n = max(len(pairs), 1)
    metrics = {k: round(v / n, 6) for k, v in totals.items()}
    metrics.update(extraction)
    metrics.update(documents=len(pairs), seconds=round(seconds, 2), data=str(args.data), options=options)
    print(json.dumps(metrics, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
