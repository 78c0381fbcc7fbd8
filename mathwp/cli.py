"""`zoo solve`: solve Chinese math word problems from arguments, stdin (`-`) or a file (one question per line)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("questions", nargs="*", help="questions; '-' reads stdin (one per line)")
    parser.add_argument("--file", type=Path, default=None, help="read questions from this file, one per line")
    parser.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    parser.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda")
    parser.add_argument("--beam-size", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--json", action="store_true", help="one JSON object per question")


def _questions(args: argparse.Namespace) -> list[str]:
    questions = []
    for q in args.questions:
        questions += [line for line in sys.stdin.read().splitlines() if line.strip()] if q == "-" else [q]
    if args.file is not None:
        questions += [line for line in args.file.read_text(encoding="utf-8").splitlines() if line.strip()]
    return questions


def run(args: argparse.Namespace) -> int:
    from .solver import Solver

    questions = _questions(args)
    if not questions:
        print("zoo solve: no question given (pass text, '-' for stdin, or --file)", file=sys.stderr)
        return 2
    try:
        solver = Solver.from_pretrained(args.model, device=args.device)
        results = solver.solve(questions, beam_size=args.beam_size, batch_size=args.batch_size)
    except (OSError, ValueError) as err:
        print(f"zoo solve: {err}", file=sys.stderr)
        return 1
    for r in results:
        if args.json:
            print(json.dumps(r.to_dict(), ensure_ascii=False))
        elif r.error:
            print(f"{r.question}\n  expression: {r.expression or '-'}\n  error: {r.error}")
        else:
            print(f"{r.question}\n  expression: {r.expression}\n  answer: {r.answer}")
    return 0
