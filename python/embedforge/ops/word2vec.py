"""The batched skip-gram negative-sampling step (the word2vec GPU path): wrapper and fake kernel.

Shapes: V rows, D width, N (center, context) pairs, K negatives shared by the batch.
"""

from __future__ import annotations

import torch

from .._native import translate_errors

__all__ = ["sgns_step"]

_ops = torch.ops.embedforge


@torch.library.register_fake("embedforge::sgns_step")
def _sgns_step_fake(in_table, out_table, centers, contexts, negatives, lr):
    torch._check(in_table.dim() == 2 and out_table.dim() == 2, lambda: "tables must be 2-D")
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
