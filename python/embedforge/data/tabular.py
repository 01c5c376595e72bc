"""Tabular data for entity embeddings: categorical codes, normalised continuous columns, a planted table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Hashable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .ratings import _pandas

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["TabularProcessor", "TabularDataset", "DAYS", "synthetic_store_sales"]

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _check_columns(df: "pd.DataFrame", columns: Sequence[str], role: str) -> None:
    """``KeyError`` listing what is missing and what exists."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(f"{role} column(s) {missing} not in the table; available columns: {list(df.columns)}")


@dataclass
class TabularProcessor:
    """Fitted preprocessing: category -> code (0 = unseen/missing) per column; mean/std per continuous one.

    Example::

        >>> import pandas as pd
        >>> df = pd.DataFrame({"day": ["Mon", "Tue"], "temp": [10.0, 20.0], "y": [1.0, 2.0]})
        >>> proc = TabularProcessor(["day"], ["temp"], "y").fit(df)
        >>> proc.cardinalities
        [3]
    """

    cat_cols: list[str]
    cont_cols: list[str]
    target_col: str | None = None
    categories: dict[str, list[Hashable]] = field(default_factory=dict)
    means: dict[str, float] = field(default_factory=dict)
    stds: dict[str, float] = field(default_factory=dict)

    def fit(self, df: "pd.DataFrame") -> "TabularProcessor":
        """Learn categories and statistics from a training table; returns ``self``."""
        if len(df) == 0:
            raise ValueError("cannot fit tabular preprocessing on an empty table")
        _check_columns(df, self.cat_cols, "categorical")
        _check_columns(df, self.cont_cols, "continuous")
        if self.target_col is not None:
            _check_columns(df, [self.target_col], "target")
        overlap = set(self.cat_cols) & set(self.cont_cols)
        if overlap:
            raise ValueError(f"column(s) {sorted(overlap)} are listed as both categorical and continuous")
        for c in self.cat_cols:
            values = df[c].dropna().unique().tolist()
            try:
                values = sorted(values)
            except TypeError:
                pass
            self.categories[c] = values
        for c in self.cont_cols:
            col = df[c].astype(np.float64)
            self.means[c] = float(col.mean())
            std = float(col.std(ddof=0))
            self.stds[c] = std if std > 0 else 1.0
        return self

    @property
    def cardinalities(self) -> list[int]:
        """Embedding rows needed per categorical column (categories + 1 for unseen/missing)."""
        if not self.categories and self.cat_cols:
            raise ValueError("TabularProcessor is not fitted: call fit(train_df) first")
        return [len(self.categories[c]) + 1 for c in self.cat_cols]

    def transform(self, df: "pd.DataFrame") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Codes (N, n_cat) int64, normalised continuous (N, n_cont) float32, target (N,) or None."""
        if self.cat_cols and not self.categories:
            raise ValueError("TabularProcessor is not fitted: call fit(train_df) first")
        _check_columns(df, self.cat_cols, "categorical")
        _check_columns(df, self.cont_cols, "continuous")
        n = len(df)
        cats = np.zeros((n, len(self.cat_cols)), dtype=np.int64)
        for j, c in enumerate(self.cat_cols):
            index = {v: k + 1 for k, v in enumerate(self.categories[c])}
            cats[:, j] = [index.get(v, 0) for v in df[c].tolist()]
        conts = np.zeros((n, len(self.cont_cols)), dtype=np.float32)
        for j, c in enumerate(self.cont_cols):
            col = df[c].astype(np.float64).to_numpy()
            if np.isnan(col).any():
                raise ValueError(f"continuous column {c!r} has missing values; fill them before transforming")
            conts[:, j] = (col - self.means[c]) / self.stds[c]
        target = None
        if self.target_col is not None and self.target_col in df.columns:
            target = torch.from_numpy(np.array(df[self.target_col].to_numpy(), dtype=np.float32))
        return torch.from_numpy(cats), torch.from_numpy(conts), target

    def category_code(self, column: str, value: Hashable) -> int:
        """Code of one category value (``KeyError`` if the column or value is unknown)."""
        if column not in self.categories:
            raise KeyError(f"{column!r} is not a fitted categorical column; known: {list(self.categories)}")
        try:
            return self.categories[column].index(value) + 1
        except ValueError:
            raise KeyError(f"value {value!r} was not seen in column {column!r} during fit") from None


class TabularDataset(Dataset):
    """Rows of a table as ``(cats (n_cat,), conts (n_cont,), target ())``.

    Shapes: batches are (B, n_cat) int64, (B, n_cont) float32 and (B,) float32, fed as
    ``model(cats, conts)`` with target ``y``.

    Example::

        >>> import pandas as pd
        >>> df = pd.DataFrame({"day": ["Mon", "Tue"], "temp": [10.0, 20.0], "y": [1.0, 2.0]})
        >>> ds = TabularDataset.from_dataframe(df, ["day"], ["temp"], "y")
        >>> [t.shape for t in ds[0]]
        [torch.Size([1]), torch.Size([1]), torch.Size([])]
    """

    def __init__(
        self, cats: torch.Tensor, conts: torch.Tensor, target: torch.Tensor, processor: TabularProcessor
    ) -> None:
        """Hold transformed columns and the processor that produced them."""
        if len(cats) == 0:
            raise ValueError("tabular dataset is empty")
        self.cats, self.conts, self.target, self.processor = cats, conts, target, processor

    @classmethod
    def from_dataframe(
        cls,
        df: "pd.DataFrame",
        cat_cols: Sequence[str],
        cont_cols: Sequence[str],
        target_col: str,
        processor: TabularProcessor | None = None,
    ) -> "TabularDataset":
        """Transform a table (fitting a new processor unless one fitted on training data is given)."""
        if target_col not in df.columns:
            raise KeyError(f"target column {target_col!r} not in the table; available columns: {list(df.columns)}")
        proc = processor or TabularProcessor(list(cat_cols), list(cont_cols), target_col).fit(df)
        cats, conts, target = proc.transform(df)
        if target is None:  # processor fitted without a target column
            target = torch.from_numpy(np.array(df[target_col].to_numpy(), dtype=np.float32))
        return cls(cats, conts, target, proc)

    def __len__(self) -> int:
        """Number of rows."""
        return len(self.cats)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One row."""
        return self.cats[i], self.conts[i], self.target[i]


def synthetic_store_sales(
    n_rows: int = 4000, n_stores: int = 30, seed: int = 0, noise: float = 0.1
) -> tuple["pd.DataFrame", dict[str, float]]:
    """A store-sales table whose log-sales carry a planted day-of-week effect.

    Columns: ``store``, ``day_of_week`` (Mon..Sun), ``promo`` (0/1), ``month`` (1..12), ``temperature``,
    ``log_sales``. Returns the table and the planted effect per day (strictly ordered, so a model can be
    checked for recovering the ordering).
    """
    if n_rows < 1:
        raise ValueError(f"n_rows must be >= 1, got {n_rows}")
    pd = _pandas()
    rng = np.random.default_rng(seed)
    day_effect = dict(zip(DAYS, (0.0, -0.15, 0.1, 0.25, 0.45, 0.8, -0.5)))
    store_effect = rng.normal(0, 0.3, n_stores)
    month_effect = 0.1 * np.sin(np.arange(12) / 12 * 2 * np.pi)
    store = rng.integers(0, n_stores, n_rows)
    day = rng.integers(0, 7, n_rows)
    promo = rng.integers(0, 2, n_rows)
    month = rng.integers(0, 12, n_rows)
    temperature = rng.normal(15, 8, n_rows)
    log_sales = (
        5.0
        + store_effect[store]
        + np.array([day_effect[d] for d in DAYS])[day]
        + 0.3 * promo
        + month_effect[month]
        + 0.01 * (temperature - 15)
        + rng.normal(0, noise, n_rows)
    )
    df = pd.DataFrame(
        {
            "store": [f"S{s:02d}" for s in store],
            "day_of_week": [DAYS[d] for d in day],
            "promo": promo,
            "month": month + 1,
            "temperature": temperature.astype(np.float32),
            "log_sales": log_sales.astype(np.float32),
        }
    )
    return df, day_effect
