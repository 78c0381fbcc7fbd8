"""`zoo chat`: interactive multi-turn chat with streamed replies, or one reply for scripts (`--once`).

Interactive lines starting with "/" are commands and never reach the model (`/help` lists them); "//" sends a
line that starts with "/". Ctrl-D ends the session; Ctrl-C during a reply cancels that reply, at the prompt it
ends the session (exit code 130)."""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import sys
import threading

from nlpzoo.console import (CLIError, Report, UsageError, add_common_arguments, decode, read_source,
                            require_text, stdin_is_interactive)

COMMANDS = {
    "/help": "list these commands",
    "/reset": "start a new conversation",
    "/quit": "leave (also /exit, Ctrl-D)",
}
HELP_LINE = "type a message; /help lists the commands, /quit (or Ctrl-D) exits"


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
    add_common_arguments(parser)


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
            raise CLIError(f"history looks like JSON but does not parse: {err}") from None
        if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
            raise CLIError("a JSON history must be a list of strings")
        return turns
    return [line for line in text.splitlines() if line.strip()]


def read_history(args, stdin=None) -> list[str]:
    """History for --once: arguments, else --file, else stdin."""
    if args.turns and args.turns != ["-"]:
        return require_text(list(args.turns), "turn")
    source = args.file if args.file and args.file != "-" else "-"
    return require_text(_parse_history(read_source(source, args.encoding, stdin)), "history")


def dropped_turns(bot, history: list[str], opts: dict) -> int:
    """How many of the oldest turns do not fit the model next to the reply (the bot drops them)."""
    budget = bot.max_length - bot.options(**opts)["max_new_tokens"]
    return len(history) - len(bot.format.truncate_history(history, budget))


def _once(bot, args, history: list[str]) -> int:
    opts = _options(args)
    report = Report("chat", quiet=args.quiet, chinese_only="the chat model")
    checks = report.check(history[-1], bot.tokenizer)
    dropped = dropped_turns(bot, history, opts)
    report.truncated("history turns", dropped)
    reply = bot.reply(history, **opts)
    if args.json:
        print(json.dumps({"history": history, "reply": reply, "family": bot.family, "truncated_turns": dropped,
                          **checks}, ensure_ascii=False))
    else:
        print(reply)
    report.flush()
    return 0


def _read_line(prompt: str, encoding: str) -> str:
    if prompt and hasattr(signal, "set_wakeup_fd") and threading.current_thread() is threading.main_thread():
        return _read_terminal_line(prompt, encoding)
    try:
        return input(prompt)
    except UnicodeDecodeError as err:
        decode(err.object, "stdin", encoding)  # raises the one-line error naming the byte offset
        raise


def _read_terminal_line(prompt: str, encoding: str) -> str:
    """One line from the terminal (its own line editing), interruptible at any moment.

    `input()` blocks in read(2): a Ctrl-C that lands between printing the prompt and entering read() is noted
    but never acted on, and the prompt hangs. Here the wait is a select() on the terminal and on Python's signal
    wake-up pipe, so Ctrl-C always raises KeyboardInterrupt and Ctrl-D at an empty line raises EOFError."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    previous = signal.set_wakeup_fd(wake_w)
    fd, line = sys.stdin.fileno(), b""
    try:
        sys.stdout.write(prompt)
        sys.stdout.flush()
        while not line.endswith(b"\n"):
            ready = select.select([fd, wake_r], [], [])[0]
            if wake_r in ready:
                os.read(wake_r, 64)  # the signal's Python handler runs as soon as this returns
                continue
            chunk = os.read(fd, 4096)
            if not chunk and not line:
                raise EOFError
            if not chunk:
                break
            line += chunk
    finally:
        signal.set_wakeup_fd(previous)
        os.close(wake_r)
        os.close(wake_w)
    return decode(line, "stdin", encoding).rstrip("\r\n")


def _command(line: str, say) -> str | None:
    """Handle a /command; returns "quit", "reset" or None (handled here, or unknown: not sent to the model)."""
    word = line.split()[0]
    if word in ("/quit", "/exit"):
        return "quit"
    if word == "/reset":
        say("(new conversation)")
        return "reset"
    if word == "/help":
        for name, text in COMMANDS.items():
            say(f"  {name:7} {text}")
        say("  a line starting with // sends the rest with one /")
        return None
    say(f"unknown command {word}; /help lists the commands (start with // to send a line beginning with /)")
    return None


def _interactive(bot, args) -> int:
    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    if args.encoding.lower().replace("_", "-") not in ("utf-8", "utf8") and hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(encoding=args.encoding, errors="strict")
    say(f"zoo chat ({bot.family}) - {HELP_LINE}")
    prompt = "> " if stdin_is_interactive() else ""
    history: list[str] = []
    opts = _options(args)
    report = Report("chat", quiet=args.quiet, chinese_only="the chat model")
    warned = False
    while True:
        try:
            line = _read_line(prompt, args.encoding)
        except EOFError:
            say("")
            return 0
        text = line.strip()
        if text.startswith("/") and not text.startswith("//"):
            action = _command(text, say)
            if action == "quit":
                return 0
            if action == "reset":
                history = []
            continue
        if not text:
            continue
        line = line.lstrip()[1:] if text.startswith("//") else line
        report.check(line, bot.tokenizer)
        if not warned and (report.ood_inputs or report.foreign_inputs):
            warned = True
            report.flush()
        history.append(line)
        if dropped_turns(bot, history, opts) and not report.truncations:
            report.truncated("history turns", 1)
            say("(the conversation no longer fits the model: the oldest turns are left out from now on)")
        pieces = []
        try:
            for piece in bot.stream(history, **opts):
                pieces.append(piece)
                print(piece, end="", flush=True)
        except KeyboardInterrupt:
            print(flush=True)
            say("(reply cancelled)")
            history.pop()
            continue
        print(flush=True)
        history.append("".join(pieces))
        if opts.get("seed") is not None:
            opts["seed"] += 1


def run(args) -> int:
    from dialog.chatbot import ChatBot
    from dialog.formats import DialogInputError

    if args.max_new_tokens is not None and args.max_new_tokens < 1:
        raise UsageError("--max-new-tokens must be >= 1")
    oneshot = args.once or args.turns or args.file
    history = read_history(args) if oneshot else None  # before loading the model: bad input fails fast
    try:
        bot = ChatBot.from_pretrained(args.model, device=args.device)
    except (OSError, ValueError) as err:
        raise CLIError(f"cannot load the chat model: {err}") from None
    try:
        return _once(bot, args, history) if oneshot else _interactive(bot, args)
    except DialogInputError as err:
        raise CLIError(str(err)) from None
