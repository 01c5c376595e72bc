"""Fixtures for the viz tests: planted clustered vectors with word labels."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def clustered() -> tuple[np.ndarray, list[str], list[str]]:
    """Three well-separated clusters of 12 points in 16-D, labels like 'fruit3', and their group names."""
    rng = np.random.default_rng(7)
    names = ["fruit", "tool", "city"]
    centers = rng.normal(scale=6.0, size=(3, 16))
    rows, labels, groups = [], [], []
    for g, name in enumerate(names):
        for i in range(12):
            rows.append(centers[g] + rng.normal(size=16))
            labels.append(f"{name}{i}")
            groups.append(name)
    return np.asarray(rows), labels, groups
