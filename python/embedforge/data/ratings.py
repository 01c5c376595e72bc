"""Ratings for collaborative filtering: contiguous user/item ids, MovieLens CSVs, a planted generator."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Hashable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["IdMap", "RatingsDataset", "PlantedRatings", "synthetic_ratings", "load_movielens_ratings"]


class IdMap:
    """Raw ids (any hashable) <-> contiguous ids ``0..n-1`` in first-appearance order.

    Example::

        >>> m = IdMap(["u7", "u3", "u7"])
        >>> m.encode(["u3"]).tolist(), len(m)
        ([1], 2)
    """

    def __init__(self, raw_ids: Sequence[Hashable] | np.ndarray, name: str = "id") -> None:
        """Learn the mapping from raw ids."""
        self.name = name
        self.raw: list[Hashable] = list(dict.fromkeys(_py(v) for v in raw_ids))
        self.index: dict[Hashable, int] = {r: i for i, r in enumerate(self.raw)}

    def __len__(self) -> int:
        """Number of distinct ids."""
        return len(self.raw)

    def __contains__(self, raw: object) -> bool:
        """Whether a raw id is known."""
        return _py(raw) in self.index

    def encode(self, raw_ids: Sequence[Hashable] | np.ndarray) -> torch.Tensor:
        """Contiguous ids of raw ids; ``KeyError`` names the first unknown one and its position."""
        out = np.empty(len(raw_ids), dtype=np.int64)
        index = self.index
        for pos, r in enumerate(raw_ids):
            try:
                out[pos] = index[_py(r)]
            except KeyError:
                raise KeyError(
                    f"unknown {self.name} {r!r} at position {pos}: it was not in the training data "
                    f"({len(self)} known {self.name}s)"
                ) from None
        return torch.from_numpy(out)

    def decode(self, ids: Sequence[int] | torch.Tensor) -> list[Hashable]:
        """Raw ids of contiguous ids."""
        return [self.raw[int(i)] for i in ids]


def _py(v: Any) -> Any:
    """Numpy scalars as Python scalars so 3 and np.int64(3) are the same key."""
    return v.item() if isinstance(v, np.generic) else v


class RatingsDataset(Dataset):
    """(user, item, rating) triples with users and items mapped to contiguous ids.

    Shapes: item i is ``(user (), item (), rating ())``; a batch of B is three (B,) tensors, which the
    Trainer feeds as ``model(user, item)`` with target ``rating``.

    Example::

        >>> ds = RatingsDataset.from_arrays(["a", "b"], [10, 10], [4.0, 2.0])
        >>> ds.n_users, ds.n_items, ds.rating_range
        (2, 1, (2.0, 4.0))
    """

    def __init__(
        self,
        users: torch.Tensor,
        items: torch.Tensor,
        ratings: torch.Tensor,
        user_map: IdMap,
        item_map: IdMap,
        rating_range: tuple[float, float],
    ) -> None:
        """Hold encoded columns; use the ``from_*`` constructors."""
        self.users, self.items, self.ratings = users, items, ratings
        self.user_map, self.item_map = user_map, item_map
        self.rating_range = rating_range

    @classmethod
    def from_arrays(
        cls,
        users: Sequence[Hashable] | np.ndarray,
        items: Sequence[Hashable] | np.ndarray,
        ratings: Sequence[float] | np.ndarray,
    ) -> "RatingsDataset":
        """Build from three aligned columns of raw user ids, raw item ids and ratings."""
        n = len(users)
        if n == 0:
            raise ValueError("ratings are empty: need at least one (user, item, rating) row")
        if len(items) != n or len(ratings) != n:
            raise ValueError(f"columns differ in length: users={n}, items={len(items)}, ratings={len(ratings)}")
        r = np.asarray(ratings, dtype=np.float32)
        if not np.all(np.isfinite(r)):
            bad = int(np.flatnonzero(~np.isfinite(r))[0])
            raise ValueError(f"ratings[{bad}]={r[bad]} is not a finite number")
        umap, imap = IdMap(users, "user"), IdMap(items, "item")
        return cls(
            umap.encode(users), imap.encode(items), torch.from_numpy(r), umap, imap, (float(r.min()), float(r.max()))
        )

    @classmethod
    def from_dataframe(
        cls, df: "pd.DataFrame", user_col: str = "userId", item_col: str = "movieId", rating_col: str = "rating"
    ) -> "RatingsDataset":
        """Build from a pandas DataFrame; ``KeyError`` lists the available columns when one is missing."""
        missing = [c for c in (user_col, item_col, rating_col) if c not in df.columns]
        if missing:
            raise KeyError(f"ratings table lacks column(s) {missing}; available columns: {list(df.columns)}")
        return cls.from_arrays(df[user_col].to_numpy(), df[item_col].to_numpy(), df[rating_col].to_numpy())

    @classmethod
    def from_csv(
        cls,
        path: str | os.PathLike,
        user_col: str = "userId",
        item_col: str = "movieId",
        rating_col: str = "rating",
        **read_csv_kwargs: Any,
    ) -> "RatingsDataset":
        """Read a CSV (MovieLens ``ratings.csv`` by default) with pandas."""
        pd = _pandas()
        return cls.from_dataframe(pd.read_csv(path, **read_csv_kwargs), user_col, item_col, rating_col)

    @property
    def n_users(self) -> int:
        """Distinct users."""
        return len(self.user_map)

    @property
    def n_items(self) -> int:
        """Distinct items."""
        return len(self.item_map)

    def __len__(self) -> int:
        """Number of ratings."""
        return len(self.ratings)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One ``(user, item, rating)`` triple."""
        return self.users[i], self.items[i], self.ratings[i]

    def encode(self, users: Sequence[Hashable], items: Sequence[Hashable]) -> tuple[torch.Tensor, torch.Tensor]:
        """Contiguous ids for raw (user, item) pairs; ``KeyError`` for users/items unseen in training."""
        if len(users) != len(items):
            raise ValueError(f"got {len(users)} users but {len(items)} items; they must pair up")
        return self.user_map.encode(users), self.item_map.encode(items)

    def subset(self, indices: Sequence[int] | np.ndarray) -> "RatingsDataset":
        """Rows at ``indices``, sharing this dataset's id maps and rating range."""
        idx = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        if idx.numel() == 0:
            raise ValueError("subset of zero rows requested: the split left this part empty")
        return RatingsDataset(
            self.users[idx], self.items[idx], self.ratings[idx], self.user_map, self.item_map, self.rating_range
        )


@dataclass
class PlantedRatings:
    """Ground truth of :func:`synthetic_ratings`: factors, biases, the noise level and the ratings."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray
    user_bias: np.ndarray
    item_bias: np.ndarray
    global_mean: float
    noise: float

    def dataset(self) -> RatingsDataset:
        """The ratings as a :class:`RatingsDataset`."""
        return RatingsDataset.from_arrays(self.users, self.items, self.ratings)

    def to_dataframe(self) -> "pd.DataFrame":
        """The ratings as a MovieLens-style DataFrame (``userId, movieId, rating``)."""
        pd = _pandas()
        return pd.DataFrame({"userId": self.users, "movieId": self.items, "rating": self.ratings})


def synthetic_ratings(
    n_users: int = 300, n_items: int = 200, n_factors: int = 4, density: float = 0.2, noise: float = 0.3, seed: int = 0
) -> PlantedRatings:
    """Ratings ``mean + b_u + b_i + <p_u, q_i> + N(0, noise^2)`` on a random subset of pairs.

    The noise standard deviation is the RMSE floor a perfect model reaches; biases and factors are kept
    so tests and examples can check what a model recovered. Ratings are not clipped.
    """
    if n_users < 1 or n_items < 1 or n_factors < 1:
        raise ValueError("n_users, n_items and n_factors must be >= 1")
    if not 0 < density <= 1:
        raise ValueError(f"density must be in (0, 1], got {density}")
    rng = np.random.default_rng(seed)
    p = rng.normal(0, 1 / np.sqrt(n_factors), (n_users, n_factors)).astype(np.float32)
    q = rng.normal(0, 1 / np.sqrt(n_factors), (n_items, n_factors)).astype(np.float32)
    bu = rng.normal(0, 0.4, n_users).astype(np.float32)
    bi = rng.normal(0, 0.6, n_items).astype(np.float32)
    mask = rng.random((n_users, n_items)) < density
    # every user and item rated at least once, so each has an id
    mask[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    mask[rng.integers(0, n_users, n_items), np.arange(n_items)] = True
    u, i = np.nonzero(mask)
    mean = 3.0
    r = mean + bu[u] + bi[i] + np.einsum("nk,nk->n", p[u], q[i]) + rng.normal(0, noise, len(u))
    return PlantedRatings(u.astype(np.int64), i.astype(np.int64), r.astype(np.float32), p, q, bu, bi, mean, noise)


def load_movielens_ratings(path: str | os.PathLike) -> RatingsDataset:
    """Load a MovieLens ``ratings.csv`` (columns ``userId,movieId,rating[,timestamp]``)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no ratings file at {os.fspath(path)!r}; MovieLens ships it as ratings.csv")
    return RatingsDataset.from_csv(path)


def _pandas() -> Any:
    """Import pandas lazily with an actionable error."""
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is installed in dev
        raise ImportError("this needs pandas: pip install pandas") from exc
    return pd
