"""project(): PCA against a float64 SVD reference, t-SNE on planted clusters, UMAP's missing-package message."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from embedforge.vectors import KeyedVectors
from embedforge.viz import project


def _svd_reference(x: np.ndarray, dims: int) -> np.ndarray:
    xc = np.asarray(x, dtype=np.float64) - np.asarray(x, dtype=np.float64).mean(axis=0)
    _, _, vt = np.linalg.svd(xc, full_matrices=False)
    return xc @ vt[:dims].T


def _assert_equal_up_to_sign(got: np.ndarray, ref: np.ndarray) -> None:
    assert got.shape == ref.shape
    for j in range(ref.shape[1]):
        sign = np.sign(got[:, j] @ ref[:, j]) or 1.0
        np.testing.assert_allclose(sign * got[:, j], ref[:, j], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("dims", [2, 3])
def test_pca_matches_svd_reference_for_array_tensor_and_keyedvectors(dims: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 10)) * np.linspace(3.0, 0.5, 10)  # distinct variances: stable components
    ref = _svd_reference(x, dims)
    _assert_equal_up_to_sign(project(x, "pca", dims), ref)
    t = torch.from_numpy(x.astype(np.float32))
    _assert_equal_up_to_sign(project(t, "pca", dims), _svd_reference(t.double().numpy(), dims))
    kv = KeyedVectors([f"w{i}" for i in range(40)], x.astype(np.float32))
    _assert_equal_up_to_sign(project(kv, "pca", dims), _svd_reference(x.astype(np.float32), dims))
    assert project(x, "pca", dims).dtype == np.float64


def test_pca_components_ordered_by_variance() -> None:
    x = np.random.default_rng(1).normal(size=(60, 8)) * np.array([1, 5, 2, 1, 1, 3, 1, 1.0])
    var = project(x, "pca", 3).var(axis=0)
    assert var[0] > var[1] > var[2]


def test_tsne_keeps_planted_clusters_apart(clustered) -> None:
    x, _, groups = clustered
    y = project(x, "tsne", 2, seed=3)
    assert y.shape == (len(x), 2)
    d = ((y[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nearest = d.argmin(axis=1)
    same = np.mean([groups[i] == groups[j] for i, j in enumerate(nearest)])
    assert same == 1.0


def test_tsne_3d_shape(clustered) -> None:
    x, _, _ = clustered
    assert project(x, "tsne", 3, seed=0).shape == (len(x), 3)


def test_umap_missing_names_the_package(monkeypatch, clustered) -> None:
    monkeypatch.setitem(sys.modules, "umap", None)  # makes `import umap` raise ImportError
    with pytest.raises(ImportError, match=r"pip install umap-learn"):
        project(clustered[0], "umap")


@pytest.mark.parametrize(
    "args, exc, msg",
    [
        ((np.zeros((5, 3)), "lda", 2), ValueError, "method='lda'"),
        ((np.zeros((5, 3)), "pca", 4), ValueError, "dims=4"),
        ((np.zeros(5), "pca", 2), ValueError, "2-D"),
        ((np.zeros((0, 3)), "pca", 2), ValueError, "empty"),
        ((np.array([[1.0, np.nan], [0.0, 1.0]]), "pca", 2), ValueError, "row 0"),
        ((np.zeros((3, 4)), "tsne", 2), ValueError, "at least 4"),
    ],
)
def test_bad_inputs_raise_clear_errors(args, exc, msg) -> None:
    with pytest.raises(exc, match=msg):
        project(*args)


def test_importing_viz_and_cli_loads_no_plotting_library() -> None:
    code = (
        "import sys, embedforge.viz, embedforge.cli, embedforge.__main__\n"
        "heavy = [m for m in ('matplotlib', 'sklearn', 'umap', 'tensorboard', 'PIL') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
