"""Many embedding tables, each with its own size, pooling and optimizer, looked up in one call."""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Union

import torch
from torch import Tensor

from ..ops.embedding_bag_collection import embedding_bag_collection
from ..optim import FusedOptimizer, check_table
from .embedding import EmbeddingBag

__all__ = ["EmbeddingBagConfig", "EmbeddingBagCollection"]


@dataclasses.dataclass
class EmbeddingBagConfig:
    """Describes one table of a collection: its rows, dim, pooling, the features it serves and,
    optionally, the fused optimizer that updates it during backward."""

    name: str
    num_embeddings: int
    embedding_dim: int
    feature_names: Optional[List[str]] = None  # default: [name]
    pooling: str = "sum"  # "sum" or "mean"
    padding_idx: Optional[int] = None
    optimizer: Optional[FusedOptimizer] = None

    def __post_init__(self) -> None:
        if self.feature_names is None:
            self.feature_names = [self.name]
        if self.pooling not in ("sum", "mean"):
            raise ValueError(f"table {self.name!r}: pooling must be 'sum' or 'mean', got {self.pooling!r}")
        if not self.feature_names:
            raise ValueError(f"table {self.name!r} serves no feature")


def jagged_offsets(
    num_features: int, offsets: Optional[Tensor], lengths: Optional[Tensor], dtype: torch.dtype
) -> Tensor:
    """The F*B+1 offsets of a jagged batch given by exactly one of ``offsets`` or ``lengths`` (F*B entries)."""
    F = num_features
    if (offsets is None) == (lengths is None):
        raise ValueError("give exactly one of offsets (F*B+1 entries) or lengths (F*B entries)")
    if offsets is None:
        if lengths.dim() != 1 or lengths.numel() % F:
            raise ValueError(
                f"lengths must be 1-D with features × batch entries ({F} features), got shape {tuple(lengths.shape)}"
            )
        offsets = torch.zeros(lengths.numel() + 1, dtype=dtype)
        torch.cumsum(lengths, 0, out=offsets[1:])
    if offsets.dim() != 1 or (offsets.numel() - 1) % F:
        raise ValueError(
            f"offsets must be 1-D with features × batch + 1 entries ({F} features), got shape {tuple(offsets.shape)}"
        )
    return offsets


class EmbeddingBagCollection(torch.nn.Module):
    """Pooled lookups of F features from T tables in one native call over a jagged batch.

    Shapes: B bags per feature, N values, F features in ``feature_names`` order (the tables' features,
    table by table). ``forward(values [N], offsets [F*B+1])`` (or ``lengths [F*B]``): bag i of
    feature f is ``values[offsets[f*B+i] : offsets[f*B+i+1]]``. Returns [B, sum of the features'
    dims] (features side by side) or, with ``output="dict"``, ``{feature: [B, D]}``. All (feature,
    bag) pairs share one parallel region, so threads stay busy when one table dominates. Tables with
    an optimizer update themselves in backward; the others get ordinary dense gradients.

    >>> ebc = EmbeddingBagCollection([
    ...     EmbeddingBagConfig("user", 1000, 8, optimizer=embedforge.optim.RowWiseAdagrad(lr=0.05)),
    ...     EmbeddingBagConfig("item", 5000, 16, feature_names=["item", "last_item"], pooling="mean")])
    >>> ebc(torch.tensor([1, 2, 3, 4, 5, 6]), lengths=torch.tensor([1, 1, 1, 1, 1, 1])).shape  # B=2
    torch.Size([2, 40])
    """

    def __init__(self, tables: List[EmbeddingBagConfig], output: str = "concat", device=None, dtype=None) -> None:
        super().__init__()
        if not tables:
            raise ValueError("a collection needs at least one table")
        if output not in ("concat", "dict"):
            raise ValueError(f"output must be 'concat' or 'dict', got {output!r}")
        names = [t.name for t in tables]
        if len(set(names)) != len(names):
            raise ValueError(f"table names must be unique, got {names}")
        self.configs = list(tables)
        self.output = output
        self.embedding_bags = torch.nn.ModuleDict(
            {
                t.name: EmbeddingBag(
                    t.num_embeddings,
                    t.embedding_dim,
                    mode=t.pooling,
                    padding_idx=t.padding_idx,
                    device=device,
                    dtype=dtype,
                    optimizer=t.optimizer,
                )
                for t in tables
            }
        )
        self.feature_names: List[str] = []
        self._feature_table: List[int] = []
        for ti, t in enumerate(tables):
            for f in t.feature_names:
                if f in self.feature_names:
                    raise ValueError(f"feature {f!r} is served by two tables")
                self.feature_names.append(f)
                self._feature_table.append(ti)

    def forward(
        self,
        values: Tensor,
        offsets: Optional[Tensor] = None,
        lengths: Optional[Tensor] = None,
        per_sample_weights: Optional[Tensor] = None,
    ) -> Union[Tensor, Dict[str, Tensor]]:
        """Pools every feature's bags: → [B, sum of dims], or a dict feature → [B, D]."""
        F = len(self.feature_names)
        offsets = jagged_offsets(F, offsets, lengths, values.dtype)
        B = (offsets.numel() - 1) // F
        bags = list(self.embedding_bags.values())
        updates = []
        for bag in bags:
            fused = bag.optimizer_state is not None and torch.is_grad_enabled()
            if fused:
                check_table(bag.weight, bag)
            updates.append(bag.optimizer_state.update if fused else None)
        out = embedding_bag_collection(
            [b.weight for b in bags],
            values,
            offsets,
            self._feature_table,
            [c.pooling for c in self.configs],
            [b.padding_idx for b in bags],
            B,
            per_sample_weights=per_sample_weights,
            updates=updates,
        )
        if self.output == "concat":
            return out
        res, c = {}, 0
        for f, t in zip(self.feature_names, self._feature_table):
            d = self.configs[t].embedding_dim
            res[f] = out[:, c : c + d]
            c += d
        return res
