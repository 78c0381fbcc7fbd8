"""Reply throughput: dialog.ChatBot (batched, KV-cached zoo generation) vs CDial-GPT's decoding loop (interact.py /
infer.py: one history at a time, the full transformers model re-run on the whole sequence every step, top-p 0.9,
T 0.7), on the same random OpenAIGPT model in the thu-coai hub layout. Both generate exactly --new-tokens tokens.

Usage: python benchmarks/bench_dialog.py [--quick] [--data PATH]   (prints a markdown table)"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / ".." / "shared"


def cdial_baseline(model, fmt, history: list[str], new_tokens: int, top_p=0.9, temperature=0.7) -> list[int]:
    """CDial-GPT interact.py sample_sequence, batch 1, no cache (min/max length = new_tokens)."""
    prompt = fmt.build_inputs(history)
    ids, types = list(prompt.input_ids), list(prompt.token_type_ids)
    out: list[int] = []
    specials = set(fmt.end_token_ids())
    for step in range(new_tokens):
        x = torch.tensor([ids + out])
        t = torch.tensor([types + [prompt.response_type_id] * len(out)])
        logits = model(input_ids=x, token_type_ids=t).logits[0, -1] / temperature
        sorted_logits, order = torch.sort(logits, descending=True)
        cum = torch.cumsum(F.softmax(sorted_logits, dim=-1), dim=-1)
        remove = cum > top_p
        remove[1:] = remove[:-1].clone()
        remove[0] = False
        logits[order[remove]] = -float("inf")
        logits[list(specials)] = -float("inf")  # the min-length rule, applied to every step here
        out.append(int(torch.multinomial(F.softmax(logits, dim=-1), 1)))
    return out


def main(argv=None) -> int:
    from transformers import OpenAIGPTConfig, OpenAIGPTLMHeadModel

    from dialog import ChatBot, read_dialogs

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--data", default=str(SHARED / "data" / "lccc" / "cdial_gpt_toy" / "toy_data.json"))
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    n, hidden, layers, new_tokens, batch = (4, 64, 2, 10, 4) if args.quick else (32, 256, 4, 30, 16)

    histories = [d[:-1] for d in read_dialogs(args.data, split="test")[:n]]
    folder = Path(tempfile.mkdtemp())
    torch.manual_seed(0)
    cfg = OpenAIGPTConfig(vocab_size=13088, n_positions=513, n_embd=hidden, n_layer=layers, n_head=4)
    hf = OpenAIGPTLMHeadModel(cfg).eval()
    hf.save_pretrained(folder)
    shutil.copyfile(SHARED / "vocab" / "cdial_gpt_vocab.txt", folder / "vocab.txt")
    bot = ChatBot.from_pretrained(folder)

    with torch.inference_mode():
        start = time.perf_counter()
        for h in histories:
            cdial_baseline(hf, bot.format, h, new_tokens)
        base = time.perf_counter() - start
        start = time.perf_counter()
        for i in range(0, n, batch):
            bot.reply_batch(histories[i:i + batch], seed=i, max_new_tokens=new_tokens, min_new_tokens=new_tokens)
        ours = time.perf_counter() - start
    shutil.rmtree(folder, ignore_errors=True)

    print("| method | replies | new tokens | seconds | replies/s | speed-up |")
    print("|---|---|---|---|---|---|")
    print(f"| CDial-GPT loop (HF, batch 1, no cache) | {n} | {new_tokens} | {base:.2f} | {n / base:.2f} | 1.00x |")
    print(f"| dialog.ChatBot.reply_batch (batch {batch}, KV cache) | {n} | {new_tokens} | {ours:.2f} | "
          f"{n / ours:.2f} | {base / ours:.2f}x |")
    print(f"\nmodel: OpenAIGPT hidden {hidden}, {layers} layers, vocab 13088; torch {torch.__version__}, "
          f"{args.threads} thread(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
