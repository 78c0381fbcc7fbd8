"""The `zoo` command. Each subcommand lives in its package's `cli` module, which defines
`add_arguments(parser)` and `run(args) -> int`; modules are imported only when their command runs."""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "tokenize": ("wobert.cli", "WoBERT word-level tokenization"),
    "embed": ("whitening.cli", "sentence vectors, optionally whitened"),
    "solve": ("mathwp.cli", "solve math word problems"),
    "chat": ("dialog.cli", "multi-turn chit-chat in the terminal"),
    "summarize": ("summarize.cli", "SPACES long-document summarization"),
    "demo": ("zoo.demo", "every package on the shipped defaults"),
}


def _available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def build_parser() -> argparse.ArgumentParser:
    from zoo import __version__

    parser = argparse.ArgumentParser(prog="zoo", description="nlpzoo: Chinese NLP models on PyTorch and Hugging Face.")
    parser.add_argument("-V", "--version", action="version", version=f"nlpzoo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("version", help="print the versions of nlpzoo and its main dependencies")
    for name, (module, help_text) in SUBCOMMANDS.items():
        if not _available(module):
            continue
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


def _version() -> int:
    from importlib.metadata import PackageNotFoundError, version

    from zoo import __version__

    print(f"nlpzoo {__version__}")
    for dep in ("torch", "transformers", "tokenizers", "safetensors", "accelerate", "datasets", "jieba", "rjieba"):
        try:
            print(f"{dep} {version(dep)}")
        except PackageNotFoundError:
            print(f"{dep} (not installed)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "version":
        return _version()
    return int(importlib.import_module(args._module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
