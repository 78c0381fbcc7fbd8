"""What word-level tokenization buys: sequence length and encoder time, WoBERT vs char-level BERT, on THUCNews.

1. Tokens per character (no [CLS]/[SEP]) over whole articles: WoBERT base and WoBERT Plus (jieba, HMM off) vs the
   char-level Google Chinese BERT vocab (the RoBERTa-wwm-ext / bert-base-chinese tokenizer, bert4keras rules).
2. Encoder forward time per document, same architecture and random weights, same texts (each article's first
   ``--chars`` characters, so the char model fits in 512 positions), batch 1, one thread.

    python benchmarks/bench_wobert_length_speed.py [--quick] [--docs 40] [--chars 400]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / ".." / "shared"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 articles for lengths; 5 docs, small encoder")
    parser.add_argument("--docs", type=int, default=40, help="documents for the encoder timing")
    parser.add_argument("--chars", type=int, default=400, help="characters per document for the encoder timing")
    parser.add_argument("--data", type=Path, default=SHARED / "data")
    parser.add_argument("--vocab", type=Path, default=SHARED / "vocab")
    args = parser.parse_args(argv)

    import torch

    import zoo
    from zoo.segmentation import default_segmenter
    from zoo.tokenization import Tokenizer

    torch.set_num_threads(1)
    lines = (args.data / "zh_plain_text" / "thucnews" / "cnews.val.txt").read_text(encoding="utf-8").splitlines()
    texts = [line.split("\t", 1)[1] for line in lines if "\t" in line]
    if args.quick:
        texts, args.docs = texts[:100], 5
    seg = default_segmenter()
    tokenizers = {
        "char BERT (bert_chinese_vocab, 21128)": Tokenizer(args.vocab / "bert_chinese_vocab.txt"),
        "WoBERT base (33586)": Tokenizer(args.vocab / "wobert_base_vocab.txt", pre_tokenize=seg),
        "WoBERT Plus (50000)": Tokenizer(args.vocab / "wobert_plus_vocab.txt", pre_tokenize=seg),
    }
    chars = sum(map(len, texts))
    print(f"THUCNews cnews.val: {len(texts)} articles, {chars:,} characters\n")
    print("| tokenizer | tokens | tokens / char | vs char BERT |")
    print("|---|---|---|---|")
    counts = {name: sum(len(tok.tokenize_spans(t, offsets=False)[0]) for t in texts)
              for name, tok in tokenizers.items()}
    char_count = counts["char BERT (bert_chinese_vocab, 21128)"]
    for name, n in counts.items():
        print(f"| {name} | {n:,} | {n / chars:.3f} | {n / char_count:.3f} |")

    size = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024) if args.quick \
        else dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
    docs = [t[: args.chars] for t in texts[: args.docs]]
    print(f"\nEncoder forward per document: {args.docs} docs x first {args.chars} chars, random weights, "
          f"hidden {size['hidden_size']}, {size['num_hidden_layers']} layers, batch 1, 1 thread, CPU time\n")
    print("| tokenizer + encoder | mean tokens | ms / doc | speed-up vs char BERT |")
    print("|---|---|---|---|")
    results = {}
    for name in ("char BERT (bert_chinese_vocab, 21128)", "WoBERT Plus (50000)"):
        tok = tokenizers[name]
        torch.manual_seed(0)
        model = zoo.ZooModel(zoo.ZooConfig(vocab_size=len(tok), max_position_embeddings=512, **size)).eval()
        encoded = [torch.tensor([tok.encode(d, maxlen=512)[0]]) for d in docs]
        with torch.no_grad():
            model(encoded[0])
            start = time.process_time()
            for ids in encoded:
                model(ids)
            seconds = (time.process_time() - start) / len(encoded)
        results[name] = seconds
        mean_len = sum(x.shape[1] for x in encoded) / len(encoded)
        base = results["char BERT (bert_chinese_vocab, 21128)"]
        print(f"| {name} | {mean_len:.1f} | {seconds * 1000:.1f} | {base / seconds:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
