"""What every `zoo` subcommand shares: one error type and format, input reading with an explicit encoding,
progress bars on stderr, and a per-run report of truncations and out-of-distribution inputs.

Nothing here imports torch or transformers, so `zoo --help` stays fast.
"""

from __future__ import annotations

import argparse
import codecs
import json
import os
import sys
import unicodedata
from dataclasses import dataclass, field

USAGE_ERROR = 2  # the command line is wrong: unknown or conflicting options, bad values, no input given
RUNTIME_ERROR = 1  # the command could not do its job: unreadable or undecodable input, a model that does not load
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), printed without a traceback

UNK_WARN_SHARE = 0.3  # warn when more than this share of an input's tokens are unknown to the model's vocabulary


class CLIError(Exception):
    """A failure reported as one line `zoo COMMAND: error: MESSAGE` and exit code `code`."""

    def __init__(self, message: str, code: int = RUNTIME_ERROR):
        super().__init__(message)
        self.code = code


class UsageError(CLIError):
    def __init__(self, message: str):
        super().__init__(message, USAGE_ERROR)


def add_common_arguments(parser: argparse.ArgumentParser, reads_input: bool = True) -> None:
    """--encoding (when the command reads files or stdin), --quiet and --progress."""
    if reads_input:
        parser.add_argument("--encoding", default="utf-8", type=_encoding_option,
                            help="encoding of input files and stdin (default utf-8; e.g. gbk, gb18030, utf-16)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quiet", "-q", action="store_true", help="no progress bars and no warnings on stderr")
    group.add_argument("--progress", action="store_true",
                       help="progress bars on stderr even when it is not a terminal (default: only on a terminal)")


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars go to stderr: forced by --progress, silenced by --quiet, else shown on a terminal."""
    if getattr(args, "quiet", False):
        return False
    if getattr(args, "progress", False):
        return True
    return sys.stderr.isatty()


def check_encoding(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise UsageError(f"unknown encoding {name!r} for --encoding (try utf-8, gbk, gb18030, utf-16)") from None


def _encoding_option(name: str) -> str:
    try:
        return check_encoding(name)
    except UsageError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def decode(data: bytes, source: str, encoding: str) -> str:
    """Strict decoding; the error names the source, the byte offset and the option that fixes it."""
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        bad = data[err.start:err.start + 4].hex(" ")
        hint = "--encoding gbk (or gb18030)" if codecs.lookup(encoding).name == "utf-8" else "another --encoding"
        raise CLIError(f"{source} is not valid {encoding} at byte {err.start} (bytes {bad}); "
                       f"give its encoding with {hint}") from None
    return text[1:] if text.startswith("\ufeff") else text


def read_source(path: str, encoding: str = "utf-8", stdin=None) -> str:
    """The whole text of a file, or of stdin for "-"."""
    encoding = check_encoding(encoding)
    if path == "-":
        stream = stdin or sys.stdin
        raw = getattr(stream, "buffer", None)
        if raw is None:  # an in-memory text stream (tests): already decoded
            return stream.read()
        return decode(raw.read(), "stdin", encoding)
    if os.path.isdir(path):
        raise CLIError(f"{path} is a directory, not a text file")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise CLIError(f"{path}: no such file") from None
    except PermissionError:
        raise CLIError(f"{path}: permission denied") from None
    except OSError as err:
        raise CLIError(f"{path}: cannot read ({err.strerror or err})") from None
    return decode(data, path, encoding)


def read_lines(path: str, encoding: str = "utf-8", stdin=None) -> list[str]:
    """Non-blank lines of a file or stdin, without their line ends."""
    return [line for line in read_source(path, encoding, stdin).splitlines() if line.strip()]


def require_text(texts: list[str], what: str = "input") -> list[str]:
    """Refuse inputs for which a result would be meaningless: none given (a usage error) or blank ones."""
    if not texts:
        raise UsageError(f"no {what} given (pass it as an argument, '-' for stdin, or --file)")
    blank = [i for i, t in enumerate(texts) if not t.strip()]
    if blank:
        where = "is" if len(texts) == 1 else f"number {blank[0] + 1} is"
        raise CLIError(f"the {what} {where} empty")
    return texts


def stdin_is_interactive(stdin=None) -> bool:
    stream = stdin or sys.stdin
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# ------------------------------------------------------------------------------------ out-of-distribution check
def _is_cjk(ch: str) -> bool:
    return "CJK" in unicodedata.name(ch, "")


def unk_share(tokenizer, text: str) -> float:
    """Share of the text's tokens (specials excluded) that the vocabulary does not know, for the three tokenizer
    kinds in nlpzoo: `zoo.tokenization.Tokenizer`, Hugging Face fast tokenizers and slow ones (WoBERT)."""
    if hasattr(tokenizer, "token_unk"):  # zoo.tokenization.Tokenizer
        tokens = [t for t, _, _ in tokenizer.tokenize_with_offsets(text)]
        unknown = sum(t == tokenizer.token_unk or t not in tokenizer.vocab for t in tokens)
    else:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        tokens = ids
        unknown = sum(i == tokenizer.unk_token_id for i in ids)
    return unknown / len(tokens) if tokens else 0.0


def looks_foreign_to_chinese_model(text: str) -> bool:
    """Letters but not one Chinese character: out of distribution for a model trained on Chinese only."""
    return not any(_is_cjk(c) for c in text) and any(c.isalpha() for c in text)


@dataclass
class Report:
    """Notes collected during one run and printed once at its end on stderr: truncations with counts and
    out-of-distribution inputs. `fields()` gives the same facts for --json output."""

    command: str
    quiet: bool = False
    truncations: dict[str, list[int]] = field(default_factory=dict)  # what -> [inputs affected, units dropped]
    ood: list[float] = field(default_factory=list)
    ood_inputs: int = 0
    chinese_only: str | None = None  # the model name when it reads Chinese only
    foreign_inputs: int = 0
    inputs: int = 0

    def truncated(self, what: str, dropped: int) -> None:
        """Record that one input lost `dropped` units of `what` (tokens, clauses, history turns)."""
        if dropped > 0:
            entry = self.truncations.setdefault(what, [0, 0])
            entry[0] += 1
            entry[1] += dropped

    def check(self, text: str, tokenizer=None, share: float | None = None) -> dict:
        """Out-of-distribution check of one input (its [UNK] share is measured with `tokenizer`, or given);
        returns the per-input fields for --json."""
        self.inputs += 1
        out = {}
        if share is None and tokenizer is not None:
            share = unk_share(tokenizer, text)
        if share is not None:
            out["unk_share"] = round(share, 3)
            if share > UNK_WARN_SHARE:
                self.ood_inputs += 1
                self.ood.append(share)
        if self.chinese_only:
            out["no_chinese"] = looks_foreign_to_chinese_model(text)
            self.foreign_inputs += out["no_chinese"]
        return out

    def fields(self) -> dict:
        return {f"truncated_{what.replace(' ', '_')}": dropped for what, (_, dropped) in self.truncations.items()}

    def messages(self) -> list[str]:
        lines = []
        for what, (inputs, dropped) in self.truncations.items():
            lines.append(f"{dropped} {what} cut from {inputs} of {self.inputs or inputs} input(s) to fit the model")
        if self.ood_inputs:
            lines.append(f"{self.ood_inputs} of {self.inputs} input(s) are mostly unknown to the model's vocabulary "
                         f"(up to {max(self.ood):.0%} [UNK] tokens); the result is unreliable: is this the right "
                         "model for the input's language?")
        if self.foreign_inputs:
            lines.append(f"{self.foreign_inputs} of {self.inputs} input(s) contain no Chinese characters, but "
                         f"{self.chinese_only} reads Chinese only; expect meaningless output")
        return lines

    def flush(self) -> None:
        if self.quiet:
            return
        for line in self.messages():
            print(f"zoo {self.command}: warning: {line}", file=sys.stderr, flush=True)


def print_json(record: dict) -> None:
    print(json.dumps(record, ensure_ascii=False, default=str), flush=True)
