"""Assemble a Summarizer pipeline folder from trained stages.

    python scripts/spaces_make_pipeline.py --generator work/generator --extractor work/extractor/fold-0 \
        --threshold-file work/extractor/threshold.json --out summarize/models/default
--encoder: the clause encoder the extractor was trained on (default: the generator's own backbone).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main(argv=None) -> int:
    from summarize.extractor import ClauseExtractor
    from summarize.generator import SpacesForSummary
    from summarize.pipeline import Summarizer
    from summarize.vocab import word_tokenizer

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generator", required=True)
    p.add_argument("--extractor", default=None)
    p.add_argument("--encoder", default=None)
    p.add_argument("--threshold", type=float, default=None)
    p.add_argument("--threshold-file", default=None)
    p.add_argument("--num-beams", type=int, default=1)
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--max-source-tokens", type=int, default=512)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    threshold = args.threshold
    if threshold is None and args.threshold_file:
        threshold = json.loads(Path(args.threshold_file).read_text(encoding="utf-8"))["threshold"]
    generator = SpacesForSummary.from_pretrained(args.generator)
    extractor = ClauseExtractor.from_pretrained(args.extractor) if args.extractor else None
    encoder = encoder_tokenizer = None
    if args.encoder:
        from spaces_extract_vectorize import load_encoder

        encoder, encoder_tokenizer = load_encoder(args.encoder)
    summarizer = Summarizer(generator, word_tokenizer(Path(args.generator) / "vocab.txt"), extractor, encoder,
                            encoder_tokenizer, threshold=threshold, num_beams=args.num_beams,
                            max_new_tokens=args.max_new_tokens, max_source_tokens=args.max_source_tokens)
    summarizer.save_pretrained(args.out)
    print(json.dumps({"out": args.out, "threshold": summarizer.threshold}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
