"""SGD from scratch: fit y = a·x + b by hand-written gradient descent, with torch autograd or with numpy.

Both loops take the same steps on the mean squared error, from the same start, so their paths agree to
float32 rounding; the snapshots of (a, b) are what :func:`embedforge.viz.animate_line_fit` draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["LineFit", "noisy_line", "fit_line_torch", "fit_line_numpy", "least_squares_line"]


@dataclass
class LineFit:
    """Result of a line fit: final ``a``, ``b``, and per snapshot the step, (a, b) and the loss (MSE)."""

    a: float
    b: float
    steps: list[int]
    params: np.ndarray  # (S, 2): a, b at each snapshot
    losses: np.ndarray  # (S,)


def noisy_line(
    n: int = 100,
    a: float = 3.0,
    b: float = 2.0,
    noise: float = 0.5,
    seed: int = 0,
    low: float = -1.0,
    high: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points x ~ U(low, high), y = a·x + b + N(0, noise²): float32 arrays (x, y)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, high, n).astype(np.float32)
    y = (a * x + b + rng.normal(0.0, noise, n)).astype(np.float32)
    return x, y


def _check(x: Any, y: Any, lr: float, steps: int, snapshot_every: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must be non-empty and of one length, got {len(x)} and {len(y)}")
    if lr <= 0 or steps < 0 or snapshot_every < 1:
        raise ValueError(f"need lr > 0, steps >= 0, snapshot_every >= 1; got {lr}, {steps}, {snapshot_every}")
    return x, y


def _finish(steps_seen: list[int], params: list[tuple[float, float]], losses: list[float]) -> LineFit:
    arr = np.asarray(params, dtype=np.float64)
    return LineFit(float(arr[-1, 0]), float(arr[-1, 1]), steps_seen, arr, np.asarray(losses, dtype=np.float64))


def fit_line_torch(
    x: Any, y: Any, lr: float = 0.1, steps: int = 100, start: tuple[float, float] = (-1.0, 1.0), snapshot_every: int = 1
) -> LineFit:
    """Gradient descent on MSE with ``loss.backward()`` and an update under ``torch.no_grad()`` (float32).

    A snapshot is taken before the first step, every ``snapshot_every`` steps and after the last step.
    """
    xn, yn = _check(x, y, lr, steps, snapshot_every)
    xt, yt = torch.from_numpy(xn), torch.from_numpy(yn)
    ab = torch.tensor(start, dtype=torch.float32, requires_grad=True)
    seen, params, losses = [], [], []
    for step in range(steps + 1):
        loss = ((ab[0] * xt + ab[1] - yt) ** 2).mean()
        if step % snapshot_every == 0 or step == steps:
            seen.append(step)
            a_now, b_now = ab.detach().tolist()
            params.append((a_now, b_now))
            losses.append(float(loss.detach()))
        if step == steps:
            break
        loss.backward()
        with torch.no_grad():
            ab -= lr * ab.grad
            ab.grad.zero_()
    return _finish(seen, params, losses)


def fit_line_numpy(
    x: Any, y: Any, lr: float = 0.1, steps: int = 100, start: tuple[float, float] = (-1.0, 1.0), snapshot_every: int = 1
) -> LineFit:
    """The same descent with the gradient written out: ∂L/∂a = mean(2·r·x), ∂L/∂b = mean(2·r), r = a·x + b − y."""
    xn, yn = _check(x, y, lr, steps, snapshot_every)
    a, b = np.float32(start[0]), np.float32(start[1])
    lr32 = np.float32(lr)
    seen, params, losses = [], [], []
    for step in range(steps + 1):
        r = a * xn + b - yn
        if step % snapshot_every == 0 or step == steps:
            seen.append(step)
            params.append((float(a), float(b)))
            losses.append(float(np.mean(r * r)))
        if step == steps:
            break
        a = a - lr32 * np.mean(np.float32(2) * r * xn, dtype=np.float32)
        b = b - lr32 * np.mean(np.float32(2) * r, dtype=np.float32)
    return _finish(seen, params, losses)


def least_squares_line(x: Any, y: Any) -> tuple[float, float]:
    """The exact minimiser (a, b) of the MSE, solved in float64: where gradient descent should arrive."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    design = np.stack([x, np.ones_like(x)], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(a), float(b)
