"""Projecting embeddings to 2-D or 3-D with PCA, t-SNE (scikit-learn) or UMAP (umap-learn)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import as_matrix

__all__ = ["project", "METHODS"]

METHODS = ("pca", "tsne", "umap")


def _pca(x: np.ndarray, dims: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    width = x.shape[1]
    out = PCA(n_components=min(dims, width, len(x)), svd_solver="full", random_state=seed).fit_transform(x)
    if out.shape[1] < dims:  # fewer components than asked (tiny inputs): pad with zeros
        out = np.hstack([out, np.zeros((len(x), dims - out.shape[1]))])
    return out


def _tsne(x: np.ndarray, dims: int, seed: int, **kwargs: Any) -> np.ndarray:
    from sklearn.manifold import TSNE

    if len(x) < 4:
        raise ValueError(f"t-SNE needs at least 4 vectors, got {len(x)}")
    perplexity = kwargs.pop("perplexity", min(30.0, (len(x) - 1) / 3.0))
    init = kwargs.pop("init", "pca")
    return TSNE(n_components=dims, perplexity=perplexity, init=init, random_state=seed, **kwargs).fit_transform(x)


def _umap(x: np.ndarray, dims: int, seed: int, **kwargs: Any) -> np.ndarray:
    try:
        import umap  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ImportError(
            "method='umap' needs the umap-learn package, which is not installed: "
            "pip install umap-learn  (or pip install 'embedforge[umap]')"
        ) from exc
    n_neighbors = kwargs.pop("n_neighbors", max(2, min(15, len(x) - 1)))
    return umap.UMAP(n_components=dims, n_neighbors=n_neighbors, random_state=seed, **kwargs).fit_transform(x)


def project(vectors: Any, method: str = "pca", dims: int = 2, *, seed: int = 0, **kwargs: Any) -> np.ndarray:
    """Project vectors (KeyedVectors, tensor or array, N x D) to an N x `dims` float64 array."""
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {', '.join(METHODS)}")
    if dims not in (2, 3):
        raise ValueError(f"dims={dims!r} must be 2 or 3")
    x = as_matrix(vectors)
    if len(x) == 0:
        raise ValueError("cannot project an empty set of vectors")
    if method == "pca":
        if kwargs:
            raise TypeError(f"method='pca' takes no extra arguments, got {sorted(kwargs)}")
        out = _pca(x, dims, seed)
    elif method == "tsne":
        out = _tsne(x, dims, seed, **kwargs)
    else:
        out = _umap(x, dims, seed, **kwargs)
    return np.asarray(out, dtype=np.float64)
