"""Copy mechanism pieces: LCS copy labels for training (bert4keras `longest_common_subsequence`, as SPACES uses it) and the copy-constrained decoding
logits processor with per-row state for ``zoo.generate``."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from zoo.generation import LogitsProcessor, Step

FREE, COPY_START, COPY_CONTINUE = 0, 1, 2


def longest_common_subsequence(source: Sequence, target: Sequence) -> tuple[int, list[tuple[int, int]]]:
    """bert4keras ``longest_common_subsequence``: LCS length and its (source, target) index pairs.

    Same DP tie-breaking and greedy backtrack from the end as the original, so the mapping is identical.
    """
    n, m = len(source), len(target)
    c = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        row, prev, si = c[i], c[i - 1], source[i - 1]
        for j in range(1, m + 1):
            if si == target[j - 1]:
                row[j] = prev[j - 1] + 1
            elif row[j - 1] > prev[j]:
                row[j] = row[j - 1]
            else:
                row[j] = prev[j]
    length, mapping = c[n][m], []
    i, j = n - 1, m - 1
    while len(mapping) < length:
        if source[i] == target[j]:
            mapping.append((i, j))
            i, j = i - 1, j - 1
        elif c[i + 1][j] > c[i][j + 1]:
            j -= 1
        else:
            i -= 1
    return length, mapping[::-1]


def copy_labels(source: Sequence[int], target: Sequence[int]) -> tuple[list[int], list[int]]:
    """SPACES ``generate_copy_labels``: 2 where an LCS pair continues the previous pair in both sequences,
    1 for any other LCS pair, 0 for unmatched tokens. Returns (source_labels, target_labels)."""
    source_labels, target_labels = [FREE] * len(source), [FREE] * len(target)
    i0 = j0 = -2
    for i, j in longest_common_subsequence(source, target)[1]:
        label = COPY_CONTINUE if (i == i0 + 1 and j == j0 + 1) else COPY_START
        source_labels[i] = target_labels[j] = label
        i0, j0 = i, j
    return source_labels, target_labels


def sequence_copy_labels(token_ids: Sequence[int], noisy_ids: Sequence[int], sep_id: int) -> list[int]:
    """Labels aligned with the UniLM input ``[CLS] src [SEP] [CLS] tgt [SEP]`` (length L-1):
    noisy source labels followed by the clean target labels without the first one."""
    idx = list(token_ids).index(sep_id) + 1
    src, tgt = copy_labels(list(noisy_ids[:idx]), list(token_ids[idx:]))
    return src + tgt[1:]


def _ngram_table(ids: Sequence[int], n: int) -> dict[tuple[int, ...], set[int]]:
    table: dict[tuple[int, ...], set[int]] = {}
    for i in range(len(ids) - n + 1):
        table.setdefault(tuple(ids[i:i + n - 1]), set()).add(ids[i + n - 1])
    return table


class CopyConstraint(LogitsProcessor):
    """SPACES copy-constrained decoding as a ``zoo.generate`` logits processor with per-row state.

    Each step: copy label = argmax of the copy head (label 2 not allowed right after free generation);
    state 0 = free, 1 = start a copy, 2 -> state+1 = continue the copy. With state n > 0 only tokens that follow
    the last n-1 generated tokens somewhere in the source are allowed (falling back to all source tokens, state 1);
    then only the ``k_sparse`` best logits are kept (others -1000), matching the sparse-softmax training.
    The engine re-indexes the state tensor when beams are reordered, fixing the misalignment of the original.

    ``step.generated`` holds the new tokens only; as in SPACES the output history starts with the target's start
    token (``start_id``, [CLS]), so a 2-gram copy may start from the source's [CLS].
    The copy-head probabilities come from the same forward pass as the logits: ``step.output.copy_logits``
    (a :class:`~summarize.generator.SpacesOutput`), last position.
    """

    def __init__(self, sources: Sequence[Sequence[int]], start_id: int, k_sparse: int = 10):
        self.sources = [list(s) for s in sources]
        self.start_id = start_id
        self.k_sparse = k_sparse
        self._tables: dict[tuple[int, int], dict] = {}

    def initial_state(self, batch_size: int) -> torch.Tensor:
        """Per-row state tensor [batch, 2]: (copy n-gram length, source row); the engine expands it to beams."""
        rows = torch.arange(batch_size)
        return torch.stack([torch.zeros_like(rows), rows], dim=1)

    def _table(self, row: int, n: int) -> dict:
        key = (row, n)
        if key not in self._tables:
            self._tables[key] = _ngram_table(self.sources[row], n)
        return self._tables[key]

    def __call__(self, step: Step, logits: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        generated = step.generated
        probs = torch.softmax(step.output.copy_logits[:, -1].float(), dim=-1)
        state = state.clone()
        out = torch.full_like(logits, -1000.0)
        history = [[self.start_id] + row for row in generated.tolist()] if generated.ndim == 2 else None
        if history is None or len(history) != logits.shape[0]:
            history = [[self.start_id] for _ in range(logits.shape[0])]
        for r in range(logits.shape[0]):
            n, src_row = int(state[r, 0]), int(state[r, 1])
            if n == FREE:
                probs[r, COPY_CONTINUE] = -probs[r, COPY_CONTINUE]
            label = int(probs[r].argmax())
            n = label if label < COPY_CONTINUE else n + 1
            if n > 0:
                table = self._table(src_row, n)
                prefix = tuple(history[r][len(history[r]) - (n - 1):]) if n > 1 else None
                if prefix is not None and len(history[r]) >= n - 1 and prefix in table:
                    candidates = table[prefix]
                else:
                    candidates, n = self._table(src_row, 1).get((), set()), 1
                idx = torch.tensor(sorted(candidates), dtype=torch.long, device=logits.device)
                if idx.numel():
                    out[r, idx] = logits[r, idx]
                else:
                    out[r] = logits[r]
            else:
                out[r] = logits[r]
            state[r, 0] = n
        k = min(self.k_sparse, out.shape[-1])
        if k < out.shape[-1]:
            kth = out.topk(k, dim=-1).values[:, -1:]
            out = out.masked_fill(out < kth, -1000.0)
        return out, state


@torch.no_grad()
def reference_decode(model, prompt: Sequence[int], start_id: int, end_id: int, max_new_tokens: int,
                     k_sparse: int = 10) -> list[int]:
    """The original SPACES decoding loop, greedy: re-runs the whole model on prompt + output every step (no
    cache) and applies the copy rule inline. Kept as the parity reference for :class:`CopyConstraint` and as
    the speed baseline; returns the new tokens (end id included when reached)."""
    output, state = [start_id], 0
    for _ in range(max_new_tokens):
        ids = torch.tensor([list(prompt) + output])
        types = torch.tensor([[0] * len(prompt) + [1] * len(output)])
        out = model(ids, token_type_ids=types)
        logits = out.logits[0, -1].float()
        copy = torch.softmax(out.copy_logits[0, -1].float(), -1)
        if state == FREE:
            copy[COPY_CONTINUE] = -copy[COPY_CONTINUE]
        label = int(copy.argmax())
        state = label if label < COPY_CONTINUE else state + 1
        probas = logits
        if state > 0:
            table = _ngram_table(prompt, state)
            prefix = tuple(output[1 - state:]) if state > 1 else tuple(output)
            if prefix in table:
                candidates = table[prefix]
            else:
                candidates, state = _ngram_table(prompt, 1)[()], 1
            probas = torch.full_like(logits, -1000.0)
            idx = sorted(candidates)
            probas[idx] = logits[idx]
        kth = probas.topk(min(k_sparse, probas.numel())).values[-1]
        probas = probas.masked_fill(probas < kth, -1000.0)
        token = int(probas.argmax())
        output.append(token)
        if token == end_id:
            break
    return output[1:]
