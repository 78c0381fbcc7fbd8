"""Decoding speed of zoo.generate against the baselines named in issue 3, side by side in one run.

(a) UniLM greedy on a BERT-base shape (12 x 768, vocab 13,585), source 128 tokens, 32 new tokens, batch 1 and 8:
    ours (prompt once, KV cache) vs bert4keras-style decoding that re-runs the whole [source + output] through the
    model and its MLM head at every step, same weights. Tokens must be identical.
(b) CDial-GPT shape (OpenAI-GPT, 12 x 768, vocab 13,088), 64 context + 32 new tokens: greedy batch 1 and nucleus
    sampling (p 0.9, T 0.7) batch 8, ours vs transformers' `generate()` on the same weights (OpenAIGPT has no KV
    cache in transformers 5). Greedy tokens must be identical.

Random weights of the real shapes; no eos, so every run produces exactly the requested number of tokens.
Usage: python benchmarks/bench_generation.py [--device cuda] [--quick] [--repeats 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
import transformers as T

import zoo
from zoo.generation import generate


def compare(ours_fn, base_fn, repeats: int, sync):
    """Alternate ours and the baseline `repeats` times (after one warm-up of ours) so that the machine's drift
    hits both alike; return (median ours s, median baseline s, median of the per-pair ratios, outputs)."""
    ours_fn()
    sync()
    ours_t, base_t = [], []
    for _ in range(repeats):
        for fn, times in ((ours_fn, ours_t), (base_fn, base_t)):
            start = time.perf_counter()
            out = fn()
            sync()
            times.append(time.perf_counter() - start)
            if fn is ours_fn:
                ours_out = out
            else:
                base_out = out
    ratio = statistics.median(b / o for o, b in zip(ours_t, base_t))
    return statistics.median(ours_t), statistics.median(base_t), ratio, ours_out, base_out


@torch.no_grad()
def recompute_greedy(model, ids, types, new_tokens):
    """bert4keras AutoRegressiveDecoder with beam size 1: no cache, full sequence and head every step."""
    out = []
    for _ in range(new_tokens):
        logits = model(ids, token_type_ids=types).logits  # all positions, as model.predict does
        nxt = logits[:, -1].argmax(-1, keepdim=True)
        out.append(nxt)
        ids = torch.cat([ids, nxt], 1)
        types = torch.cat([types, torch.ones_like(nxt)], 1)
    return torch.cat(out, 1)


def bench_unilm(args, device, dtype, sync):
    cfg = zoo.ZooConfig(vocab_size=13585, hidden_size=768, num_hidden_layers=args.layers, num_attention_heads=12,
                        intermediate_size=3072, attention="unilm")
    torch.manual_seed(0)
    model = zoo.ZooForLM(cfg).eval().to(device, dtype)
    for batch in args.batches:
        ids = torch.randint(5, 13585, (batch, args.source), device=device)
        types = torch.zeros_like(ids)
        repeats = args.repeats if batch == 1 else max(1, args.repeats // 2)
        ours_t, base_t, ratio, ours, base = compare(
            lambda: generate(model, ids, token_type_ids=types, max_new_tokens=args.new),
            lambda: recompute_greedy(model, ids, types, args.new), repeats, sync)
        yield "(a) UniLM greedy", batch, ours_t, base_t, ratio, torch.equal(ours, base), batch * args.new / ours_t


def bench_cdial(args, device, dtype, sync):
    torch.manual_seed(0)
    hf_cfg = T.OpenAIGPTConfig(vocab_size=13088, n_embd=768, n_layer=args.layers, n_head=12, n_positions=513,
                               afn="gelu", pad_token_id=1)
    hf = T.OpenAIGPTLMHeadModel(hf_cfg).eval()
    folder = args.tmp
    hf.save_pretrained(folder)
    ours_model = zoo.from_pretrained(folder, head="lm").to(device, dtype)
    hf = hf.to(device, dtype)
    n = args.new
    for batch, sample in ((1, False), (8, True)):
        ids = torch.randint(5, 13000, (batch, args.context), device=device)
        mask = torch.ones_like(ids)
        kw = dict(do_sample=True, top_p=0.9, temperature=0.7) if sample else {}
        hf_kw = dict(do_sample=True, top_p=0.9, temperature=0.7, top_k=0) if sample else dict(do_sample=False)
        ours_t, base_t, ratio, ours, base = compare(
            lambda: generate(ours_model, ids, max_new_tokens=n, seed=1, **kw),
            lambda: hf.generate(ids, attention_mask=mask, max_new_tokens=n, min_new_tokens=n, pad_token_id=1,
                                **hf_kw)[:, args.context:], args.repeats, sync)
        same = torch.equal(ours, base) if not sample else None
        label = "(b) CDial-GPT nucleus" if sample else "(b) CDial-GPT greedy"
        yield label, batch, ours_t, base_t, ratio, same, batch * n / ours_t


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--quick", action="store_true", help="2 layers, short inputs: a smoke run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--tmp", default=None)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8], help="batch sizes for case (a)")
    parser.add_argument("--cases", default="ab", help="which cases to run: a, b or ab")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.layers, args.source, args.context, args.new = 12, 128, 64, 32
    if args.quick:
        args.layers, args.source, args.context, args.new, args.repeats = 2, 32, 16, 8, 1
    if args.tmp is None:
        import tempfile

        args.tmp = tempfile.mkdtemp()
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    sync = (lambda: torch.cuda.synchronize()) if device.type == "cuda" else (lambda: None)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"{platform.processor() or 'cpu'}, " \
        f"{torch.get_num_threads()} threads"
    print(f"device: {args.device} ({name}), dtype {args.dtype}, torch {torch.__version__}, "
          f"transformers {T.__version__}, layers {args.layers}")
    print("| case | batch | ours s (median) | baseline s (median) | speed-up (median of paired runs) "
          "| identical tokens | ours tokens/s |")
    print("|---|---|---|---|---|---|---|", flush=True)
    mismatch = False
    for label, batch, ours_t, base_t, ratio, same, tps in _rows(args, device, dtype, sync):
        same_text = "n/a (sampling)" if same is None else ("yes" if same else "NO")
        print(f"| {label} | {batch} | {ours_t:.3f} | {base_t:.3f} | {ratio:.1f}x | {same_text} | {tps:.0f} |",
              flush=True)
        mismatch |= same is False
    if mismatch:
        raise SystemExit("token mismatch between ours and the baseline")


def _rows(args, device, dtype, sync):
    """Each case as soon as it is measured."""
    if "a" in args.cases:
        yield from bench_unilm(args, device, dtype, sync)
    if "b" in args.cases:
        yield from bench_cdial(args, device, dtype, sync)


if __name__ == "__main__":
    main()
