"""SPACES stage E: train the UniLM generator with copy head, input noise, sparse softmax and EMA (SPACES seq2seq_model.py).

    # from a BERT-family / NEZHA / WoBERT checkpoint (vocab reduced and extended with the user dictionaries):
    python scripts/spaces_seq2seq_train.py --data work/seq2seq.jsonl --init CHECKPOINT_FOLDER --out work/generator
    # or a small model from scratch:
    python scripts/spaces_seq2seq_train.py --data work/seq2seq.jsonl --scratch 128,2,4 --out work/generator
Writes a SpacesForSummary folder (config.json, model.safetensors, vocab.txt) with the EMA weights.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"


def build_model(args):
    """(model, vocab dict) from --init (keep/compound tokens as SPACES) or --scratch hidden,layers,heads."""
    import zoo

    from summarize.generator import SpacesForSummary
    from summarize.vocab import build_spaces_vocab

    user_dicts = [Path(args.user_dict), Path(args.user_dict_2)]
    if args.init:
        vocab, keep, compound = build_spaces_vocab(Path(args.init) / "vocab.txt", user_dicts)
        lm = zoo.from_pretrained(args.init, head="mlm", attention="unilm", keep_tokens=keep,
                                 compound_tokens=compound)
        return SpacesForSummary.from_lm(lm), vocab
    from summarize.presets import generator_config

    vocab, _, _ = build_spaces_vocab(args.base_vocab, user_dicts)
    return SpacesForSummary(generator_config(len(vocab), args.scratch, args.max_positions)), vocab


def main(argv=None) -> int:
    import torch

    from zoo.training import TrainingArguments

    from summarize.training import train_generator
    from summarize.vocab import save_vocab, word_tokenizer

    cail = SHARED / "data" / "cail2020_sfzy"
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="seq2seq JSON Lines from spaces_seq2seq_convert.py")
    p.add_argument("--out", required=True)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--init", help="checkpoint folder (with vocab.txt) that zoo.from_pretrained loads")
    g.add_argument("--scratch",
                   help="a randomly initialised model: preset name (summarize.presets) or hidden,layers,heads")
    p.add_argument("--base-vocab", default=str(SHARED / "vocab" / "bert_chinese_vocab.txt"))
    p.add_argument("--user-dict", default=str(cail / "user_dict.txt"))
    p.add_argument("--user-dict-2", default=str(cail / "user_dict_2.txt"))
    p.add_argument("--max-positions", type=int, default=512, help="--scratch only")
    p.add_argument("--maxlen", type=int, default=1024)
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--ema", type=float, default=0.9999)
    p.add_argument("--noise", type=float, default=0.15)
    p.add_argument("--k-sparse", type=int, default=10,
                   help="top-k of the sparse softmax; 0 = full softmax (needed when training from scratch)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with open(args.data, encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    model, vocab = build_model(args)
    maxlen = min(args.maxlen, model.config.max_position_embeddings) \
        if model.config.position_embedding_type == "absolute" else args.maxlen
    tokenizer = word_tokenizer(vocab, args.user_dict)
    targs = TrainingArguments(output_dir=str(Path(args.out) / "run"), learning_rate=args.lr, weight_decay=0.0,
                              batch_size=args.batch_size, num_epochs=args.epochs, max_steps=args.max_steps,
                              ema_decay=args.ema or None, lr_schedule="constant", seed=args.seed, log_every=50,
                              save_every=500, max_grad_norm=None)
    trainer = train_generator(model, tokenizer, records, targs, maxlen=maxlen, noise=args.noise,
                              k_sparse=args.k_sparse or None)
    trainer.save_model(args.out)
    save_vocab(vocab, Path(args.out) / "vocab.txt")
    print(json.dumps({"steps": trainer.state.global_step, "loss": trainer.history[-1].get("loss")
                      if trainer.history else None}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
