"""zoo.data: padding used by every collate function."""

import pytest
import torch

from zoo.data import pad, padding_mask


def test_pad_right_and_left_with_mask():
    seqs = [[5, 6, 7], [8], []]
    assert pad(seqs, value=9).tolist() == [[5, 6, 7], [8, 9, 9], [9, 9, 9]]
    assert pad(seqs, left=True).tolist() == [[5, 6, 7], [0, 0, 8], [0, 0, 0]]
    assert padding_mask(seqs, left=True).tolist() == [[1, 1, 1], [0, 0, 1], [0, 0, 0]]
    assert pad(seqs).dtype == torch.long
    with pytest.raises(ValueError):
        pad([])
