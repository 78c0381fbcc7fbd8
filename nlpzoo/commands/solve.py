"""`zoo solve`: solve Chinese math word problems from arguments, stdin (`-`) or a file (one question per line).
When a problem cannot be solved, the output says why in plain words (text and --json alike)."""

from __future__ import annotations

import argparse
import re

from nlpzoo.console import CLIError, Report, UsageError, add_common_arguments, print_json, read_lines, require_text
from nlpzoo.console import show_progress

_PLACEHOLDER = re.compile(r"\[n(\d+)\]")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("questions", nargs="*", help="questions; '-' reads stdin (one per line)")
    parser.add_argument("--file", default=None, help="read questions from this file, one per line")
    parser.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    parser.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda")
    parser.add_argument("--beam-size", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--num-samples", type=int, default=None,
                        help="self-consistency: sample this many expressions and vote on their values "
                             "(default: the model's setting; 0: greedy/beam only)")
    parser.add_argument("--temperature", type=float, default=None, help="sampling temperature for --num-samples")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled expressions")
    parser.add_argument("--json", action="store_true", help="one JSON object per question")
    add_common_arguments(parser)


def _questions(args: argparse.Namespace) -> list[str]:
    questions = []
    for q in args.questions:
        questions += read_lines("-", args.encoding) if q == "-" else [q]
    if args.file is not None:
        questions += read_lines(args.file, args.encoding)
    if any(q.strip() for q in questions):
        return questions  # a blank one among others gets its own result: "the question is empty"
    return require_text(questions, "question")


def explain(result) -> str | None:
    """Why `result` has no answer, in words a user can act on; None when it has one."""
    if result.error is None:
        return None
    if result.error == "empty question":
        return "the question is empty"
    numbers = _NUMBER.findall(result.question)
    missing = _PLACEHOLDER.search(result.expression or "")
    if not numbers:
        return ("the question has no numbers written as digits; the solver builds its answer from the "
                "question's numbers, so it cannot answer this")
    if missing:
        return (f"the model's expression uses a number the question does not have (number {int(missing[1]) + 1}, "
                f"but the question has {len(numbers)}); the question is probably unlike those it was trained on")
    if result.error == "division by zero":
        return "the model's expression divides by zero"
    if result.error == "empty expression":
        return "the model wrote no expression"
    if "bits" in result.error or "exponent" in result.error or "finite" in result.error or "overflow" in result.error:
        return f"the model's expression has a result too large to compute ({result.error})"
    return f"the model wrote an expression that is not valid arithmetic ({result.error})"


def run(args: argparse.Namespace) -> int:
    import warnings

    if args.beam_size < 1 or args.batch_size < 1:
        raise UsageError("--beam-size and --batch-size must be >= 1")
    from mathwp.solver import MAX_SAMPLES, Solver

    if args.num_samples is not None and not 0 <= args.num_samples <= MAX_SAMPLES:
        raise UsageError(f"--num-samples must be in [0, {MAX_SAMPLES}]")
    if args.temperature is not None and not args.temperature > 0:
        raise UsageError("--temperature must be > 0")
    questions = _questions(args)

    warnings.filterwarnings("ignore", message="question has .* tokens; truncated")  # counted in the report
    try:
        solver = Solver.from_pretrained(args.model, device=args.device)
    except (OSError, ValueError) as err:
        raise CLIError(f"cannot load the solver: {err}") from None
    results = solver.solve(questions, beam_size=args.beam_size, batch_size=args.batch_size,
                           progress=show_progress(args), num_samples=args.num_samples,
                           temperature=args.temperature, seed=args.seed)
    report = Report("solve", quiet=args.quiet, chinese_only="the math solver")
    for r in results:
        checks = report.check(r.question, solver.tokenizer)
        report.truncated("question tokens", r.truncated_tokens)
        reason = explain(r)
        if args.json:
            print_json({**r.to_dict(), "reason": reason, **checks})
            continue
        print(f"{r.question}\n  expression: {r.expression or '-'}")
        print(f"  could not solve: {reason}" if reason else f"  answer: {r.answer}")
        for note in r.warnings if reason is None else ():  # a reason already says what went wrong
            if not note.startswith("question has "):  # truncation: reported once for the run
                print(f"  note: {note}")
    report.flush()
    return 0
