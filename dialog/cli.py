"""`zoo chat`: interactive multi-turn chat with streamed replies, or one reply for scripts (`--once`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP_LINE = "type a message; /reset starts a new conversation, /quit (or Ctrl-D) exits"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("turns", nargs="*", help="history for --once, oldest first ('-' reads stdin)")
    parser.add_argument("--model", default=None, help="model folder or hub id (default: the shipped model)")
    parser.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda")
    parser.add_argument("--once", action="store_true",
                        help="reply once to the history given as arguments, a --file or stdin, then exit")
    parser.add_argument("--file", default=None,
                        help="history file: a JSON list of turns, or one turn per line ('-' = stdin)")
    parser.add_argument("--json", action="store_true", help="print a JSON object instead of plain text")
    parser.add_argument("--seed", type=int, default=None, help="seed for reproducible sampled replies")
    parser.add_argument("--max-new-tokens", type=int, default=None)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--greedy", action="store_true", help="greedy decoding instead of the family's sampling")


def _options(args) -> dict:
    opts = {"seed": args.seed, "max_new_tokens": args.max_new_tokens, "temperature": args.temperature}
    if args.top_k is not None:
        opts["top_k"] = args.top_k
    if args.top_p is not None:
        opts["top_p"] = args.top_p
    if args.greedy:
        opts["do_sample"] = False
    return {k: v for k, v in opts.items() if v is not None or k in ("top_k", "top_p")}


def _parse_history(text: str) -> list[str]:
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            turns = json.loads(stripped)
        except json.JSONDecodeError as err:
            raise ValueError(f"history looks like JSON but does not parse: {err}") from None
        if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
            raise ValueError("a JSON history must be a list of strings")
        return turns
    return [line for line in text.splitlines() if line.strip()]


def read_history(args, stdin=None) -> list[str]:
    """History for --once: arguments, else --file, else stdin."""
    stdin = stdin or sys.stdin
    if args.turns and args.turns != ["-"]:
        return list(args.turns)
    if args.file and args.file != "-":
        return _parse_history(Path(args.file).read_text(encoding="utf-8"))
    return _parse_history(stdin.read())


def _once(bot, args) -> int:
    history = read_history(args)
    reply = bot.reply(history, **_options(args))
    if args.json:
        print(json.dumps({"history": history, "reply": reply, "family": bot.family}, ensure_ascii=False))
    else:
        print(reply)
    return 0


def _interactive(bot, args) -> int:
    print(f"zoo chat ({bot.family}) - {HELP_LINE}", file=sys.stderr)
    history: list[str] = []
    opts = _options(args)
    while True:
        try:
            line = input("> ")
        except EOFError:
            print(file=sys.stderr)
            return 0
        command = line.strip()
        if command in ("/quit", "/exit"):
            return 0
        if command == "/reset":
            history = []
            print("(new conversation)", file=sys.stderr)
            continue
        if not command:
            continue
        history.append(line)
        pieces = []
        for piece in bot.stream(history, **opts):
            pieces.append(piece)
            print(piece, end="", flush=True)
        print()
        history.append("".join(pieces))
        if opts.get("seed") is not None:
            opts["seed"] += 1


def run(args) -> int:
    from dialog.chatbot import ChatBot
    from dialog.formats import DialogInputError

    try:
        bot = ChatBot.from_pretrained(args.model, device=args.device)
        if args.once or args.turns or args.file:
            return _once(bot, args)
        return _interactive(bot, args)
    except (DialogInputError, ValueError, FileNotFoundError, OSError) as err:
        print(f"zoo chat: error: {err}", file=sys.stderr)
        return 2
