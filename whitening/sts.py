"""STS data readers and the BERT-whitening evaluation protocol (bojone/BERT-whitening eval.py).

Formats recognised from the first line of a file (all tab-separated, UTF-8):
- `s1 \\t s2 \\t label`: Chinese senteval_cn (ATEC, BQ, LCQMC, PAWSX, STS-B), no header;
- header `score \\t sentence1 \\t sentence2` (converted STS-B tsv; any column order by header names);
- header `pair_ID \\t sentence_A \\t sentence_B \\t relatedness_score ...` (SICK, SentEval);
- `genre \\t file \\t year \\t id \\t score \\t s1 \\t s2 [\\t ...]` (original STS Benchmark csv);
- `subset \\t score \\t s1 \\t s2` (STS12-16 combined; pairs with an empty score are skipped).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from whitening.whitening import Whitening

STS_SUFFIXES = (".data", ".tsv", ".csv", ".txt")
_HEADER_NAMES = {
    "s1": ("sentence1", "sentence_a", "sentence 1", "s1", "text_a"),
    "s2": ("sentence2", "sentence_b", "sentence 2", "s2", "text_b"),
    "score": ("score", "relatedness_score", "label", "similarity", "gold"),
}


@dataclass
class STSSplit:
    """One evaluated file: sentence pairs and their gold scores."""

    name: str
    sentences1: list[str]
    sentences2: list[str]
    scores: np.ndarray
    subsets: list[str] = field(default_factory=list)  # per-pair subset name (STS12-16 format only)

    def __len__(self) -> int:
        return len(self.scores)

    def head(self, n: int) -> STSSplit:
        """The first n pairs (for quick runs)."""
        return STSSplit(self.name, self.sentences1[:n], self.sentences2[:n], self.scores[:n], self.subsets[:n])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _header_columns(fields: list[str]) -> tuple[int, int, int] | None:
    """Column indices (s1, s2, score) if `fields` is a header line naming them."""
    lowered = [f.strip().lower() for f in fields]
    found = {}
    for role, names in _HEADER_NAMES.items():
        hits = [i for i, f in enumerate(lowered) if f in names]
        if not hits:
            return None
        found[role] = hits[0]
    return found["s1"], found["s2"], found["score"]


def _detect(fields: list[str]) -> tuple[str, tuple[int, int, int, int | None]]:
    """(kind, (s1, s2, score, subset)) from a file's first line; kind "header" means skip that line."""
    header = _header_columns(fields)
    if header is not None:
        return "header", (*header, None)
    if len(fields) == 3 and _is_number(fields[2]):
        return "pairs", (0, 1, 2, None)
    if len(fields) >= 7 and _is_number(fields[4]):
        return "stsbenchmark", (5, 6, 4, None)
    if len(fields) == 4 and (_is_number(fields[1]) or not fields[1].strip()):
        return "subset", (2, 3, 1, 0)
    raise ValueError(
        f"unrecognised STS line format ({len(fields)} tab-separated fields): expected 's1\\ts2\\tlabel', a header "
        "naming sentence1/sentence2/score, the STS Benchmark csv or 'subset\\tscore\\ts1\\ts2'"
    )


def read_sts(path: str | Path, name: str | None = None) -> STSSplit:
    """Read one STS file in any of the module's formats into an `STSSplit` named after the file stem."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise ValueError(f"{path} is empty")
    kind, (c1, c2, cs, csub) = _detect(lines[first].split("\t"))
    s1, s2, scores, subsets = [], [], [], []
    for lineno, line in enumerate(lines[first + (kind == "header"):], start=first + 1 + (kind == "header")):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) <= max(c1, c2, cs):
            raise ValueError(f"{path}:{lineno}: expected at least {max(c1, c2, cs) + 1} tab-separated fields")
        score = fields[cs].strip()
        if kind == "subset" and not score:
            continue
        if not _is_number(score):
            raise ValueError(f"{path}:{lineno}: score {score!r} is not a number")
        s1.append(fields[c1])
        s2.append(fields[c2])
        scores.append(float(score))
        if csub is not None:
            subsets.append(fields[csub])
    if not scores:
        raise ValueError(f"{path} contains no scored pairs")
    return STSSplit(name or path.stem, s1, s2, np.asarray(scores, dtype=np.float64), subsets)


def load_sts(paths: str | Path | Sequence[str | Path]) -> list[STSSplit]:
    """Read STS files; a folder contributes every `*.data/.tsv/.csv/.txt` file directly inside it (sorted)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    splits = []
    for p in map(Path, paths):
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix in STS_SUFFIXES
                           and not f.name.lower().startswith(("readme", "license")))
            if not files:
                raise ValueError(f"no STS files ({', '.join(STS_SUFFIXES)}) in {p}")
            splits.extend(read_sts(f) for f in files)
        elif p.is_file():
            splits.append(read_sts(p))
        else:
            raise FileNotFoundError(f"STS data not found: {p}")
    return splits


# ------------------------------------------------------------------------------------------------- metrics
def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows divided by their L2 norm clipped at 1e-8 (BERT-whitening `normalize`)."""
    return x / np.clip(np.linalg.norm(x, axis=-1, keepdims=True), 1e-8, None)


def pair_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of a[i] and b[i]."""
    return (l2_normalize(a) * l2_normalize(b)).sum(axis=-1)


def spearman(gold: np.ndarray, predicted: np.ndarray) -> float:
    """Spearman rank correlation (scipy), the STS metric of BERT-flow/BERT-whitening."""
    return float(spearmanr(gold, predicted).correlation)


def summarize(per_split: dict[str, float], sizes: dict[str, int]) -> dict[str, float]:
    """Plain and size-weighted averages of per-split correlations."""
    names = list(per_split)
    values = np.array([per_split[n] for n in names])
    weights = np.array([sizes[n] for n in names], dtype=np.float64)
    return {"average": float(values.mean()), "weighted_average": float(np.average(values, weights=weights))}


# ---------------------------------------------------------------------------------------------- evaluation
Embedder = Callable[[list[str]], np.ndarray]


def _fit_whitening(fit: str | Sequence[str] | np.ndarray | Whitening, target: np.ndarray, embed: Embedder,
                   regularization: float) -> Whitening:
    if isinstance(fit, Whitening):
        return fit
    if isinstance(fit, str):
        if fit != "target":
            raise ValueError(f"fit must be 'target', sentences, vectors or a Whitening, got {fit!r}")
        vectors = target
    elif isinstance(fit, np.ndarray):
        vectors = fit
    else:
        vectors = embed(list(fit))
    return Whitening(regularization=regularization).fit(vectors)


def evaluate_sts(
    embed: Embedder,
    splits: Sequence[STSSplit],
    n_components: Sequence[int] = (0,),
    fit: str | Sequence[str] | np.ndarray | Whitening = "target",
    regularization: float = 0.0,
) -> dict[str, dict]:
    """Spearman per split and averaged, for each k in `n_components` (0 = no whitening, -1 = all dims).

    `embed` maps a list of sentences to vectors [N, dim]; every distinct sentence is embedded once.
    fit="target" fits on both sentences of every pair of every split, duplicates included, as the original
    (transductive, as the original eval.py); otherwise fit on other sentences, precomputed vectors, or a fitted `Whitening`.
    Returns {"k=<k>": {"per_split": {name: rho}, "average": ..., "weighted_average": ...}, "sizes": {...}};
    a k the whitening cannot give (above the covariance rank without regularization) maps to {"error": message}.
    """
    if not splits:
        raise ValueError("no STS splits to evaluate")
    names = [s.name for s in splits]
    if len(set(names)) != len(names):
        raise ValueError(f"split names must be unique, got {names}")
    unique = list(dict.fromkeys(sent for s in splits for sent in (*s.sentences1, *s.sentences2)))
    index = {sent: i for i, sent in enumerate(unique)}
    vectors = np.asarray(embed(unique))
    if vectors.ndim != 2 or vectors.shape[0] != len(unique):
        raise ValueError(f"embed returned shape {vectors.shape} for {len(unique)} sentences")
    rows = {s.name: (np.array([index[t] for t in s.sentences1]), np.array([index[t] for t in s.sentences2]))
            for s in splits}
    sizes = {s.name: len(s) for s in splits}
    whitening = None
    if any(k != 0 for k in n_components):
        target = vectors[np.concatenate([np.concatenate(r) for r in rows.values()])]
        whitening = _fit_whitening(fit, target, embed, regularization)
    results: dict[str, dict] = {"sizes": sizes}
    for k in n_components:
        try:
            projected = vectors if k == 0 else whitening.transform(vectors, n_components=k)
        except ValueError as err:  # e.g. k above the covariance rank: reported, not fatal for the other k
            results[f"k={k}"] = {"error": str(err)}
            continue
        per_split = {s.name: spearman(s.scores, pair_cosines(projected[rows[s.name][0]], projected[rows[s.name][1]]))
                     for s in splits}
        results[f"k={k}"] = {"per_split": per_split, **summarize(per_split, sizes)}
    return results


def results_table(results: dict[str, dict]) -> str:
    """Markdown table: one row per k, one column per split (Spearman x 100), then both averages (n/a: error)."""
    keys = [k for k in results if k.startswith("k=")]
    splits = list(results["sizes"])
    lines = ["| k | " + " | ".join(splits) + " | avg | weighted avg |", "|---" * (len(splits) + 3) + "|"]
    for key in keys:
        r = results[key]
        if "error" in r:
            lines.append(f"| {key[2:]} | " + " | ".join(["n/a"] * (len(splits) + 2)) + " |")
            continue
        cells = [f"{100 * r['per_split'][s]:.2f}" for s in splits]
        lines.append(f"| {key[2:]} | " + " | ".join(cells) + f" | {100 * r['average']:.2f} | "
                     f"{100 * r['weighted_average']:.2f} |")
    return "\n".join(lines)
