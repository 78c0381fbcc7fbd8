"""Summarisation speed: our KV-cached copy-constrained decoding (zoo.generate + CopyConstraint) against the
original SPACES loop (whole model re-run every step, `summarize.copy.reference_decode`), and our exact ROUGE
against the `rouge` 1.0.1 package it reproduces. Ratios are measured in the same run.

    python benchmarks/bench_summarize.py [--quick]
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"


def _time(fn, repeat: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main(argv=None) -> int:
    import torch

    from summarize.copy import reference_decode
    from summarize.data import read_pairs
    from summarize.generator import SpacesForSummary
    from summarize.metrics import rouge_f
    from summarize.presets import generator_config
    from summarize.pipeline import Summarizer
    from summarize.vocab import word_tokenizer

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(SHARED / "data" / "cail2020_sfzy" / "train.json"))
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    text, summary = read_pairs(args.data, limit=1)[0]
    new_tokens = 32 if args.quick else 128
    hidden, layers = (64, 2) if args.quick else (256, 4)
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
                                         + sorted(set(text + summary) - set(" \n\t\u3000")))}
    tok = word_tokenizer(vocab)
    torch.manual_seed(0)
    model = SpacesForSummary(generator_config(len(vocab), f"{hidden},{layers},4", max_positions=1024)).eval()
    with torch.no_grad():
        model.head.bias[tok.end_id] = -1e4  # never stop early: both sides decode exactly new_tokens
    summarizer = Summarizer(model, tok, max_new_tokens=new_tokens, max_source_tokens=512)
    source = "".join(text.split("\n"))[-600:]
    prompt = tok.encode(source, maxlen=512)[0]
    repeat = 1 if args.quick else 3
    ours = _time(lambda: summarizer.generate([source]), repeat)
    original = _time(lambda: reference_decode(model, prompt, tok.start_id, tok.end_id, new_tokens), repeat)
    same = summarizer.generate([source])[0] == tok.decode(reference_decode(model, prompt, tok.start_id,
                                                                            tok.end_id, new_tokens))
    rows = [("copy-constrained decoding, 1 doc, %d new tokens (prompt %d)" % (new_tokens, len(prompt)),
             "SPACES loop without cache", original, ours, same)]
    try:
        import rouge as rouge_pkg

        hyp, ref = " ".join(summary[: len(summary) // 2]), " ".join(summary)
        pkg = rouge_pkg.Rouge()
        n = 3 if args.quick else 20
        theirs = _time(lambda: pkg.get_scores(hyp, ref), n)
        mine = _time(lambda: rouge_f(hyp, ref), n)
        equal = abs(pkg.get_scores(hyp, ref)[0]["rouge-l"]["f"] - rouge_f(hyp, ref)["rouge-l"]) < 1e-12
        rows.append(("char ROUGE-1/2/L of a %d-char summary" % len(summary), "rouge 1.0.1", theirs, mine, equal))
    except ImportError:
        pass
    print("| task | baseline | baseline s | ours s | speed-up | same output |")
    print("|---|---|---|---|---|---|")
    for task, base, b, o, s in rows:
        print(f"| {task} | {base} | {b:.3f} | {o:.3f} | {b / o:.1f}x | {s} |")
    print(json.dumps({"model": f"hidden {hidden}, {layers} layers", "threads": args.threads,
                      "torch": torch.__version__}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
