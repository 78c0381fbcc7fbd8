"""``zoo convert SRC DST``: the originals' TF checkpoints / bert4keras `.weights` files -> a Hugging Face folder.

    zoo convert chinese_wobert_plus_L-12_H-768_A-12 wobert-plus-hf
"""

from __future__ import annotations

import argparse

from nlpzoo.console import CLIError, add_common_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="folder with bert_config.json/config.json and a TF checkpoint, a checkpoint "
                                    "prefix, or a bert4keras .weights file next to its config")
    parser.add_argument("dst", help="output folder (Hugging Face layout)")
    parser.add_argument("--overwrite", action="store_true", help="write into a non-empty DST")
    parser.add_argument("--cased", action="store_true", help="tokenizer keeps case (default: lower-case, as BERT)")
    add_common_arguments(parser, reads_input=False)


def run(args) -> int:
    from zoo.convert import convert
    from zoo.loading import CheckpointError

    try:
        out = convert(args.src, args.dst, overwrite=args.overwrite, do_lower_case=not args.cased)
    except (CheckpointError, OSError) as err:
        raise CLIError(str(err)) from None
    print(out)
    return 0
