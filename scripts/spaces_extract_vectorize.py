"""SPACES stage B: one vector per clause (masked mean of an encoder's last layer, as SPACES extract_vectorize.py).

    python scripts/spaces_extract_vectorize.py --records work/extract.jsonl --encoder ENCODER_FOLDER --out work/vectors.pt
ENCODER_FOLDER: any checkpoint zoo loads, with its vocab.txt (char tokenizer), or a pipeline's generator/ folder
(then its word tokenizer is used).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch


def load_encoder(folder: str | Path, device: str | None = None):
    """(encoder, tokenizer) from a zoo checkpoint folder or a SpacesForSummary generator folder."""
    from zoo import from_pretrained
    from zoo.tokenization import Tokenizer

    from summarize.generator import SpacesForSummary
    from summarize.vocab import word_tokenizer

    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if "SpacesForSummary" in config.get("architectures", []):
        return SpacesForSummary.from_pretrained(folder).zoo.to(device or "cpu").eval(), word_tokenizer(folder / "vocab.txt")
    return from_pretrained(folder, device=device), Tokenizer(folder / "vocab.txt", do_lower_case=True)


def main(argv=None) -> int:
    from summarize.training import vectorize

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", required=True)
    p.add_argument("--encoder", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--device", default=None)
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args(argv)
    with open(args.records, encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    encoder, tokenizer = load_encoder(args.encoder, args.device)
    vectors = vectorize(records, encoder, tokenizer, batch_size=args.batch_size, device=args.device)
    torch.save(vectors, args.out)
    print(json.dumps({"documents": len(vectors), "hidden": int(vectors[0].shape[-1]) if vectors else 0}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
