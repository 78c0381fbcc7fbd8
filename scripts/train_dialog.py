"""Train a dialog LM (NEZHA-GPT or CDial-GPT format) on LCCC-style data with the zoo training frame.

Example (the shipped default model, see dialog/models/default/README.md):
  nice -n 10 python scripts/train_dialog.py --data ../shared/data/lccc/LCCC-base_valid.json --dev-size 1000 \
      --output dialog/models/default --max-steps 1500
A seeded slice of --dev-size dialogs is held out; the model is evaluated on it at the end and a model card is
written next to the weights. --init starts from a checkpoint (e.g. a NEZHA or CDial-GPT folder) instead of a random
model of the given size."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch

from dialog.presets import add_decoding_arguments, decoding_options

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / ".." / "shared"
DEFAULT_DATA = SHARED / "data" / "lccc" / "LCCC-base_valid.json"
DEFAULT_VOCAB = {"nezha-gpt": SHARED / "vocab" / "derived" / "nezha_gpt_dialog_vocab.txt",
                 "cdial-gpt": SHARED / "vocab" / "cdial_gpt_vocab.txt"}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--split", default=None, help="split of a {train, valid, test} JSON file")
    p.add_argument("--family", choices=("nezha-gpt", "cdial-gpt"), default="nezha-gpt")
    p.add_argument("--vocab", default=None, help="vocab.txt (default: the family's vocab under ../shared/vocab)")
    p.add_argument("--init", default=None, help="start from this checkpoint instead of a random model")
    p.add_argument("--output", required=True, help="folder for the final model, vocab, dialog_config and card")
    p.add_argument("--work-dir", default=None, help="checkpoints (default: <output>/../<name>-work)")
    p.add_argument("--dev-size", type=int, default=1000)
    p.add_argument("--dev-eval", type=int, default=1000, help="dev dialogs used for the final metrics")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--maxlen", type=int, default=128)
    p.add_argument("--preset", default="default", help="model size from scratch (dialog.presets: tiny, default, base)")
    p.add_argument("--hidden", type=int, default=None, help="override the preset's hidden size")
    p.add_argument("--layers", type=int, default=None)
    p.add_argument("--heads", type=int, default=None)
    p.add_argument("--intermediate", type=int, default=None)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--max-steps", type=int, default=1500)
    p.add_argument("--save-every", type=int, default=None, help="checkpoint every N steps (resumable)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N training dialogs (smoke runs)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default=None)
    add_decoding_arguments(p)
    return p.parse_args(argv)


def build_model(args, vocab_size: int):
    import zoo

    from dialog.presets import model_config

    if args.init:
        return zoo.from_pretrained(args.init, head="lm", attention="causal")
    return zoo.ZooForLM(model_config(args.family, vocab_size, args.preset, args.maxlen, args.dropout,
                                     hidden_size=args.hidden, num_hidden_layers=args.layers,
                                     num_attention_heads=args.heads, intermediate_size=args.intermediate))


def main(argv=None) -> int:
    from zoo.data import length_buckets
    from zoo.tokenization import Tokenizer
    from zoo.training import Trainer, TrainingArguments

    from dialog.card import model_card
    from dialog.chatbot import DIALOG_CONFIG, ChatBot
    from dialog.data import read_dialogs, split_dev
    from dialog.evaluate import evaluate, lm_loss, pad_batch
    from dialog.formats import CDialGPTFormat, NezhaGPTFormat

    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from zoo.loading import resolve_folder

    init_vocab = resolve_folder(args.init) / "vocab.txt" if args.init else None  # a folder or a hub id
    vocab = Path(args.vocab) if args.vocab else init_vocab if init_vocab and init_vocab.is_file() else \
        DEFAULT_VOCAB[args.family]
    tokenizer = Tokenizer(str(vocab), do_lower_case=True)
    fmt = NezhaGPTFormat(tokenizer, maxlen=args.maxlen) if args.family == "nezha-gpt" else \
        CDialGPTFormat(tokenizer, max_positions=args.maxlen)
    pad_id = getattr(fmt, "pad_id", 0)

    dialogs = read_dialogs(args.data, split=args.split)
    train, dev = split_dev(dialogs, args.dev_size, seed=args.seed)
    train = train[:args.limit] if args.limit else train
    samples = [s for d in train for s in fmt.training_samples(d)]
    print(f"{len(train)} training dialogs -> {len(samples)} samples; {len(dev)} dev dialogs", file=sys.stderr)

    model = build_model(args, len(tokenizer))
    cfg = model.config  # the model card reports the actual shape
    args.hidden, args.layers, args.heads, args.intermediate = (
        cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.intermediate_size)
    if args.device:
        model.to(args.device)
    output = Path(args.output)
    work = Path(args.work_dir) if args.work_dir else output.parent / f"{output.name}-work"

    def loss_fn(m, batch):
        device = next(m.parameters()).device
        return lm_loss(m, {k: v.to(device) for k, v in batch.items()})

    targs = TrainingArguments(output_dir=str(work), learning_rate=args.lr, weight_decay=0.01,
                              batch_size=1, gradient_accumulation_steps=args.grad_accum,
                              max_steps=args.max_steps, warmup_steps=args.warmup, max_grad_norm=1.0,
                              seed=args.seed, log_every=50, save_every=args.save_every)
    batches = length_buckets(samples, args.batch_size)  # sorted by length, ties in order
    trainer = Trainer(model, targs, batches, collate_fn=lambda b: pad_batch(b[0], pad_id), loss_fn=loss_fn)
    start = time.time()
    trainer.train()
    seconds = time.time() - start
    trainer.save_model(str(output))
    shutil.copyfile(vocab, output / "vocab.txt")
    (output / DIALOG_CONFIG).write_text(json.dumps({"family": args.family}, indent=2) + "\n", encoding="utf-8")

    decoding = decoding_options(args)
    bot = ChatBot.from_pretrained(output, device=args.device, **decoding)
    if decoding:  # stored as the model's preset, validated first
        config = {"family": args.family, "preset": bot.options()}
        (output / DIALOG_CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    metrics = evaluate(bot, dev[:args.dev_eval], seed=args.seed)
    size_mb = sum(f.stat().st_size for f in output.iterdir() if f.is_file()) / 2**20
    params = sum(p.numel() for p in bot.model.parameters())
    card = model_card(args, argv, len(train), len(samples), params, size_mb, metrics, seconds,
                      decoding=bot.options(), vocab_size=len(tokenizer))
    (output / "README.md").write_text(card, encoding="utf-8")
    metrics.pop("examples")
    print(json.dumps({**metrics, "params": params, "size_mb": round(size_mb, 2), "train_seconds": round(seconds)},
                     ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
