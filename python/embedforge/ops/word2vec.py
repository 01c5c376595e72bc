"""The batched skip-gram negative-sampling step (the word2vec GPU path): wrapper and fake kernel.

Shapes: V rows, D width, N (center, context) pairs, K negatives shared by the batch.
"""

from __future__ import annotations

import torch

from .._native import translate_errors
from ._fake_checks import check_same_device, check_width

__all__ = ["sgns_step"]

_ops = torch.ops.embedforge


@torch.library.register_fake("embedforge::sgns_step")
def _sgns_step_fake(in_table, out_table, centers, contexts, negatives, lr):
    check_same_device("sgns_step", (in_table, out_table, centers, contexts, negatives))
    torch._check(in_table.dim() == 2, lambda: f"in_table must be 2-D, got {in_table.dim()}-D")
    check_width("sgns_step", "out_table", out_table, "in_table", in_table.shape[1])
    for name, t in (("centers", centers), ("contexts", contexts), ("negatives", negatives)):
        torch._check(t.dtype == torch.int64, lambda: f"{name} must be int64, got {t.dtype}")
        torch._check(t.dim() == 1, lambda: f"{name} must be 1-D, got {t.dim()}-D")
    torch._check(
        centers.shape[0] == contexts.shape[0],
        lambda: f"centers and contexts must have the same length, got {centers.shape[0]} and {contexts.shape[0]}",
    )
    return in_table.new_empty((centers.shape[0],))


def sgns_step(
    in_table: torch.Tensor,
    out_table: torch.Tensor,
    centers: torch.Tensor,
    contexts: torch.Tensor,
    negatives: torch.Tensor,
    lr: float,
) -> torch.Tensor:
    """One SGD step of skip-gram with negative sampling, in place on both tables; returns the loss per pair [N].

    in_table [V, D] (input vectors, rows `contexts`), out_table [V, D] (output vectors, rows
    `centers` with label 1 and `negatives` with label 0); int64 ids. All scaled errors use the
    tables as they were before the step; each touched row receives the sum of its updates.

    >>> import torch, embedforge.ops.word2vec as w
    >>> I, O = torch.randn(10, 4) * 0.1, torch.zeros(10, 4)
    >>> w.sgns_step(I, O, torch.tensor([1]), torch.tensor([2]), torch.tensor([3, 4]), 0.1).shape
    torch.Size([1])
    """
    with translate_errors():
        return _ops.sgns_step(in_table, out_table, centers, contexts, negatives, float(lr))
