"""Backpropagation through a lookup, seen: the one-hot matrix δ and what a one-hot-free backward saves.

A lookup of N ids in a V×D table is x̄ = δ·W with δ the (N, V) one-hot matrix of the ids, so the
table's gradient is δᵀ·∂L/∂x̄: row v receives the sum of the output gradients of the ids equal to v.
:func:`one_hot_table_grad` computes it that way (as the lesson writes it); torch's autograd and
embedforge's backward compute the same sum without ever forming δ.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["one_hot", "one_hot_table_grad", "one_hot_nbytes", "BackwardMemory", "backward_memory"]


def _ids(ids: torch.Tensor, num_rows: int) -> torch.Tensor:
    ids = torch.as_tensor(ids).reshape(-1)
    if ids.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"ids must be int32 or int64, got {ids.dtype}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= num_rows):
        bad = int(((ids < 0) | (ids >= num_rows)).nonzero()[0, 0])
        raise IndexError(f"ids[{bad}]={int(ids[bad])} is out of range for a table of {num_rows} rows")
    return ids.long()


def one_hot(ids: torch.Tensor, num_rows: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The (N, V) matrix δ with δ[i, ids[i]] = 1: the lookup as a matrix product x̄ = δ·W."""
    ids = _ids(ids, num_rows)
    delta = torch.zeros(ids.numel(), num_rows, dtype=dtype, device=ids.device)
    delta[torch.arange(ids.numel(), device=ids.device), ids] = 1
    return delta


def one_hot_table_grad(ids: torch.Tensor, grad_rows: torch.Tensor, num_rows: int) -> torch.Tensor:
    """The table's gradient as the lesson writes it: δᵀ·∂L/∂x̄, a (V, D) matrix (the gradient rows' dtype)."""
    grad_rows = grad_rows.reshape(-1, grad_rows.shape[-1])
    if grad_rows.shape[0] != torch.as_tensor(ids).numel():
        raise ValueError(f"grad_rows has {grad_rows.shape[0]} rows for {torch.as_tensor(ids).numel()} ids")
    return one_hot(ids, num_rows, grad_rows.dtype).T @ grad_rows


def one_hot_nbytes(n_ids: int, num_rows: int, dtype: torch.dtype = torch.float32) -> int:
    """Bytes the (n_ids, num_rows) one-hot δ would occupy (what :func:`one_hot` would allocate)."""
    return int(n_ids) * int(num_rows) * torch.empty((), dtype=dtype).element_size()


@dataclass(frozen=True)
class BackwardMemory:
    """Bytes of each way to hold the table gradient of one batch (measured from tensors where one exists).

    ``one_hot``: δ alone (N×V, computed: no machine holds it for a real vocabulary); ``dense``: the V×D
    ``.grad`` of a dense backward (measured); ``sparse``: embedforge's sparse ``.grad`` in torch's layout, one
    row per id and the ids, uncoalesced (measured; int64 ids share the batch's memory, as in torch); ``fused``: a table with a fused optimizer keeps no ``.grad`` (measured:
    0 when ``.grad`` stays None). ``unique`` is the number of distinct ids.
    """

    n_ids: int
    num_rows: int
    dim: int
    unique: int
    one_hot: int
    dense: int
    sparse: int
    fused: int


def _grad_bytes(grad: torch.Tensor | None) -> int:
    if grad is None:
        return 0
    if grad.is_sparse:
        return grad._indices().untyped_storage().nbytes() + grad._values().untyped_storage().nbytes()
    return grad.untyped_storage().nbytes()


def backward_memory(ids: torch.Tensor, num_rows: int, dim: int) -> BackwardMemory:
    """Run one float32 backward of a lookup of ``ids`` three ways (dense, sparse, fused SGD) and measure the gradients."""
    from .. import nn as enn
    from .. import optim

    ids = _ids(ids, num_rows)
    sizes = {}
    for name, kwargs in (("dense", {}), ("sparse", {"sparse": True}), ("fused", {"optimizer": optim.SGD(lr=0.1)})):
        table = (
            enn.EmbeddingBag(num_rows, dim, mode="sum", **kwargs)
            if name == "fused"
            else enn.Embedding(num_rows, dim, **kwargs)
        )
        out = table(ids[None, :]) if name == "fused" else table(ids)
        out.sum().backward()
        sizes[name] = _grad_bytes(table.weight.grad)
        del table, out
    return BackwardMemory(
        ids.numel(),
        num_rows,
        dim,
        int(torch.unique(ids).numel()),
        one_hot_nbytes(ids.numel(), num_rows),
        sizes["dense"],
        sizes["sparse"],
        sizes["fused"],
    )
