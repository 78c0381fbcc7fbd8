"""``zoo tokenize``: WoBERT word-level tokenization of texts from arguments, a file or stdin.

    zoo tokenize "今天天气很好，我想去公园玩。"          # the shipped WoBERT-Plus tokenizer
    zoo tokenize --model junnyu/wobert_chinese_plus_base "今天天气很好"
    zoo tokenize --vocab vocab.txt --json --offsets - < texts.txt
"""

from __future__ import annotations

import argparse
import json
import sys



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


def _texts(args) -> list[str]:
    texts: list[str] = []
    for text in args.texts:
        if text == "-":
            texts.extend(line.rstrip("\n") for line in sys.stdin)
        else:
            texts.append(text)
    if args.file:
        with open(args.file, encoding="utf-8") as f:
            texts.extend(line.rstrip("\n") for line in f)
    return texts


def _tokenizer(args):
    from wobert.tokenization import WoBertTokenizer

    if args.vocab:
        return WoBertTokenizer(args.vocab, user_dict_file=args.user_dict)
    kwargs = {"user_dict_file": args.user_dict} if args.user_dict else {}
    if args.model is None:
        from wobert import default_tokenizer_path

        return WoBertTokenizer.from_pretrained(default_tokenizer_path(), **kwargs)
    return WoBertTokenizer.from_pretrained(args.model, **kwargs)


def run(args) -> int:
    texts = _texts(args)
    if not texts:
        print("zoo tokenize: no input text (give texts, '-' for stdin, or --file)", file=sys.stderr)
        return 2
    if args.maxlen is not None and args.maxlen < 2:
        print("zoo tokenize: --maxlen must be >= 2", file=sys.stderr)
        return 2
    try:
        tok = _tokenizer(args)
    except (OSError, ValueError) as err:
        print(f"zoo tokenize: cannot load the tokenizer: {err}", file=sys.stderr)
        return 1
    for text in texts:
        enc = tok(text, truncation=args.maxlen is not None, max_length=args.maxlen, return_offsets_mapping=True,
                  split_special_tokens=True)
        ids, offsets = enc["input_ids"], enc["offset_mapping"]
        tokens = tok.convert_ids_to_tokens(ids)
        if args.json:
            record = {"text": text, "tokens": tokens, "ids": ids}
            if args.offsets:
                record["offsets"] = [list(o) for o in offsets]
            print(json.dumps(record, ensure_ascii=False))
            continue
        shown = [str(i) for i in ids] if args.ids else tokens
        if args.offsets:
            shown = [f"{s}@{a}:{b}" for s, (a, b) in zip(shown, offsets)]
        print(" ".join(shown))
    return 0
