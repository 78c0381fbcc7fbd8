"""Evaluate a dialog model: perplexity of reference responses, BLEU-2/4 and distinct-1/2 of sampled replies.

Usage: python scripts/eval_dialog.py --data ../shared/data/lccc/LCCC-base_valid.json [--model PATH] [--limit 500]
Each dialog's last utterance is the reference, the earlier ones the history. Progress goes to stderr; the last
stdout line is one JSON object of metrics."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from dialog.presets import add_decoding_arguments, decoding_options

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / ".." / "shared" / "data" / "lccc" / "LCCC-base_valid.json"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(DEFAULT_DATA), help="dialog file (LCCC JSON, JSON lines or TSV pairs)")
    p.add_argument("--split", default=None, help="split of a {train, valid, test} JSON file")
    p.add_argument("--model", default=None, help="model folder or hub id (default: the shipped model)")
    p.add_argument("--limit", type=int, default=None, help="evaluate the first N dialogs")
    p.add_argument("--dev-size", type=int, default=None,
                   help="evaluate the dev slice that train_dialog.py held out with the same --dev-size/--seed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=int, default=1)
    add_decoding_arguments(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    from dialog.chatbot import ChatBot
    from dialog.data import read_dialogs, split_dev
    from dialog.evaluate import evaluate

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    dialogs = read_dialogs(args.data, split=args.split)
    if args.dev_size is not None:
        dialogs = split_dev(dialogs, args.dev_size, seed=args.seed)[1]
    if args.limit is not None:
        dialogs = dialogs[:args.limit]
    bot = ChatBot.from_pretrained(args.model, device=args.device)
    options = decoding_options(args)
    start = time.perf_counter()
    metrics = evaluate(bot, dialogs, batch_size=args.batch_size, seed=args.seed, **options)
    metrics.pop("examples")
    metrics.update(model=str(args.model or "default"), family=bot.family, data=Path(args.data).name,
                   decoding=bot.options(**options),
                   seconds=round(time.perf_counter() - start, 1))
    print(json.dumps(metrics, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
