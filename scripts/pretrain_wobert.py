"""MLM (continued) pre-training of WoBERT with its original masking recipe on the zoo training frame.

Text files (one document per line; ``category<TAB>text`` lines such as THUCNews keep the text after the tab) are
streamed through ``datasets``; see ``wobert.pretraining`` for chunking and masking. The defaults are
WoBERT's: lr 5e-6, weight decay 0.01, maxlen 512. ``--residual-attention`` trains a RealFormer variant.

    python scripts/pretrain_wobert.py --model junnyu/wobert_chinese_plus_base --data corpus.txt \\
        --output-dir runs/wobert --max-steps 1000 --batch-size 16 --grad-accum 16
"""

from __future__ import annotations

import argparse
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="initial checkpoint: hub id or folder (BERT/WoBERT/zoo)")
    parser.add_argument("--tokenizer", help="WoBERT tokenizer folder (default: --model)")
    parser.add_argument("--data", nargs="+", required=True, help="text files, one document per line")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--max-steps", type=int, required=True, help="optimizer steps")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--grad-accum", type=int, default=1)
    parser.add_argument("--lr", type=float, default=5e-6)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--warmup-steps", type=int, default=0)
    parser.add_argument("--maxlen", type=int, default=512)
    parser.add_argument("--residual-attention", action="store_true", help="RealFormer residual attention scores")
    parser.add_argument("--mixed-precision", default="no", choices=["no", "fp16", "bf16"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--save-every", type=int, default=None)
    parser.add_argument("--cpu", action="store_true")
    args = parser.parse_args(argv)
    if args.maxlen < 2 or args.max_steps < 1:
        parser.error("--maxlen must be >= 2 and --max-steps >= 1")
    for path in args.data:
        if not Path(path).is_file():
            parser.error(f"data file not found: {path}")
    return args


def documents(files: list[str]):
    """A re-iterable stream of document texts read with ``datasets`` (streaming)."""
    from datasets import load_dataset

    stream = load_dataset("text", data_files=list(files), split="train", streaming=True)

    class Docs:
        def __iter__(self):
            for row in stream:
                text = row["text"].split("\t", 1)[-1].strip()
                if text:
                    yield text

    return Docs()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from wobert import WoBertForMaskedLM, WoBertTokenizer
    from wobert.pretraining import MaskedChunks, collate_mlm, mlm_loss
    from zoo.training import Trainer, TrainingArguments

    tokenizer = WoBertTokenizer.from_pretrained(args.tokenizer or args.model)
    model = WoBertForMaskedLM.from_pretrained(args.model, residual_attention=args.residual_attention)
    if model.config.vocab_size != len(tokenizer.vocab):
        raise SystemExit(f"model vocab {model.config.vocab_size} != tokenizer vocab {len(tokenizer.vocab)}")
    model.train()

    def encode(text: str, maxlen: int) -> list[int]:
        return tokenizer.bert4keras_encode(text, maxlen=maxlen)[0]

    data = MaskedChunks(documents(args.data), encode, tokenizer.mask_token_id, len(tokenizer.vocab),
                        maxlen=args.maxlen, seed=args.seed)
    training = TrainingArguments(
        output_dir=args.output_dir, learning_rate=args.lr, weight_decay=args.weight_decay,
        batch_size=args.batch_size, gradient_accumulation_steps=args.grad_accum, max_steps=args.max_steps,
        warmup_steps=args.warmup_steps, mixed_precision=args.mixed_precision, seed=args.seed,
        log_every=args.log_every, save_every=args.save_every, cpu=args.cpu, progress_bar=False)
    trainer = Trainer(model, training, data, collate_fn=lambda batch: collate_mlm(batch, tokenizer.pad_token_id),
                      loss_fn=mlm_loss)
    trainer.train()
    final = Path(args.output_dir) / "final"
    trainer.save_model(final)
    tokenizer.save_pretrained(final)
    print(f"saved to {final}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
