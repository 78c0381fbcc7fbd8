"""Answer accuracy of a mathwp model on an ape210k/Math23K file (as the original `Evaluator`: greedy, `is_equal` on safely evaluated values).

Prints progress to stderr and ends with one JSON line on stdout:
{"accuracy": ..., "correct": ..., "evaluated": ..., "records": ..., "dropped": ..., "refused": ..., ...}

    python scripts/eval_mathwp.py --data ../shared/data/ape210k/valid.ape.json --ids mathwp/models/default/dev_ids.txt
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="ape210k/Math23K JSON-lines file")
    p.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    p.add_argument("--ids", type=Path, default=None, help="only the problems whose id is listed in this file")
    p.add_argument("--limit", type=int, default=None, help="only the first N problems")
    p.add_argument("--beam-size", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--num-samples", type=int, default=None,
                   help="self-consistency: sampled expressions per question (default: the model's; 0: greedy/beam)")
    p.add_argument("--temperature", type=float, default=None, help="sampling temperature (default: the model's)")
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--errors", type=Path, default=None, help="write the wrong answers here as JSON lines")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from mathwp import Solver
    from mathwp.data import prepared, read_problems
    from mathwp.safe_math import is_equal, safe_eval

    problems = read_problems(args.data)
    if args.ids is not None:
        wanted = set(args.ids.read_text(encoding="utf-8").split())
        problems = [p for p in problems if p.id in wanted]
    problems = problems[: args.limit]
    samples = list(prepared(problems))
    solver = Solver.from_pretrained(args.model, device=args.device)
    start = time.time()
    results = solver.solve([s[0] for _, s in samples], beam_size=args.beam_size, batch_size=args.batch_size,
                           progress=True, num_samples=args.num_samples, temperature=args.temperature)  # fmt: skip
    correct, refused, wrong = 0, 0, []
    for result, (problem, (_, expression, answer)) in zip(results, samples):
        ok = result.value is not None and is_equal(result.value, safe_eval(answer))
        correct += ok
        refused += result.error is not None
        if not ok:
            wrong.append({"id": problem.id, "gold": expression, **result.to_dict()})
    if args.errors:
        args.errors.write_text("".join(json.dumps(w, ensure_ascii=False) + "\n" for w in wrong), encoding="utf-8")
    summary = {
        "accuracy": correct / len(samples) if samples else 0.0,
        "correct": correct,
        "evaluated": len(samples),
        "records": len(problems),
        "dropped": len(problems) - len(samples),
        "refused": refused,
        "beam_size": args.beam_size,
        "num_samples": solver.num_samples if args.num_samples is None else args.num_samples,
        "temperature": solver.temperature if args.temperature is None else args.temperature,
        "seconds": round(time.time() - start, 2),
        "model": str(args.model or "default"),
        "data": str(args.data),
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
