"""Look inside learned tables: rank by bias, principal components with extreme items, cosine neighbours."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["as_matrix", "rank_by_bias", "PCAResult", "pca", "nearest_by_cosine", "partial_dependence"]


def as_matrix(table: Any) -> np.ndarray:
    """A float64 (N, D) array from an embedding module, a tensor or an array."""
    if isinstance(table, nn.Module):
        if not hasattr(table, "weight"):
            raise TypeError(f"{type(table).__name__} has no .weight table")
        table = table.weight
    if isinstance(table, torch.Tensor):
        table = table.detach().cpu().numpy()
    arr = np.asarray(table, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(f"expected a non-empty (N, D) table, got shape {arr.shape}")
    return arr


def _labels(labels: Sequence[Hashable] | None, n: int) -> list[Hashable]:
    """Row labels (row indices when none are given), checked against the row count."""
    if labels is None:
        return list(range(n))
    labels = list(labels)
    if len(labels) != n:
        raise ValueError(f"got {len(labels)} labels for {n} rows")
    return labels


def rank_by_bias(bias: Any, labels: Sequence[Hashable] | None = None, k: int = 10) -> tuple[list, list]:
    """The ``k`` highest and ``k`` lowest items by a learned (N, 1) bias: two lists of ``(label, bias)``."""
    b = as_matrix(bias)
    if b.shape[1] != 1:
        raise ValueError(f"a bias table has one column, got shape {b.shape}")
    b = b[:, 0]
    names = _labels(labels, len(b))
    order = np.argsort(-b, kind="stable")
    top = [(names[i], float(b[i])) for i in order[:k]]
    bottom = [(names[i], float(b[i])) for i in order[::-1][:k]]
    return top, bottom


@dataclass
class PCAResult:
    """Principal axes (k, D), projections (N, k), explained-variance ratios (k,), and per-axis extremes."""

    components: np.ndarray
    projections: np.ndarray
    explained_variance_ratio: np.ndarray
    top: list[list[tuple[Hashable, float]]]
    bottom: list[list[tuple[Hashable, float]]]


def pca(table: Any, n_components: int = 3, labels: Sequence[Hashable] | None = None, k: int = 5) -> PCAResult:
    """PCA of embedding rows (centred SVD); for each component the ``k`` items scoring highest and lowest.

    Signs are fixed so each component's largest-magnitude loading is positive (deterministic output).
    """
    x = as_matrix(table)
    n, d = x.shape
    if not 1 <= n_components <= min(n, d):
        raise ValueError(f"n_components must be in [1, {min(n, d)}] for a ({n}, {d}) table, got {n_components}")
    xc = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    comps = vt[:n_components]
    signs = np.sign(comps[np.arange(n_components), np.abs(comps).argmax(axis=1)])
    comps = comps * signs[:, None]
    proj = xc @ comps.T
    var = s**2
    ratio = var[:n_components] / var.sum() if var.sum() > 0 else np.zeros(n_components)
    names = _labels(labels, n)
    top, bottom = [], []
    for j in range(n_components):
        order = np.argsort(-proj[:, j], kind="stable")
        top.append([(names[i], float(proj[i, j])) for i in order[:k]])
        bottom.append([(names[i], float(proj[i, j])) for i in order[::-1][:k]])
    return PCAResult(comps, proj, ratio, top, bottom)


def nearest_by_cosine(table: Any, query: int | np.ndarray, k: int = 10,
                      labels: Sequence[Hashable] | None = None) -> list[tuple[Hashable, float]]:
    """The ``k`` rows most cosine-similar to row ``query`` (itself excluded) or to a query vector."""
    x = as_matrix(table)
    names = _labels(labels, len(x))
    norms = np.linalg.norm(x, axis=1)
    norms[norms == 0] = 1.0
    unit = x / norms[:, None]
    exclude = None
    if isinstance(query, (int, np.integer)):
        if not 0 <= int(query) < len(x):
            raise IndexError(f"query row {query} is out of range for a table of {len(x)} rows")
        exclude = int(query)
        q = unit[exclude]
    else:
        q = np.asarray(query, dtype=np.float64).reshape(-1)
        if len(q) != x.shape[1]:
            raise ValueError(f"query vector has {len(q)} values, the table has {x.shape[1]} columns")
        q = q / (np.linalg.norm(q) or 1.0)
    sims = unit @ q
    if exclude is not None:
        sims[exclude] = -np.inf
    order = np.argsort(-sims, kind="stable")[:k]
    return [(names[i], float(sims[i])) for i in order if np.isfinite(sims[i])]


@torch.no_grad()
def partial_dependence(model: nn.Module, cats: torch.Tensor, conts: torch.Tensor, column: int,
                       codes: Sequence[int]) -> np.ndarray:
    """Mean prediction over the given rows with categorical ``column`` set to each code in turn (K,)."""
    if not 0 <= column < cats.shape[1]:
        raise IndexError(f"column {column} is out of range for {cats.shape[1]} categorical columns")
    model.eval()
    out = []
    for code in codes:
        c = cats.clone()
        c[:, column] = int(code)
        out.append(float(model(c, conts).float().mean()))
    return np.array(out)
