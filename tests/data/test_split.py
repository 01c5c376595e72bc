"""Stratified and random splits: disjoint, complete, proportional, reproducible."""

from __future__ import annotations

import numpy as np
import pytest
from embedforge.data import random_split, stratified_split
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=80), st.integers(0, 5))
def test_stratified_split_partitions_and_keeps_proportions(labels, seed):
    parts = stratified_split(labels, (0.6, 0.2, 0.2), seed=seed)
    allidx = np.concatenate(parts)
    assert sorted(allidx.tolist()) == list(range(len(labels)))
    labels_arr = np.asarray(labels)
    for cls in set(labels):
        n_cls = int((labels_arr == cls).sum())
        for part, frac in zip(parts, (0.6, 0.2, 0.2)):
            assert abs(int((labels_arr[part] == cls).sum()) - frac * n_cls) < 1.0 + 1e-9
    again = stratified_split(labels, (0.6, 0.2, 0.2), seed=seed)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))


def test_random_split_sizes_and_errors():
    tr, va, te = random_split(10, (0.8, 0.1, 0.1), seed=0)
    assert (len(tr), len(va), len(te)) == (8, 1, 1)
    assert sorted(np.concatenate([tr, va, te]).tolist()) == list(range(10))
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(10, (0.5, 0.2))
    with pytest.raises(ValueError, match="empty"):
        stratified_split([], (0.5, 0.5))
    with pytest.raises(ValueError, match="empty"):
        random_split(0)
    with pytest.raises(ValueError, match="one-dimensional"):
        stratified_split([[0, 1]], (0.5, 0.5))
