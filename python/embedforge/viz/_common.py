"""Shared helpers for the viz package: turning vector sets into arrays, atomic file writes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .._atomic import atomic_path

__all__ = ["as_matrix", "as_labels", "atomic_path", "save_figure", "cosine_neighbors"]


def _is_keyed(obj: Any) -> bool:
    return hasattr(obj, "index_to_key") and hasattr(obj, "vectors")


def as_matrix(vectors: Any, *, dtype: Any = np.float64) -> np.ndarray:
    """Return a 2-D numpy array from KeyedVectors, a torch tensor, a numpy array or nested lists."""
    if _is_keyed(vectors):
        data = vectors.vectors
    else:
        data = vectors
    if hasattr(data, "detach") and hasattr(data, "cpu"):  # torch.Tensor without importing torch
        data = data.detach().cpu()
        if str(getattr(data, "dtype", "")) in ("torch.bfloat16", "torch.float16"):
            data = data.float()
        data = data.numpy()
    arr = np.asarray(data, dtype=dtype)
    if arr.ndim != 2:
        raise ValueError(f"vectors must be 2-D (rows x dims), got an array of shape {tuple(arr.shape)}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise ValueError(f"vectors contain NaN or infinity (first at row {bad})")
    return arr


def as_labels(vectors: Any, labels: Sequence[Any] | None, n: int) -> list[str] | None:
    """Labels given explicitly, else the keys of a KeyedVectors, else None; checked against n rows."""
    if labels is None and _is_keyed(vectors):
        labels = list(vectors.index_to_key)
    if labels is None:
        return None
    out = [str(x) for x in labels]
    if len(out) != n:
        raise ValueError(f"labels has {len(out)} entries but there are {n} vectors")
    return out


def save_figure(fig: Any, path: str | os.PathLike, dpi: float | None = None) -> Path:
    """Save a matplotlib figure atomically (format from the suffix) at its own pixel size."""
    target = Path(path)
    fmt = target.suffix.lstrip(".").lower() or "png"
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi if dpi is not None else fig.dpi)
    return target


def cosine_neighbors(
    matrix: np.ndarray, topn: int, rows: Sequence[int] | None = None, chunk: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Top-`topn` cosine neighbours (indices, similarities) of `rows` (default all), excluding the row itself."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit = matrix / np.where(norms == 0, 1.0, norms)
    rows_arr = np.arange(len(matrix)) if rows is None else np.asarray(rows, dtype=np.int64)
    k = max(0, min(topn, len(matrix) - 1))
    idx = np.zeros((len(rows_arr), k), dtype=np.int64)
    sim = np.zeros((len(rows_arr), k), dtype=np.float64)
    if k == 0:
        return idx, sim
    for start in range(0, len(rows_arr), chunk):
        sel = rows_arr[start : start + chunk]
        s = unit[sel] @ unit.T
        s[np.arange(len(sel)), sel] = -np.inf
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        part_s = np.take_along_axis(s, part, axis=1)
        order = np.argsort(-part_s, axis=1, kind="stable")
        idx[start : start + len(sel)] = np.take_along_axis(part, order, axis=1)
        sim[start : start + len(sel)] = np.take_along_axis(part_s, order, axis=1)
    return idx, sim
