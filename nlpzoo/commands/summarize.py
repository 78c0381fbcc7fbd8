"""`zoo summarize`: summarise a document given as an argument, a file or stdin (one document, or one per line
with --lines; JSON Lines {"text": ...} records are accepted too)."""

from __future__ import annotations

import argparse
import json
import sys

from nlpzoo.console import (CLIError, Report, UsageError, add_common_arguments, print_json, read_source,
                            require_text, show_progress)


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
    add_common_arguments(parser)


def _record_text(line: str, lineno: int) -> str:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise CLIError(f"line {lineno} looks like JSON but does not parse: {err}") from None
    text = record.get("text") if isinstance(record, dict) else None
    if isinstance(text, list):  # CAIL2020 layout: [{"sentence": ...}, ...]
        text = "\n".join(s.get("sentence", "") if isinstance(s, dict) else str(s) for s in text)
    if not isinstance(text, str):
        raise CLIError(f"line {lineno}: a JSON line needs a 'text' field")
    return text


def _documents(args, stdin=None) -> list[str]:
    if args.text is not None and args.file is not None:
        raise UsageError("give the document as an argument or with --file, not both")
    if args.text not in (None, "-"):
        raw = args.text
    else:
        raw = read_source(args.file or "-", args.encoding, stdin)
    if not args.lines:
        return require_text([raw], "document")
    docs = []
    for lineno, line in enumerate(raw.splitlines(), 1):
        if line.strip():
            docs.append(_record_text(line, lineno) if line.lstrip().startswith("{") else line)
    return require_text(docs, "document")


def _options(args) -> dict:
    opts = {"num_beams": args.num_beams, "max_new_tokens": args.max_new_tokens, "min_new_tokens": args.min_new_tokens,
            "repetition_penalty": args.repetition_penalty, "no_repeat_ngram_size": args.no_repeat_ngram_size}
    if args.no_copy:
        opts["copy"] = False
    return {k: v for k, v in opts.items() if v is not None}


def source_budget(summarizer, opts: dict) -> int:
    """Source tokens the generator reads ([CLS] and [SEP] included), as `Summarizer.generate` cuts them."""
    merged = {**summarizer.options, **opts}
    budget = int(merged["max_source_tokens"])
    config = summarizer.generator.config
    if config.position_embedding_type == "absolute":
        budget = min(budget, config.max_position_embeddings - int(merged["max_new_tokens"]) - 1)
    return budget


def _summarize(summarizer, doc: str, opts: dict, report: Report) -> dict:
    from summarize.extract import split_clauses

    extraction = summarizer.extract(doc)
    clauses_cut = len([c for c in split_clauses(doc, None) if c]) - len(extraction.clauses)
    tokens_cut = max(len(summarizer.tokenizer.encode(extraction.extract)[0]) - source_budget(summarizer, opts), 0)
    report.truncated("clauses", clauses_cut)
    report.truncated("source tokens", tokens_cut)
    summary = summarizer.generate([extraction.extract], **opts)[0]
    return {"summary": summary, "clauses": len(extraction.clauses), "extract": extraction.extract,
            "truncated_clauses": clauses_cut, "truncated_tokens": tokens_cut}


def run(args) -> int:
    from tqdm.auto import tqdm

    docs = _documents(args)
    from summarize.pipeline import SummarizeError, Summarizer

    try:
        summarizer = Summarizer.from_pretrained(args.model, device=args.device)
    except (OSError, ValueError) as err:
        raise CLIError(f"cannot load the summarization pipeline: {err}") from None
    opts = _options(args)
    report = Report("summarize", quiet=args.quiet, chinese_only="the summarization pipeline")
    status = 0
    quiet_bar = not show_progress(args) or (len(docs) < 2 and not args.progress)
    bar = tqdm(docs, desc="summarize", unit="doc", disable=quiet_bar)
    for index, doc in enumerate(bar, 1):
        checks = report.check(doc, summarizer.tokenizer)
        try:
            record = _summarize(summarizer, doc, opts, report)
        except (SummarizeError, ValueError, TypeError) as err:
            if len(docs) == 1:
                raise CLIError(str(err)) from None
            print(f"zoo summarize: error: document {index}: {err}", file=sys.stderr)
            status = 1
            if args.json:
                print_json({"summary": None, "error": str(err)})
            continue
        if args.json:
            if not args.show_extract:
                record.pop("extract")
            print_json({**record, **checks})
        else:
            if args.show_extract:
                print(f"[extract] {record['extract']}")
            print(record["summary"])
    report.flush()
    return status
