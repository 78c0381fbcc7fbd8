"""The `zoo` command. Each subcommand is a module with `add_arguments(parser)` and `run(args) -> int`; a module is
imported only when its command is named, so `zoo --help` imports neither torch nor any model package."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import warnings

from nlpzoo.console import INTERRUPTED, RUNTIME_ERROR, USAGE_ERROR, CLIError

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "tokenize": ("nlpzoo.commands.tokenize", "WoBERT word-level tokenization"),
    "embed": ("nlpzoo.commands.embed", "sentence vectors, optionally whitened"),
    "solve": ("nlpzoo.commands.solve", "solve math word problems"),
    "chat": ("nlpzoo.commands.chat", "multi-turn chit-chat in the terminal"),
    "summarize": ("nlpzoo.commands.summarize", "SPACES long-document summarization"),
    "convert": ("nlpzoo.commands.convert", "bert4keras / TF checkpoints -> a Hugging Face folder"),
    "demo": ("nlpzoo.demo", "every package on the shipped defaults"),
}

EPILOG = f"""\
errors and exit codes (all commands):
  errors are one line on stderr, "zoo COMMAND: error: MESSAGE"; warnings are "zoo COMMAND: warning: MESSAGE",
  each printed once per run (truncated inputs with counts, inputs the model's vocabulary does not know).
  0  success
  {RUNTIME_ERROR}  runtime error: a missing, unreadable or undecodable input, a model that does not load,
     an input the model cannot process
  {USAGE_ERROR}  usage error: unknown or conflicting options, bad option values, no input given
  {INTERRUPTED}  interrupted (Ctrl-C)
  set NLPZOO_DEBUG=1 to see the Python traceback of an unexpected error.

input and output:
  text comes from arguments, a file (--file) or stdin ('-'), decoded with --encoding (default utf-8).
  results go to stdout (--json: one JSON object per line); progress bars (on a terminal, or with --progress;
  --quiet silences them) and warnings go to stderr only.
"""


def _available(module: str) -> bool:
    """Whether `module` can be imported, found without importing it or its parent package."""
    parent, _, leaf = module.rpartition(".")
    if not parent:
        return importlib.util.find_spec(module) is not None
    top = parent.split(".")[0]
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        return False
    rest = parent.split(".")[1:]
    for location in spec.submodule_search_locations:
        folder = os.path.join(location, *rest)
        if os.path.isfile(os.path.join(folder, leaf + ".py")) or os.path.isdir(os.path.join(folder, leaf)):
            return True
    return False


class _Version(argparse.Action):
    """`-V`: the version, read from the core only when asked for."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from zoo import __version__

        print(f"nlpzoo {__version__}")
        parser.exit()


def _command_in(argv: list[str]) -> str | None:
    """The subcommand named in argv (its first non-option word), if any."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in SUBCOMMANDS else None
    return None


def build_parser(load: str | None | bool = True) -> argparse.ArgumentParser:
    """The `zoo` parser. `load`: which subcommands get their full arguments (True: all, a name: that one,
    None: none — enough for `zoo --help`)."""
    parser = argparse.ArgumentParser(prog="zoo", description="nlpzoo: Chinese NLP models on PyTorch and Hugging Face.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-V", "--version", action=_Version, help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.set_defaults(_parsers={})
    sub.add_parser("version", help="print the versions of nlpzoo and its main dependencies")
    for name, (module, help_text) in SUBCOMMANDS.items():
        if not _available(module):
            continue
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(_module=module)
        parser.get_default("_parsers")[name] = p
        if load is True or load == name:
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


def _run(args: argparse.Namespace) -> int:
    """Run a command; warnings raised by the libraries are printed once each in the common format."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = int(importlib.import_module(args._module).run(args) or 0)
    if not getattr(args, "quiet", False):
        for message in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, UserWarning)):
            print(f"zoo {args.command}: warning: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _command_in(argv) or "zoo"
    try:
        parser = build_parser(load=_command_in(argv))
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # reported by the subcommand's parser, so the message names it: "zoo solve: error: ..."
            args._parsers.get(args.command, parser).error(f"unrecognized arguments: {' '.join(unknown)}")
        if args.command is None:
            parser.print_help()
            return 0
        if args.command == "version":
            return _version()
        return _run(args)
    except CLIError as err:
        print(f"zoo {command}: error: {err}", file=sys.stderr)
        return err.code
    except KeyboardInterrupt:
        print(f"\nzoo {command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:  # `zoo tokenize ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return RUNTIME_ERROR
    except Exception as err:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        if os.environ.get("NLPZOO_DEBUG"):
            raise
        print(f"zoo {command}: error: {type(err).__name__}: {err} (set NLPZOO_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return RUNTIME_ERROR


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
