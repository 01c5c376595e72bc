"""Collaborative filtering: dot product with biases, and a neural net over concatenated embeddings."""

from __future__ import annotations

from typing import Hashable, Sequence

import torch
from torch import nn

from .. import nn as enn
from ..data.ratings import RatingsDataset

__all__ = ["scaled_sigmoid", "EmbeddingDotBias", "EmbeddingNet", "predict_ratings"]


def scaled_sigmoid(x: torch.Tensor, y_range: tuple[float, float] | None) -> torch.Tensor:
    """Squash ``x`` into ``y_range`` with a sigmoid (identity when ``y_range`` is None)."""
    if y_range is None:
        return x
    lo, hi = y_range
    return lo + (hi - lo) * torch.sigmoid(x)


def _check_range(y_range: tuple[float, float] | None) -> tuple[float, float] | None:
    """Validate an output range."""
    if y_range is None:
        return None
    lo, hi = float(y_range[0]), float(y_range[1])
    if not lo < hi:
        raise ValueError(f"y_range must be (low, high) with low < high, got {y_range}")
    return lo, hi


class EmbeddingDotBias(nn.Module):
    """Rating = <user factors, item factors> + user bias + item bias (+ global bias), optionally squashed.

    Shapes: U users, I items, F ``n_factors``, B batch. ``forward(users (B,), items (B,)) -> (B,)``.

    Example::

        >>> m = EmbeddingDotBias(n_users=10, n_items=5, n_factors=3, y_range=(0.5, 5.5))
        >>> m(torch.tensor([0, 9]), torch.tensor([4, 1])).shape
        torch.Size([2])
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        n_factors: int = 32,
        y_range: tuple[float, float] | None = None,
        init_std: float = 0.01,
        sparse: bool = False,
    ) -> None:
        """Create the four tables (``user_factors``, ``item_factors``, ``user_bias``, ``item_bias``)."""
        super().__init__()
        self.y_range = _check_range(y_range)
        self.user_factors = enn.Embedding(n_users, n_factors, sparse=sparse)
        self.item_factors = enn.Embedding(n_items, n_factors, sparse=sparse)
        self.user_bias = enn.Embedding(n_users, 1, sparse=sparse)
        self.item_bias = enn.Embedding(n_items, 1, sparse=sparse)
        self.global_bias = nn.Parameter(torch.zeros(()))
        with torch.no_grad():
            for table in (self.user_factors, self.item_factors):
                table.weight.normal_(0, init_std)
            for table in (self.user_bias, self.item_bias):
                table.weight.zero_()

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Predicted ratings."""
        dot = (self.user_factors(users) * self.item_factors(items)).sum(-1)
        raw = dot + self.user_bias(users).squeeze(-1) + self.item_bias(items).squeeze(-1) + self.global_bias
        return scaled_sigmoid(raw, self.y_range)


class EmbeddingNet(nn.Module):
    """Concatenated user and item embeddings -> MLP with dropout -> one rating (scaled sigmoid if ``y_range``).

    Shapes: F ``n_factors`` per side, H hidden widths, B batch. ``forward(users (B,), items (B,)) -> (B,)``.

    Example::

        >>> m = EmbeddingNet(n_users=10, n_items=5, n_factors=4, hidden=(8,), y_range=(0.0, 5.0))
        >>> m(torch.tensor([1, 2]), torch.tensor([3, 4])).shape
        torch.Size([2])
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        n_factors: int = 32,
        hidden: Sequence[int] = (64,),
        dropout: float = 0.2,
        y_range: tuple[float, float] | None = None,
    ) -> None:
        """Create ``user_factors``, ``item_factors`` and the ``mlp``."""
        super().__init__()
        self.y_range = _check_range(y_range)
        self.user_factors = enn.Embedding(n_users, n_factors)
        self.item_factors = enn.Embedding(n_items, n_factors)
        with torch.no_grad():
            self.user_factors.weight.normal_(0, 0.05)
            self.item_factors.weight.normal_(0, 0.05)
        layers: list[nn.Module] = [nn.Dropout(dropout)]
        width = 2 * n_factors
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Predicted ratings."""
        x = torch.cat([self.user_factors(users), self.item_factors(items)], dim=-1)
        return scaled_sigmoid(self.mlp(x).squeeze(-1), self.y_range)


@torch.no_grad()
def predict_ratings(
    model: nn.Module, dataset: RatingsDataset, users: Sequence[Hashable], items: Sequence[Hashable]
) -> torch.Tensor:
    """Ratings for raw (user, item) ids, mapped through ``dataset``; ``KeyError`` for ids unseen in training."""
    u, i = dataset.encode(users, items)
    model.eval()
    device = next(model.parameters()).device
    return model(u.to(device), i.to(device)).cpu()
