"""The model card written next to a dialog model trained from scratch."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path


def model_card(args, argv, n_train: int, n_samples: int, params: int, size_mb: float, metrics: dict,
               seconds: float, decoding: dict | None = None, vocab_size: int | None = None) -> str:
    """README.md of a model trained by scripts/train_dialog.py: `args` are its parsed arguments, `argv` its
    command line, `metrics` the dev results of `dialog.evaluate.evaluate`, `decoding` the stored preset."""
    command = "python scripts/train_dialog.py " + " ".join(argv)
    examples = "\n".join(f"- {' / '.join(e['history'])} -> **{e['reply']}** (reference: {e['reference']})"
                         for e in metrics.get("examples", []))
    shown = {k: v for k, v in metrics.items() if k != "examples"}
    return f"""# nlpzoo dialog default model ({args.family})

A small {args.family} chit-chat LM trained {f"from `{args.init}`" if getattr(args, "init", None) else "from scratch"} by `scripts/train_dialog.py`. It is a demo-sized model
({params / 1e6:.2f} M parameters, {size_mb:.1f} MB) trained for {seconds / 60:.0f} minutes on a 2-core CPU: it knows
the format and common short replies, nothing more. Use a real checkpoint (e.g. a NEZHA-GPT conversion or
`thu-coai/CDial-GPT_LCCC-large`) for useful conversations.

- Architecture: {args.layers} layers, hidden {args.hidden}, {args.heads} heads, FFN {args.intermediate},
  {'NEZHA relative positions (clip 64)' if args.family == 'nezha-gpt' else 'absolute positions'}, causal LM,
  tied BERT-style LM head; vocab: {vocab_size or "?"} tokens.
- Input format: `[CLS] u1 [SEP] u2 [SEP] ...`, segment ids alternating 0/1; loss on every token (as nezha_gpt_dialog).
- Data: `{Path(args.data).name}` (LCCC-base official valid split, 19,996 dialogues) minus a held-out dev slice of
  {args.dev_size} dialogues (seeded shuffle, seed {args.seed}); {n_train} training dialogues -> {n_samples} samples,
  maxlen {args.maxlen}.
- Training: AdamW lr {args.lr}, weight decay 0.01, warmup {args.warmup}, batch {args.batch_size} x accumulation
  {args.grad_accum}, {args.max_steps} steps, seed {args.seed}, {date.today().isoformat()}.
- Command: `{command}`
- Decoding preset (`dialog_config.json`): `{json.dumps(decoding or {}, ensure_ascii=False)}`.

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
