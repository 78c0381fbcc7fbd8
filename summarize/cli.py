"""`zoo summarize`: summarise a document given as an argument, a file or stdin (one document, or one per line
with --lines; JSON Lines {"text": ...} records are accepted too)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="?", default=None, help="document text ('-' or nothing reads stdin)")
    parser.add_argument("--file", default=None, help="read the document(s) from this file ('-' = stdin)")
    parser.add_argument("--lines", action="store_true", help="one document per input line")
    parser.add_argument("--model", default=None, help="pipeline folder (default: the shipped pipeline)")
    parser.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda")
    parser.add_argument("--json", action="store_true", help="print one JSON object per document")
    parser.add_argument("--num-beams", type=int, default=None)
    parser.add_argument("--max-new-tokens", type=int, default=None)
    parser.add_argument("--min-new-tokens", type=int, default=None)
    parser.add_argument("--no-copy", action="store_true", help="decode without the copy constraint")
    parser.add_argument("--repetition-penalty", type=float, default=None)
    parser.add_argument("--no-repeat-ngram-size", type=int, default=None)
    parser.add_argument("--show-extract", action="store_true", help="also print the extracted clauses")


def _documents(args, stdin=None) -> list[str]:
    if args.text not in (None, "-"):
        raw = args.text
    elif args.file not in (None, "-"):
        raw = Path(args.file).read_text(encoding="utf-8")
    else:
        raw = (stdin or sys.stdin).read()
    if not args.lines:
        return [raw]
    docs = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            record = json.loads(line)
            text = record.get("text")
            if isinstance(text, list):  # CAIL2020 layout: [{"sentence": ...}, ...]
                text = "\n".join(s["sentence"] for s in text)
            if not isinstance(text, str):
                raise ValueError("a JSON line needs a 'text' field")
            docs.append(text)
        else:
            docs.append(line)
    return docs


def _options(args) -> dict:
    opts = {"num_beams": args.num_beams, "max_new_tokens": args.max_new_tokens, "min_new_tokens": args.min_new_tokens,
            "repetition_penalty": args.repetition_penalty, "no_repeat_ngram_size": args.no_repeat_ngram_size}
    if args.no_copy:
        opts["copy"] = False
    return {k: v for k, v in opts.items() if v is not None}


def run(args) -> int:
    from .pipeline import SummarizeError, Summarizer

    try:
        docs = _documents(args)
    except (OSError, ValueError) as err:
        print(f"zoo summarize: {err}", file=sys.stderr)
        return 2
    try:
        summarizer = Summarizer.from_pretrained(args.model, device=args.device)
    except FileNotFoundError as err:
        print(f"zoo summarize: {err}", file=sys.stderr)
        return 2
    status = 0
    for doc in docs:
        try:
            extraction = summarizer.extract(doc)
            summary = summarizer.generate([extraction.extract], **_options(args))[0]
        except (SummarizeError, ValueError, TypeError) as err:
            print(f"zoo summarize: {err}", file=sys.stderr)
            status = 1
            if args.json:
                print(json.dumps({"summary": None, "error": str(err)}, ensure_ascii=False))
            continue
        if args.json:
            record = {"summary": summary, "clauses": len(extraction.clauses)}
            if args.show_extract:
                record["extract"] = extraction.extract
            print(json.dumps(record, ensure_ascii=False))
        else:
            if args.show_extract:
                print(f"[extract] {extraction.extract}")
            print(summary)
    return status
