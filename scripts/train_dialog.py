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
from datetime import date
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
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
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--intermediate", type=int, default=512)
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
    return p.parse_args(argv)


def build_model(args, vocab_size: int):
    import zoo

    if args.init:
        return zoo.from_pretrained(args.init, head="lm", attention="causal")
    config = zoo.ZooConfig(
        vocab_size=vocab_size, hidden_size=args.hidden, num_hidden_layers=args.layers,
        num_attention_heads=args.heads, intermediate_size=args.intermediate,
        hidden_dropout_prob=args.dropout, attention_probs_dropout_prob=args.dropout,
        position_embedding_type="relative" if args.family == "nezha-gpt" else "absolute",
        max_position_embeddings=args.maxlen, attention="causal", add_pooler=False,
        token_type_embedding="segment" if args.family == "nezha-gpt" else "shared",
        type_vocab_size=2 if args.family == "nezha-gpt" else 0)
    return zoo.ZooForLM(config)


def length_buckets(samples: list, batch_size: int) -> list[list]:
    """Batches of samples of similar length (sorted by length, then chunked): far less padding on CPU.
    The trainer shuffles the order of the batches."""
    ordered = sorted(samples, key=len)
    return [ordered[i:i + batch_size] for i in range(0, len(ordered), batch_size)]


def model_card(args, argv, n_train: int, n_samples: int, params: int, size_mb: float, metrics: dict,
               seconds: float) -> str:
    command = "python scripts/train_dialog.py " + " ".join(argv)
    examples = "\n".join(f"- {' / '.join(e['history'])} -> **{e['reply']}** (reference: {e['reference']})"
                         for e in metrics.get("examples", []))
    shown = {k: v for k, v in metrics.items() if k != "examples"}
    return f"""# nlpzoo dialog default model ({args.family})

A small {args.family} chit-chat LM trained from scratch by `scripts/train_dialog.py`. It is a demo-sized model
({params / 1e6:.2f} M parameters, {size_mb:.1f} MB) trained for {seconds / 60:.0f} minutes on a 2-core CPU: it knows
the format and common short replies, nothing more. Use a real checkpoint (e.g. a NEZHA-GPT conversion or
`thu-coai/CDial-GPT_LCCC-large`) for useful conversations.

- Architecture: {args.layers} layers, hidden {args.hidden}, {args.heads} heads, FFN {args.intermediate},
  {'NEZHA relative positions (clip 64)' if args.family == 'nezha-gpt' else 'absolute positions'}, causal LM,
  tied BERT-style LM head; vocab = the derived NEZHA-GPT dialog vocab (14,195 tokens, spec §2.2).
- Input format: `[CLS] u1 [SEP] u2 [SEP] ...`, segment ids alternating 0/1; loss on every token (spec §2.3-2.4).
- Data: `{Path(args.data).name}` (LCCC-base official valid split, 19,996 dialogues) minus a held-out dev slice of
  {args.dev_size} dialogues (seeded shuffle, seed {args.seed}); {n_train} training dialogues -> {n_samples} samples,
  maxlen {args.maxlen}.
- Training: AdamW lr {args.lr}, weight decay 0.01, warmup {args.warmup}, batch {args.batch_size} x accumulation
  {args.grad_accum}, {args.max_steps} steps, seed {args.seed}, {date.today().isoformat()}.
- Command: `{command}`
- Decoding preset: top-k 5 sampling, at most 32 new tokens (bojone's test.py).

## Dev metrics ({shown.get('cases')} held-out dialogues: last utterance = reference)
PPL of the reference responses (per token, end token included); BLEU-2/4 (character level, nltk method1
smoothing) and distinct-1/2 (%) of one sampled reply per dialogue with the preset above:

```json
{json.dumps(shown, ensure_ascii=False)}
```

Sample replies on the dev slice:
{examples}

Licence: the training data (LCCC) is for research use only.
"""


def main(argv=None) -> int:
    from zoo.tokenization import Tokenizer
    from zoo.training import Trainer, TrainingArguments

    from dialog.chatbot import DIALOG_CONFIG, ChatBot
    from dialog.data import read_dialogs, split_dev
    from dialog.evaluate import evaluate, lm_loss, pad_batch
    from dialog.formats import CDialGPTFormat, NezhaGPTFormat

    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    init_vocab = Path(args.init) / "vocab.txt" if args.init else None
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
    batches = length_buckets(samples, args.batch_size)
    trainer = Trainer(model, targs, batches, collate_fn=lambda b: pad_batch(b[0], pad_id), loss_fn=loss_fn)
    start = time.time()
    trainer.train()
    seconds = time.time() - start
    trainer.save_model(str(output))
    shutil.copyfile(vocab, output / "vocab.txt")
    (output / DIALOG_CONFIG).write_text(json.dumps({"family": args.family}, indent=2) + "\n", encoding="utf-8")

    bot = ChatBot.from_pretrained(output, device=args.device)
    metrics = evaluate(bot, dev[:args.dev_eval], seed=args.seed)
    size_mb = sum(f.stat().st_size for f in output.iterdir() if f.is_file()) / 2**20
    params = sum(p.numel() for p in bot.model.parameters())
    card = model_card(args, argv, len(train), len(samples), params, size_mb, metrics, seconds)
    (output / "README.md").write_text(card, encoding="utf-8")
    metrics.pop("examples")
    print(json.dumps({**metrics, "params": params, "size_mb": round(size_mb, 2), "train_seconds": round(seconds)},
                     ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
