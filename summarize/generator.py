"""Stage E: the SPACES generator (UniLM + copy head), its training data and losses (bojone/SPACES seq2seq_model.py)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from zoo.modeling import ZooForLM, ZooLMOutput

from .copy import sequence_copy_labels

K_SPARSE = 10


@dataclass
class SpacesOutput(ZooLMOutput):
    copy_logits: torch.Tensor | None = None


class SpacesForSummary(ZooForLM):
    """UniLM LM (tied MLM head) plus the SPACES copy head: Dense(3) on the MLM-transform output.

    ``copy_logits[b, t]`` scores (free, start a copy, continue a copy) for the token after position t; during
    ``zoo.generate`` the copy-constrained logits processor reads them from each step's output.
    """

    def __init__(self, config):
        super().__init__(config)
        self.copy_head = nn.Linear(config.hidden_size, 3)
        self.post_init()

    def forward(self, input_ids, token_type_ids=None, attention_mask=None, **kwargs) -> SpacesOutput:
        out = super().forward(input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask, **kwargs)
        return SpacesOutput(**dict(out.items()), copy_logits=self.copy_head(out.head_hidden_state))

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs) -> SpacesForSummary:
        """A folder saved by ``save_pretrained`` (Hugging Face layout), or the SPACES training script's own
        ``model.save_weights`` file (see ``from_bert4keras``)."""
        if not args and _is_bert4keras(pretrained_model_name_or_path):
            return cls.from_bert4keras(pretrained_model_name_or_path, **kwargs)
        return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)

    @classmethod
    def from_bert4keras(cls, path, dtype: torch.dtype | None = None,
                        device: str | torch.device | None = None) -> SpacesForSummary:
        """Load what bojone/SPACES seq2seq_model.py saves with ``model.save_weights``: a Keras HDF5 ``.weights``
        file (``path``, or the one such file in folder ``path``) beside the pretrained model's
        ``bert_config.json`` / ``config.json``. The UniLM (BERT or NEZHA, tied MLM head; a ``keep_tokens`` /
        ``compound_tokens`` vocabulary is sized by the stored table) loads as in ``zoo.from_pretrained``; the copy
        head is the one extra ``Dense`` layer with a [hidden, 3] kernel and a [3] bias, whatever Keras named it.
        Its softmax is ``copy_logits.softmax(-1)``."""
        import zoo
        from zoo.bert4keras_io import find_original, take_dense_head

        original = find_original(path)
        if original is None:
            raise FileNotFoundError(f"{path}: no bert4keras `.weights` file with its bert_config.json / config.json")
        _, kernel, bias = take_dense_head(original, 3)
        lm = zoo.from_pretrained(original, head="mlm", attention="unilm")
        model = cls.from_lm(lm)
        with torch.no_grad():
            model.copy_head.weight.copy_(torch.from_numpy(kernel.T.astype("float32")))
            model.copy_head.bias.copy_(torch.from_numpy(bias.astype("float32")))
        if dtype is not None or device is not None:
            model.to(device=device, dtype=dtype)
        return model.eval()

    @classmethod
    def from_lm(cls, lm: ZooForLM) -> SpacesForSummary:
        """Wrap a loaded ZooForLM (e.g. from ``zoo.from_pretrained(..., head="mlm", attention="unilm")``);
        the copy head starts fresh."""
        model = cls(lm.config)
        missing, unexpected = model.load_state_dict(lm.state_dict(), strict=False)
        if unexpected or any(not k.startswith("copy_head.") for k in missing):
            raise ValueError(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
        return model.to(next(lm.parameters()).device)


def _is_bert4keras(path) -> bool:
    """One of the originals' layouts (a Keras HDF5 file or TF checkpoint, or a folder holding one and no
    Hugging Face weights), rather than a Hugging Face folder or hub id."""
    from zoo.bert4keras_io import Original, find_original

    return isinstance(path, Original) or (isinstance(path, (str, Path)) and find_original(path) is not None)


def target_positions(token_type_ids: torch.Tensor) -> torch.Tensor:
    """[B, L-1] bool: position t is scored iff its own and the next token are target (segment 1)."""
    return (token_type_ids[:, :-1] * token_type_ids[:, 1:]).bool()


def sparse_cross_entropy(logits: torch.Tensor, target: torch.Tensor, k: int = K_SPARSE) -> torch.Tensor:
    """Mean over rows of logsumexp(top-k logits) - logit of the target (the true token is not forced into the
    top k); ``k >= vocab`` is the ordinary cross-entropy."""
    logits = logits.float()
    pos = logits.gather(-1, target[..., None])[..., 0]
    if k >= logits.shape[-1]:
        neg = torch.logsumexp(logits, dim=-1)
    else:
        neg = torch.logsumexp(logits.topk(k, dim=-1).values, dim=-1)
    return (neg - pos).mean() if pos.numel() else logits.sum() * 0.0


def sparse_softmax_loss(logits: torch.Tensor, input_ids: torch.Tensor, token_type_ids: torch.Tensor,
                        k: int = K_SPARSE) -> torch.Tensor:
    """SPACES seq2seq loss on full logits [B, L, V]: sparse cross-entropy of token t+1 at every target position t."""
    mask = target_positions(token_type_ids)
    return sparse_cross_entropy(logits[:, :-1][mask], input_ids[:, 1:][mask], k)


def copy_loss(copy_logits: torch.Tensor, copy_labels: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the copy head over every position up to the last target token (SPACES `CrossEntropy` on the copy head)."""
    mask = (token_type_ids.flip(1).cumsum(1).flip(1) > 0)[:, 1:].to(copy_logits.dtype)
    logits = copy_logits[:, :-1].float()
    loss = F.cross_entropy(logits.transpose(1, 2), copy_labels, reduction="none")
    return (loss * mask).sum() / mask.sum().clamp_min(1.0)


def generator_loss(model: SpacesForSummary, batch: dict, k_sparse: int | None = K_SPARSE) -> torch.Tensor:
    """Total SPACES loss = sparse-softmax seq2seq loss + 2 * copy loss; the input may be noisy, targets are clean.

    The vocabulary projection runs on the target positions only (``logits_mask``), same value as slicing full
    logits. ``k_sparse=None`` uses the full softmax (ordinary cross-entropy). Sparse softmax suits fine-tuning a
    pretrained LM; from random weights it collapses to flat logits (loss -> log k), so train those with None.
    """
    mask = target_positions(batch["token_type_ids"])
    out = model(batch["input_ids"], token_type_ids=batch["token_type_ids"], attention_mask=batch["attention_mask"],
                logits_mask=F.pad(mask, (0, 1)))
    k = k_sparse or out.logits.shape[-1]
    return (sparse_cross_entropy(out.logits, batch["labels"][:, 1:][mask], k)
            + 2 * copy_loss(out.copy_logits, batch["copy_labels"], batch["token_type_ids"]))


def random_noise(token_ids: Sequence[int], rng: random.Random, prob: float = 0.15) -> list[int]:
    """Replace each token, with probability ``prob``, by a token drawn uniformly from the same sequence."""
    return [rng.choice(token_ids) if rng.random() < prob else t for t in token_ids]


def build_sample(tokenizer, source: str, target: str, maxlen: int = 1024, noise: float = 0.15,
                 rng: random.Random | None = None) -> dict[str, list[int]]:
    """One training sample: ``[CLS] src [SEP] [CLS] tgt [SEP]`` (pattern S*ES*E) with noisy input ids,
    clean labels and copy labels between the noisy source and the clean target (length L-1)."""
    ids, segments = tokenizer.encode(source, target, maxlen=maxlen, pattern="S*ES*E")
    noisy = random_noise(ids, rng or random.Random(), noise) if noise > 0 else list(ids)
    return {"input_ids": noisy, "token_type_ids": segments, "labels": ids,
            "copy_labels": sequence_copy_labels(ids, noisy, tokenizer.end_id)}


def collate(samples: Sequence[dict[str, list[int]]], pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Right-pad a list of samples into tensors (copy labels padded with 0, masked by the loss)."""
    width = max(len(s["input_ids"]) for s in samples)

    def pad(key, value, length):
        return torch.tensor([s[key] + [value] * (length - len(s[key])) for s in samples], dtype=torch.long)

    batch = {"input_ids": pad("input_ids", pad_id, width), "token_type_ids": pad("token_type_ids", 0, width),
             "labels": pad("labels", pad_id, width), "copy_labels": pad("copy_labels", 0, width - 1)}
    batch["attention_mask"] = torch.tensor([[1] * len(s["input_ids"]) + [0] * (width - len(s["input_ids"]))
                                            for s in samples], dtype=torch.long)
    return batch


class Seq2SeqDataset(torch.utils.data.Dataset):
    """Pairs {"source_1", "source_2", "target"}: each access encodes one sample with fresh input noise and,
    when training, picks the predicted (source_1) or oracle (source_2) extract with probability 1/2 each."""

    def __init__(self, records: Sequence[dict], tokenizer, maxlen: int = 1024, noise: float = 0.15,
                 train: bool = True, seed: int = 0):
        self.records, self.tokenizer, self.maxlen = list(records), tokenizer, maxlen
        self.noise, self.train, self.rng = noise, train, random.Random(seed)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        r = self.records[i]
        key = "source_1"
        if self.train and r.get("source_2") is not None and self.rng.random() < 0.5:
            key = "source_2"
        return build_sample(self.tokenizer, r[key], r["target"], self.maxlen,
                            self.noise if self.train else 0.0, self.rng)
