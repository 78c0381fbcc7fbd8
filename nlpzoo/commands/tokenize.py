"""``zoo tokenize``: WoBERT word-level tokenization of texts from arguments, a file or stdin.

    zoo tokenize "今天天气很好，我想去公园玩。"          # the shipped WoBERT-Plus tokenizer
    zoo tokenize --model junnyu/wobert_chinese_plus_base "今天天气很好"
    zoo tokenize --vocab vocab.txt --json --offsets - < texts.txt
"""

from __future__ import annotations

import argparse

from nlpzoo.console import (CLIError, Report, UsageError, add_common_arguments, print_json, read_lines, require_text,
                            show_progress)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("texts", nargs="*", help="texts to tokenize; '-' reads one text per line from stdin")
    parser.add_argument("--model", default=None,
                        help="WoBERT tokenizer: hub id or folder (default: the shipped WoBERT-Plus tokenizer)")
    parser.add_argument("--vocab", help="a vocab.txt to build the tokenizer from (instead of --model)")
    parser.add_argument("--user-dict", help="jieba user dictionary (word [freq] [tag] per line)")
    parser.add_argument("--file", help="read one text per line from this file")
    parser.add_argument("--maxlen", type=int, help="bert4keras truncation to this many tokens")
    parser.add_argument("--ids", action="store_true", help="print token ids instead of tokens")
    parser.add_argument("--offsets", action="store_true", help="add start:end character offsets")
    parser.add_argument("--json", action="store_true", help="one JSON object per text (tokens, ids, offsets)")
    parser.add_argument("--device", default="cpu", help="accepted for uniformity; tokenization runs on the CPU")
    add_common_arguments(parser)


def _texts(args) -> list[str]:
    texts: list[str] = []
    for text in args.texts:
        texts.extend(read_lines("-", args.encoding) if text == "-" else [text])
    if args.file:
        texts.extend(read_lines(args.file, args.encoding))
    return require_text(texts, "text")


def _tokenizer(args):
    from wobert.tokenization import WoBertTokenizer

    try:
        if args.vocab:
            return WoBertTokenizer(args.vocab, user_dict_file=args.user_dict)
        kwargs = {"user_dict_file": args.user_dict} if args.user_dict else {}
        if args.model is None:
            from wobert import default_tokenizer_path

            return WoBertTokenizer.from_pretrained(default_tokenizer_path(), **kwargs)
        return WoBertTokenizer.from_pretrained(args.model, **kwargs)
    except (OSError, ValueError) as err:
        raise CLIError(f"cannot load the tokenizer: {err}") from None


def run(args) -> int:
    if args.maxlen is not None and args.maxlen < 2:
        raise UsageError("--maxlen must be >= 2")
    texts = _texts(args)
    tok = _tokenizer(args)
    report = Report("tokenize", quiet=args.quiet)
    from tqdm.auto import tqdm

    for text in tqdm(texts, desc="tokenize", unit="text", leave=False,
                     disable=not show_progress(args) or (len(texts) < 1000 and not args.progress)):
        checks = report.check(text, tok)
        enc = tok(text, return_offsets_mapping=True, split_special_tokens=True)
        ids, offsets = enc["input_ids"], enc["offset_mapping"]
        dropped = max(len(ids) - args.maxlen, 0) if args.maxlen is not None else 0
        if dropped:
            report.truncated("tokens", dropped)
            enc = tok(text, truncation=True, max_length=args.maxlen, return_offsets_mapping=True,
                      split_special_tokens=True)
            ids, offsets = enc["input_ids"], enc["offset_mapping"]
        tokens = tok.convert_ids_to_tokens(ids)
        if args.json:
            record = {"text": text, "tokens": tokens, "ids": ids, **checks}
            if args.maxlen is not None:
                record["truncated_tokens"] = dropped
            if args.offsets:
                record["offsets"] = [list(o) for o in offsets]
            print_json(record)
            continue
        shown = [str(i) for i in ids] if args.ids else tokens
        if args.offsets:
            shown = [f"{s}@{a}:{b}" for s, (a, b) in zip(shown, offsets)]
        print(" ".join(shown))
    report.flush()
    return 0
