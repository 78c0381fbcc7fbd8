"""Stage A: clause splitting and the greedy oracle extraction labels (bojone/SPACES extract_convert.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zoo.segmentation import text_segmentate

from .metrics import OFFICIAL_USER_DICT, rouge

CLAUSE_SEPS = "\n。；：，"
MAX_CLAUSES = 256


def split_clauses(text: str, limit: int | None = MAX_CLAUSES) -> list[str]:
    """SPACES ``text_split``: every ``\\n。；：，`` ends a clause; keep only the last ``limit`` clauses."""
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    clauses = text_segmentate(text, 1, CLAUSE_SEPS)
    return clauses[-limit:] if limit else clauses


def extract_matching(texts: list[str], summaries: list[str]) -> list[tuple[int, int]]:
    """Greedy clause alignment: (summary clause i, document clause j) pairs, as SPACES ``extract_matching``.

    The longest summary clause is matched to the document clause with the best char-level main score
    (first maximum), then the parts left and right of the match are aligned recursively (clause j may be
    reused on both sides). Written with an explicit stack; the output order equals the recursive one.
    """
    result: list[tuple[int, int]] = []
    # stack items: ("solve", i0, i1, j0, j1) on summaries[i0:i1], texts[j0:j1]; or ("emit", (i, j))
    stack: list[tuple] = [("solve", 0, len(summaries), 0, len(texts))]
    while stack:
        item = stack.pop()
        if item[0] == "emit":
            result.append(item[1])
            continue
        _, i0, i1, j0, j1 = item
        if i1 <= i0 or j1 <= j0:
            continue
        lengths = [len(s) for s in summaries[i0:i1]]
        i = i0 + lengths.index(max(lengths))
        scores = [rouge(t, summaries[i], "char")["main"] for t in texts[j0:j1]]
        j = j0 + scores.index(max(scores))
        stack.append(("solve", i + 1, i1, j, j1))
        stack.append(("emit", (i, j)))
        stack.append(("solve", i0, i, j0, j + 1))
    return result


@dataclass
class Oracle:
    """Oracle extraction of one document: its clauses, selected clause indices, extract and word-level main."""

    clauses: list[str]
    labels: list[int]
    extract: str
    main: float


def extract_oracle(text: str, summary: str, user_dict: str | Path | None = OFFICIAL_USER_DICT) -> Oracle:
    """SPACES ``extract_flow``: clauses (last 256), oracle labels, the oracle summary and its word-level main."""
    clauses = split_clauses(text)
    mapping = extract_matching(clauses, split_clauses(summary, None))
    labels = sorted({j for _, j in mapping})
    extract = "".join(clauses[j] for j in labels)
    return Oracle(clauses, labels, extract, rouge(extract, summary, "word", user_dict)["main"])
