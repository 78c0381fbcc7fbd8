"""Pre-train the small Chinese base model (char vocab, NEZHA-style relative positions) on the shared data.

Objectives (see ``zoo.pretraining``): MLM on every text, UniLM seq2seq on math problems (question -> expression,
numbers as [nK] placeholders), LCSTS (text -> summary) and CSL (abstract -> title), and causal LM on LCCC dialogs in
the NEZHA-GPT layout. Held out and never read: the math solver's dev ids (``mathwp/models/default/dev_ids.txt``),
the dialog dev slice (``dialog.data.split_dev(..., 1000, seed 0)`` as ``scripts/train_dialog.py``), the LCSTS and
STS validation files (and the 47 LCSTS train texts that repeat a validation text); test splits are not in
../shared at all. A resumable run (kill and rerun the same command):

    nice -n 19 python scripts/pretrain_base.py --output runs/base --max-steps 3000
    python scripts/pretrain_base.py --export runs/base --to zoo/models/base-zh   # fp16 copy for shipping
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--output", type=Path, help="run folder (checkpoints, log.jsonl, vocab.txt, final/)")
    p.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--intermediate", type=int, default=512)
    p.add_argument("--maxlen", type=int, default=128)
    p.add_argument("--min-count", type=int, default=3, help="characters seen fewer times become [UNK]")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-steps", type=int, default=3000)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--save-every", type=int, default=100)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--math-repeat", type=int, default=3, help="copies of each math pair (a small, key task)")
    p.add_argument("--limit", type=int, default=None, help="examples per source (smoke runs)")
    p.add_argument("--benchmark", type=int, default=0, help="only time this many steps and exit")
    p.add_argument("--export", type=Path, help="write an fp16 model folder from this run's last checkpoint")
    p.add_argument("--to", type=Path, help="with --export: the destination folder")
    p.add_argument("--fill-mask", nargs="+", metavar="TEXT",
                   help="with --export: print the top-5 predictions for each [MASK] of these texts")
    return p.parse_args(argv)


# ---------------------------------------------------------------- corpora (non-test, dev splits held out)


def _lines(path: Path):
    with open(path, encoding="utf-8") as f:
        yield from (line.rstrip("\n") for line in f if line.strip())


def plain_texts(data: Path) -> list[str]:
    texts = [line.split("\t", 1)[-1] for line in _lines(data / "zh_plain_text" / "thucnews" / "cnews.val.txt")]
    for name in ("pku_test.utf8", "msr_test.utf8"):
        texts += list(_lines(data / "zh_plain_text" / "icwb2" / name))
    for name in ("ChnSentiCorp_htl_all.csv", "waimai_10k.csv"):
        with open(data / "zh_plain_text" / "reviews" / name, encoding="utf-8") as f:
            texts += [row["review"] for row in csv.DictReader(f) if row.get("review")]
    for name in ("STS-B.train.data", "ATEC.train_partial.data"):
        for line in _lines(data / "sts_zh" / name):
            texts += line.split("\t")[:2]
    return texts


def math_pairs(data: Path) -> list[tuple[str, str]]:
    from mathwp.data import prepared, read_problems
    from mathwp.seq2seq import mask_expression, mask_numbers

    dev = set((REPO / "mathwp" / "models" / "default" / "dev_ids.txt").read_text().split())
    problems = [p for p in read_problems(data / "ape210k" / "valid.ape.json") if p.id not in dev]
    problems += read_problems(data / "math23k" / "math23k_trainpool.jsonl")
    pairs = []
    for _, (question, expression, _) in prepared(problems):
        masked, numbers = mask_numbers(question)
        pairs.append((masked, mask_expression(expression, numbers)))
    return pairs


def summary_pairs(data: Path) -> list[tuple[str, str]]:
    from summarize.data import read_pairs

    held_out = {source for source, _ in read_pairs(data / "lcsts_clge" / "val.tsv")}  # 47 also in train.tsv
    pairs = list(read_pairs(data / "lcsts_clge" / "train.tsv")) + list(read_pairs(data / "csl_ts" / "dev.tsv"))
    return [(source, target) for source, target in pairs if source not in held_out]


def train_dialogs(data: Path) -> list[list[str]]:
    from dialog.data import read_dialogs, split_dev

    return split_dev(read_dialogs(data / "lccc" / "LCCC-base_valid.json"), 1000, seed=0)[0]


def build_examples(args, tokenizer) -> tuple[list[dict], dict]:
    from dialog.formats import NezhaGPTFormat

    from zoo.pretraining import text_chunks

    limit = args.limit
    texts, maths, sums, dialogs = (plain_texts(args.data), math_pairs(args.data), summary_pairs(args.data),
                                   train_dialogs(args.data))
    if limit:
        texts, maths, sums, dialogs = texts[:limit], maths[:limit], sums[:limit], dialogs[:limit]
    examples = []
    budget = args.maxlen - 2
    mlm_texts = [c for t in texts for c in text_chunks(t, budget)]
    mlm_texts += [c for s, t in sums for c in text_chunks(s, budget)] + [q for q, _ in maths]
    mlm_texts += ["".join(d) for d in dialogs if len("".join(d)) >= 8]
    for text in mlm_texts:
        ids, _ = tokenizer.encode(text, maxlen=args.maxlen)
        examples.append({"task": "mlm", "input_ids": ids, "token_type_ids": [0] * len(ids)})
    for source, target in maths * args.math_repeat + [(s[: budget - len(t) - 1], t) for s, t in sums]:
        ids, types = tokenizer.encode(source, target, maxlen=args.maxlen)
        examples.append({"task": "seq2seq", "input_ids": ids, "token_type_ids": types})
    form = NezhaGPTFormat(tokenizer, maxlen=args.maxlen)
    for dialog in dialogs:
        for sample in form.training_samples(dialog):
            examples.append({"task": "lm", "input_ids": sample.input_ids, "token_type_ids": sample.token_type_ids,
                             "labels": sample.labels})
    counts = {"texts": len(texts), "mlm_chunks": len(mlm_texts), "math_pairs": len(maths),
              "summary_pairs": len(sums), "dialogs": len(dialogs),
              "tokens": sum(len(e["input_ids"]) for e in examples)}
    return examples, counts


def vocab_texts(args) -> list[str]:
    texts = plain_texts(args.data)
    texts += [q + e for q, e in math_pairs(args.data)] + [s + t for s, t in summary_pairs(args.data)]
    texts += ["".join(d) for d in train_dialogs(args.data)]
    return texts


# ---------------------------------------------------------------- model


def build_model(args, vocab_size: int):
    import zoo

    config = zoo.ZooConfig(
        vocab_size=vocab_size, hidden_size=args.hidden, num_hidden_layers=args.layers,
        num_attention_heads=args.heads, intermediate_size=args.intermediate, max_position_embeddings=512,
        position_embedding_type="relative", max_relative_position=64, type_vocab_size=2, attention="unilm",
        add_pooler=False, pad_token_id=0)
    return zoo.ZooForLM(config)


def export(run: Path, to: Path) -> None:
    """The last checkpoint's weights in fp16 with config and vocab: a folder ``zoo.from_pretrained`` loads."""
    import zoo
    from safetensors.torch import load_file

    config = zoo.ZooConfig.from_json_file(str(run / "config.json"))
    state = load_file(str(run / "checkpoint-last" / "model.safetensors"))
    model = zoo.ZooForLM(config)
    model.load_state_dict(state)
    to.mkdir(parents=True, exist_ok=True)
    model.config.attention = "unilm"
    model.config.dtype = "float16"
    model.half().save_pretrained(to)
    (to / "vocab.txt").write_text((run / "vocab.txt").read_text(encoding="utf-8"), encoding="utf-8")
    from transformers import BertTokenizerFast  # so AutoTokenizer (e.g. whitening.SentenceEncoder) loads it

    tokens = (run / "vocab.txt").read_text(encoding="utf-8").splitlines()
    BertTokenizerFast(vocab={t: i for i, t in enumerate(tokens)}, do_lower_case=True).save_pretrained(to)
    print(f"exported {run / 'checkpoint-last'} to {to}")


def fill_mask(folder: Path, texts: list[str], top_k: int = 5) -> None:
    """Top-k tokens the MLM head puts at each [MASK] (bidirectional attention, segment 0)."""
    import zoo
    from zoo.tokenization import Tokenizer

    model = zoo.from_pretrained(folder, head="mlm", attention="bidirectional").float()
    tokenizer = Tokenizer(str(folder / "vocab.txt"))
    for text in texts:
        pieces = text.split("[MASK]")
        ids = [tokenizer.token_to_id("[CLS]")]
        for i, piece in enumerate(pieces):
            ids += tokenizer.encode(piece)[0][1:-1] if piece else []
            if i < len(pieces) - 1:
                ids.append(tokenizer.token_to_id("[MASK]"))
        ids.append(tokenizer.token_to_id("[SEP]"))
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0]
        for pos in [i for i, t in enumerate(ids) if t == tokenizer.token_to_id("[MASK]")]:
            top = logits[pos].topk(top_k)
            guesses = " ".join(f"{tokenizer.id_to_token(int(i))}({p:.2f})"
                               for i, p in zip(top.indices, logits[pos].softmax(-1)[top.indices]))
            print(f"{text}  [MASK]#{pos}: {guesses}")


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.export:
        to = args.to or args.export / "final"
        export(args.export, to)
        if args.fill_mask:
            fill_mask(to, args.fill_mask)
        return 0
    if args.output is None:
        raise SystemExit("--output is required")
    from datasets import Dataset

    from mathwp.seq2seq import PLACEHOLDERS, load_tokenizer
    from zoo.pretraining import SPECIAL_TOKENS, build_char_vocab, collate_buckets, pretraining_loss, task_buckets
    from zoo.training import Trainer, TrainingArguments

    args.output.mkdir(parents=True, exist_ok=True)
    vocab_file = args.output / "vocab.txt"
    if not vocab_file.is_file():  # built once: a resumed run must see the same ids
        tokens = build_char_vocab(vocab_texts(args), min_count=args.min_count, extra_tokens=PLACEHOLDERS)
        vocab_file.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    vocab = {t: i for i, t in enumerate(vocab_file.read_text(encoding="utf-8").splitlines())}
    tokenizer = load_tokenizer(vocab, number_placeholders=True)
    start = time.time()
    examples, counts = build_examples(args, tokenizer)
    rows = task_buckets(examples, args.batch_size, seed=args.seed, max_tokens=args.batch_size * args.maxlen)
    counts.update(vocab=len(vocab), batches_per_epoch=len(rows), prepare_s=round(time.time() - start, 1))
    print(json.dumps(counts), file=sys.stderr, flush=True)
    (args.output / "data.json").write_text(json.dumps(counts, indent=2), encoding="utf-8")

    model = build_model(args, len(vocab))
    model.config.to_json_file(str(args.output / "config.json"))
    print(f"parameters {sum(p.numel() for p in model.parameters()):,}", file=sys.stderr, flush=True)
    mask_id, num_special = vocab["[MASK]"], len(SPECIAL_TOKENS) + len(PLACEHOLDERS)

    def collate(batch):
        return collate_buckets(batch, mask_id=mask_id, vocab_size=len(vocab), num_special=num_special)

    targs = TrainingArguments(
        output_dir=str(args.output), learning_rate=args.lr, batch_size=1,
        max_steps=args.benchmark or args.max_steps, warmup_steps=args.warmup, seed=args.seed,
        log_every=args.log_every, save_every=None if args.benchmark else args.save_every, cpu=True,
        progress_bar=False, save_final_checkpoint=not args.benchmark)
    trainer = Trainer(model, targs, Dataset.from_list(rows), collate_fn=collate, loss_fn=pretraining_loss)
    start = time.time()
    result = trainer.train()
    print(json.dumps({**result, "seconds": round(time.time() - start, 1)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
