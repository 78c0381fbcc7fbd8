"""Train the small default SPACES pipeline on CPU from the shared LCSTS data (all stages, our scripts' code).

    python scripts/train_summarize.py --out summarize/models/default --work work/summarize \
        --size 256,4,4 --steps 4000 --threads 2
Stages: A oracle labels on the training pairs; E a small UniLM generator from random weights (source = whole
text or oracle extract, 1/2 each; input noise, copy labels, EMA; full softmax by default, because sparse softmax
collapses to flat logits, loss -> log k, when nothing is pretrained); B clause vectors from the trained
generator's backbone; C k-fold extractor + out-of-fold threshold; then the pipeline folder.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path


SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
EXTRACTOR_HELD_OUT = "extractor_held_out.json"  # {data file name: [record indices fold 0 held out]}


def build_generator(args):
    """(SpacesForSummary, word tokenizer): a base checkpoint's (--base) shape, vocab and weights, or a
    --size model over the SPACES vocab (simplified Chinese BERT vocab + CAIL user-dictionary words), seeded, with
    --init weights if given."""
    import torch

    from summarize.generator import SpacesForSummary
    from summarize.presets import generator_config
    from summarize.vocab import build_spaces_vocab, word_tokenizer
    from zoo.loading import resolve_folder
    from zoo.tokenization import load_vocab

    torch.manual_seed(args.seed)
    if args.base:
        folder = resolve_folder(args.base)
        model = SpacesForSummary.from_pretrained(folder, dtype=torch.float32)
        model.config.attention = "unilm"
        return model, word_tokenizer(load_vocab(folder / "vocab.txt"))
    cail = SHARED / "data" / "cail2020_sfzy"
    vocab, _, _ = build_spaces_vocab(SHARED / "vocab" / "bert_chinese_vocab.txt",
                                     [cail / "user_dict.txt", cail / "user_dict_2.txt"])
    model = SpacesForSummary(generator_config(len(vocab), args.size, args.max_positions, args.positions))
    if args.init:
        from safetensors.torch import load_model

        load_model(model, str(Path(args.init) / "model.safetensors"))
    return model, word_tokenizer(vocab)


def out_of_fold_report(records, probs, threshold: float) -> dict:
    """Out-of-fold extraction of some documents: their char-level main metric against the summary and the share of
    documents whose extract has judgment boilerplate (summarize.metrics.is_boilerplate)."""
    from summarize.metrics import is_boilerplate
    from summarize.training import extract_score

    done = [(r, p) for r, p in zip(records, probs) if p is not None]
    boiler = sum(any(is_boilerplate(c) for c, q in zip(r["clauses"], p) if q > threshold) for r, p in done)
    return {"documents": len(done), "oof_char_main": round(extract_score(*zip(*done), threshold), 4) if done else None,
            "boilerplate_docs": round(boiler / max(len(done), 1), 4)}


def main(argv=None) -> int:
    import torch

    import zoo
    from summarize.data import read_pairs
    from summarize.generator import SpacesForSummary
    from summarize.pipeline import Summarizer
    from summarize.training import (clause_target_records, oracle_records, train_extractor_kfold,
                                    train_generator, vectorize)

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(SHARED / "data" / "lcsts_clge" / "train.tsv"))
    p.add_argument("--out", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--size", default="default",
                   help="generator preset (summarize.presets: tiny, small, default, base) or hidden,layers,heads")
    p.add_argument("--max-positions", type=int, default=256)
    p.add_argument("--positions", default="relative", choices=["relative", "absolute"],
                   help="NEZHA relative positions (as SPACES; any input length) or BERT absolute ones")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--k-sparse", type=int, default=0,
                   help="top-k of the sparse softmax; 0 = full softmax (needed when training from scratch)")
    p.add_argument("--extractor-epochs", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--num-beams", type=int, default=1, help="decoding default stored in the pipeline")
    p.add_argument("--max-new-tokens", type=int, default=32, help="decoding default stored in the pipeline")
    p.add_argument("--min-new-tokens", type=int, default=4, help="decoding default stored in the pipeline")
    p.add_argument("--no-repeat-ngram-size", type=int, default=3, help="decoding default stored in the pipeline")
    p.add_argument("--save-dtype", default="float16", choices=["float16", "float32"],
                   help="precision of the stored generator weights (float16 halves the folder)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--clause-targets", type=float, default=1.0,
                   help="add this fraction (of the pairs) of extractive pairs: text -> its best clause "
                        "(summarize.training.clause_target_records); 0 = none")
    p.add_argument("--init", default=None,
                   help="start stage E from these SpacesForSummary weights (a saved model or a trainer checkpoint "
                        "folder with model.safetensors) instead of random ones")
    p.add_argument("--base", default=None,
                   help="start stage E from this base checkpoint (folder or hub id, e.g. zoo/models/base-zh): its "
                        "shape, vocab and weights; the copy head starts random. Default: random weights over the "
                        "SPACES vocab")
    p.add_argument("--extractor-data", nargs="*", default=[],
                   help="more (text, summary) files whose documents train the extractor only, e.g. "
                        "../shared/data/cail2020_sfzy/train.json so it learns to skip judgment boilerplate; their "
                        "out-of-fold extraction numbers are printed separately")
    p.add_argument("--generator-from", default=None,
                   help="skip stage E and use this trained SpacesForSummary folder (e.g. an interrupted run's weights)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    records = oracle_records(read_pairs(args.data, args.limit))
    print(json.dumps({"stage": "A", "documents": len(records), "seconds": round(time.time() - t0)}), flush=True)

    model, tokenizer = build_generator(args)
    generator_dir = Path(args.generator_from) if args.generator_from else work / "generator"
    if not args.generator_from:
        seq2seq = [{"source_1": "".join(r["clauses"]), "source_2": "".join(r["clauses"][j] for j in r["labels"]),
                    "target": r["summary"]} for r in records]
        if args.clause_targets > 0:
            extra = clause_target_records(records)
            random.Random(args.seed).shuffle(extra)
            seq2seq += extra[:round(args.clause_targets * len(records))]
        targs = zoo.TrainingArguments(output_dir=str(work / "generator-run"), learning_rate=args.lr,
                                      weight_decay=0.01, batch_size=args.batch_size, max_steps=args.steps,
                                      warmup_steps=args.warmup, ema_decay=args.ema, seed=args.seed, log_every=100,
                                      save_every=500, progress_bar=False)
        trainer = train_generator(model, tokenizer, seq2seq, targs, maxlen=args.max_positions - 64,
                                  k_sparse=args.k_sparse or None)
        trainer.save_model(generator_dir)
        print(json.dumps({"stage": "E", "steps": trainer.state.global_step, "seconds": round(time.time() - t0)}),
              flush=True)

    generator = SpacesForSummary.from_pretrained(generator_dir).eval()
    extra = [oracle_records(read_pairs(path)) for path in args.extractor_data]
    documents = records + [r for part in extra for r in part]
    vectors = vectorize(documents, generator.zoo, tokenizer, maxlen=min(512, args.max_positions))
    print(json.dumps({"stage": "B", "seconds": round(time.time() - t0)}), flush=True)
    oof, info = train_extractor_kfold(vectors, documents, work / "extractor", num_folds=args.folds,
                                      hidden_size=generator.config.hidden_size, epochs=args.extractor_epochs,
                                      batch_size=64)
    start, held_out = len(records), {}
    for path, part in zip(args.extractor_data, extra):
        info[Path(path).name] = out_of_fold_report(part, oof[start:start + len(part)], info["threshold"])
        held_out[Path(path).name] = [j for j in range(len(part)) if (start + j) % args.folds == 0]  # fold 0's
        start += len(part)
    (work / "extractor" / "threshold.json").write_text(json.dumps(info), encoding="utf-8")
    print(json.dumps({"stage": "C", **info, "seconds": round(time.time() - t0)}), flush=True)

    from summarize.extractor import ClauseExtractor

    extractor = ClauseExtractor.from_pretrained(work / "extractor" / "fold-0")
    summarizer = Summarizer(generator, tokenizer, extractor, threshold=info["threshold"],
                            max_new_tokens=args.max_new_tokens, min_new_tokens=args.min_new_tokens,
                            max_source_tokens=args.max_positions - args.max_new_tokens - 1, num_beams=args.num_beams,
                            no_repeat_ngram_size=args.no_repeat_ngram_size)
    summarizer.save_pretrained(args.out, generator_dtype=getattr(torch, args.save_dtype))
    if held_out:  # the shipped extractor is fold 0: which --extractor-data documents it never trained on
        (Path(args.out) / EXTRACTOR_HELD_OUT).write_text(json.dumps(held_out) + "\n", encoding="utf-8")
    print(json.dumps({"stage": "done", "out": args.out, "seconds": round(time.time() - t0)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
