"""Entity embeddings for tabular data: one table per categorical column, batch-normed continuous inputs, MLP."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from .. import nn as enn
from .collab import _check_range, scaled_sigmoid

__all__ = ["default_embedding_size", "TabularConfig", "TabularModel"]


def default_embedding_size(cardinality: int) -> int:
    """Embedding width for a column with ``cardinality`` codes: ``min(50, (cardinality + 1) // 2)``, at least 1.

    Half the number of categories keeps small columns expressive; the cap of 50 keeps wide columns
    (thousands of stores, say) from dominating the MLP input. Override per column with ``emb_sizes``.
    """
    if cardinality < 1:
        raise ValueError(f"cardinality must be >= 1, got {cardinality}")
    return max(1, min(50, (cardinality + 1) // 2))


@dataclass
class TabularConfig:
    """Describes a :class:`TabularModel`: column cardinalities, widths, dropout and output range."""

    cardinalities: Sequence[int]
    n_cont: int = 0
    out_dim: int = 1
    emb_sizes: Sequence[int] | None = None
    hidden: Sequence[int] = (200, 100)
    dropout: float = 0.1
    emb_dropout: float = 0.0
    y_range: tuple[float, float] | None = None
    names: Sequence[str] = field(default_factory=tuple)

    def resolved_emb_sizes(self) -> list[int]:
        """Embedding width per column (the default rule unless ``emb_sizes`` overrides it)."""
        if self.emb_sizes is None:
            return [default_embedding_size(c) for c in self.cardinalities]
        if len(self.emb_sizes) != len(self.cardinalities):
            raise ValueError(
                f"emb_sizes has {len(self.emb_sizes)} entries for {len(self.cardinalities)} categorical columns"
            )
        return [int(s) for s in self.emb_sizes]


class TabularModel(nn.Module):
    """Categorical codes -> per-column embeddings; continuous -> batch norm; concatenated -> MLP.

    Shapes: B batch, K categorical columns, C continuous columns, O ``out_dim``.
    ``forward(cats (B, K) int64, conts (B, C) float) -> (B,)`` when O == 1, else (B, O).

    Example::

        >>> m = TabularModel(TabularConfig(cardinalities=[8, 31], n_cont=2, hidden=(16,)))
        >>> m(torch.tensor([[1, 5], [7, 30]]), torch.randn(2, 2)).shape
        torch.Size([2])
    """

    def __init__(self, config: TabularConfig) -> None:
        """Build ``embeddings`` (one per column), ``bn_cont`` and ``mlp`` from the config."""
        super().__init__()
        self.config = config
        self.y_range = _check_range(config.y_range)
        sizes = config.resolved_emb_sizes()
        self.embeddings = nn.ModuleList(enn.Embedding(c, s) for c, s in zip(config.cardinalities, sizes))
        with torch.no_grad():
            for table in self.embeddings:
                table.weight.normal_(0, 0.05)
        self.emb_dropout = nn.Dropout(config.emb_dropout)
        self.bn_cont = nn.BatchNorm1d(config.n_cont) if config.n_cont else None
        layers: list[nn.Module] = []
        width = sum(sizes) + config.n_cont
        for h in config.hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.BatchNorm1d(h), nn.Dropout(config.dropout)]
            width = h
        layers.append(nn.Linear(width, config.out_dim))
        self.mlp = nn.Sequential(*layers)

    def forward(self, cats: torch.Tensor, conts: torch.Tensor | None = None) -> torch.Tensor:
        """Predictions for a batch of rows."""
        k = len(self.embeddings)
        if cats.dim() != 2 or cats.shape[1] != k:
            raise ValueError(f"expected categorical codes of shape (B, {k}), got {tuple(cats.shape)}")
        parts = (
            [self.emb_dropout(torch.cat([e(cats[:, j]) for j, e in enumerate(self.embeddings)], dim=1))] if k else []
        )
        if self.bn_cont is not None:
            if conts is None or conts.dim() != 2 or conts.shape[1] != self.config.n_cont:
                got = None if conts is None else tuple(conts.shape)
                raise ValueError(f"expected continuous inputs of shape (B, {self.config.n_cont}), got {got}")
            parts.append(self.bn_cont(conts.float()))
        out = self.mlp(torch.cat(parts, dim=1))
        if self.config.out_dim == 1:
            out = out.squeeze(-1)
        return scaled_sigmoid(out, self.y_range)
