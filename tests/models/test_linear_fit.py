"""SGD from scratch: both loops reach the exact least-squares line and walk the same path."""

from __future__ import annotations

import numpy as np
import pytest
from embedforge.models.linear import fit_line_numpy, fit_line_torch, least_squares_line, noisy_line


@pytest.mark.parametrize("fit", [fit_line_torch, fit_line_numpy], ids=["torch", "numpy"])
def test_fit_recovers_a_and_b(fit) -> None:
    x, y = noisy_line(300, a=-1.5, b=0.75, noise=0.3, seed=2)
    exact = least_squares_line(x, y)
    ref = np.polyfit(x.astype(np.float64), y.astype(np.float64), 1)  # an independent float64 solution
    assert exact == pytest.approx(tuple(ref), abs=1e-9)
    result = fit(x, y, lr=0.5, steps=400, snapshot_every=10)
    assert (result.a, result.b) == pytest.approx(exact, abs=1e-3)
    assert (result.a, result.b) == pytest.approx((-1.5, 0.75), abs=0.1)  # the noise allows this much
    assert result.losses[-1] < result.losses[0] and np.all(np.diff(result.losses) <= 1e-6)


def test_torch_and_numpy_take_the_same_steps() -> None:
    x, y = noisy_line(100, seed=0)
    t = fit_line_torch(x, y, lr=0.1, steps=50, snapshot_every=1)
    n = fit_line_numpy(x, y, lr=0.1, steps=50, snapshot_every=1)
    assert t.steps == n.steps == list(range(51))
    np.testing.assert_allclose(t.params, n.params, rtol=0, atol=1e-5)
    np.testing.assert_allclose(t.params[0], (-1.0, 1.0))  # the start, before any step
    # one step by hand in float64: a -= lr * mean(2 r x), b -= lr * mean(2 r)
    r = -1.0 * x.astype(np.float64) + 1.0 - y
    step1 = (-1.0 - 0.1 * np.mean(2 * r * x), 1.0 - 0.1 * np.mean(2 * r))
    np.testing.assert_allclose(t.params[1], step1, rtol=1e-5)


def test_snapshots_include_the_last_step_and_bad_arguments_raise() -> None:
    x, y = noisy_line(20, seed=1)
    assert fit_line_numpy(x, y, steps=10, snapshot_every=4).steps == [0, 4, 8, 10]
    assert fit_line_torch(x, y, steps=0).steps == [0]
    with pytest.raises(ValueError, match="one length"):
        fit_line_torch(x, y[:5])
    with pytest.raises(ValueError, match="lr > 0"):
        fit_line_numpy(x, y, lr=0.0)
