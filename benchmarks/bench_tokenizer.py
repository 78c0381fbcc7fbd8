"""WoBERT tokenizer throughput on THUCNews vs python jieba's cut(HMM=False) alone.

Rows (same texts, same run): python jieba segmentation only (the baseline), our exact segmentation with offsets,
the full WoBertTokenizer (HF call with offsets), and the original bert4keras path (pure-python tokenizer on
python jieba). Also checks that every fast result equals python jieba's.

    python benchmarks/bench_tokenizer.py [--quick] [--data ../shared/data] [--vocab ../shared/vocab]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / ".." / "shared"


def read_thucnews(data: Path, limit: int | None) -> list[str]:
    lines = (data / "zh_plain_text" / "thucnews" / "cnews.val.txt").read_text(encoding="utf-8").splitlines()
    texts = [line.split("\t", 1)[1] for line in lines if "\t" in line]
    return texts[:limit] if limit else texts


def timed(fn, texts: list[str], repeats: int) -> tuple[float, list]:
    """Best CPU time of ``repeats`` runs (CPU time: the shared machine's load distorts wall time)."""
    best, out = float("inf"), None
    fn(texts[0])
    for _ in range(repeats):
        start = time.process_time()
        out = [fn(t) for t in texts]
        best = min(best, time.process_time() - start)
    return best, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 articles, one repeat")
    parser.add_argument("--data", type=Path, default=SHARED / "data")
    parser.add_argument("--vocab", type=Path, default=SHARED / "vocab")
    args = parser.parse_args(argv)

    import jieba
    import torch

    from wobert import WoBertTokenizer
    from zoo.segmentation import Segmenter
    from zoo.tokenization import Tokenizer

    torch.set_num_threads(1)
    jieba.setLogLevel(60)
    texts = read_thucnews(args.data, 100 if args.quick else None)
    repeats = 1 if args.quick else 3
    chars = sum(map(len, texts))

    reference = jieba.Tokenizer()
    reference.initialize()
    segmenter = Segmenter()
    hf = WoBertTokenizer(str(args.vocab / "wobert_plus_vocab.txt"))
    original = Tokenizer(hf.vocab, pre_tokenize=lambda s: reference.cut(s, HMM=False))

    rows = []
    t_base, expected = timed(lambda t: list(reference.cut(t, HMM=False)), texts, repeats)
    rows.append(("python jieba cut(HMM=False), segmentation only (baseline)", t_base, "-"))
    t_seg, got = timed(segmenter.cut_with_offsets, texts, repeats)
    same = sum(e == [w for w, _, _ in g] for e, g in zip(expected, got))
    rows.append(("zoo Segmenter.cut_with_offsets (rjieba, exact)", t_seg, f"{same}/{len(texts)}"))
    t_hf, enc = timed(lambda t: hf(t, return_offsets_mapping=True), texts, repeats)
    rows.append(("WoBertTokenizer(text, return_offsets_mapping=True)", t_hf, "-"))
    t_ids, _ = timed(hf, texts, repeats)
    rows.append(("WoBertTokenizer(text) (ids, no offsets)", t_ids, "-"))
    t_orig, ids = timed(lambda t: original.encode(t)[0], texts, 1)
    same_ids = sum(a["input_ids"] == b for a, b in zip(enc, ids))
    rows.append(("bert4keras path: python tokenizer + python jieba (original)", t_orig,
                 f"ids {same_ids}/{len(texts)}"))

    print(f"THUCNews cnews.val: {len(texts)} articles, {chars:,} characters; best of {repeats}, CPU seconds\n")
    print("| pipeline | seconds | M chars/s | x python jieba | same as python |")
    print("|---|---|---|---|---|")
    for name, seconds, check in rows:
        print(f"| {name} | {seconds:.3f} | {chars / seconds / 1e6:.3f} | {t_base / seconds:.2f} | {check} |")
    ok = same == len(texts) and same_ids == len(texts)
    print(f"\nall fast results equal python jieba / the original ids: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
