"""Reproducible train/validation/test splits, stratified by label."""

from __future__ import annotations

from typing import Hashable, Sequence

import numpy as np

__all__ = ["stratified_split", "random_split"]


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    """Validate split fractions (positive, summing to 1)."""
    f = np.asarray(fractions, dtype=np.float64)
    if f.ndim != 1 or len(f) < 1 or np.any(f < 0) or not np.isclose(f.sum(), 1.0):
        raise ValueError(f"fractions must be non-negative and sum to 1, got {list(fractions)}")
    return f


def _cut(n: int, f: np.ndarray) -> np.ndarray:
    """Sizes of each part of n items (largest-remainder rounding, sizes sum to n)."""
    raw = f * n
    sizes = np.floor(raw).astype(np.int64)
    rest = n - sizes.sum()
    order = np.argsort(-(raw - sizes), kind="stable")
    sizes[order[:rest]] += 1
    return sizes


def random_split(n: int, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> tuple[np.ndarray, ...]:
    """Shuffle ``range(n)`` with ``seed`` and cut it by ``fractions``; returns sorted index arrays."""
    if n < 1:
        raise ValueError("cannot split an empty dataset")
    f = _check_fractions(fractions)
    perm = np.random.default_rng(seed).permutation(n)
    bounds = np.cumsum(_cut(n, f))[:-1]
    return tuple(np.sort(part) for part in np.split(perm, bounds))


def stratified_split(
    labels: Sequence[Hashable] | np.ndarray, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> tuple[np.ndarray, ...]:
    """Split indices so each part keeps the label proportions (per-label cuts); sorted index arrays.

    Example::

        >>> tr, va = stratified_split([0, 0, 0, 0, 1, 1, 1, 1], fractions=(0.5, 0.5))
        >>> sorted(len(p) for p in (tr, va))
        [4, 4]
    """
    labs = np.asarray(labels)
    if labs.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {labs.shape}")
    if len(labs) == 0:
        raise ValueError("cannot split an empty dataset")
    f = _check_fractions(fractions)
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in f]
    _, inverse = np.unique(labs, return_inverse=True)
    for cls in range(inverse.max() + 1):
        idx = np.flatnonzero(inverse == cls)
        idx = idx[rng.permutation(len(idx))]
        bounds = np.cumsum(_cut(len(idx), f))[:-1]
        for k, chunk in enumerate(np.split(idx, bounds)):
            parts[k].append(chunk)
    return tuple(np.sort(np.concatenate(p)).astype(np.int64) for p in parts)
