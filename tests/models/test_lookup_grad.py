"""Backprop through the lookup: δᵀ·∂L/∂x̄ is the table gradient; the one-hot-free backwards agree; memory measured."""

from __future__ import annotations

import embedforge
import pytest
import torch
from embedforge.models.lookup_grad import backward_memory, one_hot, one_hot_nbytes, one_hot_table_grad


def _batch(vocab: int, n: int, dim: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (n,), generator=gen)
    return ids, torch.randn(vocab, dim, generator=gen), torch.randn(n, dim, generator=gen)


def test_one_hot_is_the_lookup_as_a_product() -> None:
    ids, weight, _ = _batch(12, 9, 5)
    delta = one_hot(ids, 12)
    assert torch.equal(delta, torch.nn.functional.one_hot(ids, 12).float())
    torch.testing.assert_close(delta @ weight, weight[ids], rtol=0, atol=0)  # one 1 per row: exact
    assert one_hot_nbytes(9, 12) == delta.untyped_storage().nbytes()


def test_one_hot_gradient_equals_autograd_and_a_float64_reference() -> None:
    ids, weight, grad_rows = _batch(30, 500, 8)  # many repeated ids
    w = weight.clone().requires_grad_(True)
    torch.nn.functional.embedding(ids, w).backward(grad_rows)
    ref64 = torch.zeros(30, 8, dtype=torch.float64).index_add_(0, ids, grad_rows.double())
    mine = one_hot_table_grad(ids, grad_rows, 30)
    torch.testing.assert_close(mine.double(), ref64, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(mine, w.grad, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("vocab,n", [(10, 6), (50, 4096), (1000, 20000)])
def test_embedforge_backward_is_bit_identical_to_autograd(vocab, n) -> None:
    ids, weight, grad_rows = _batch(vocab, n, 16, seed=n)
    w = weight.clone().requires_grad_(True)
    torch.nn.functional.embedding(ids, w).backward(grad_rows)
    ours = embedforge.nn.Embedding.from_pretrained(weight.clone(), freeze=False)
    ours(ids).backward(grad_rows)
    assert torch.equal(ours.weight.grad, w.grad)


def test_backward_memory_is_measured_from_the_gradients() -> None:
    ids = torch.tensor([3, 7, 3, 9999, 0, 7])
    mem = backward_memory(ids, 10_000, 16)
    assert mem.unique == 4 and mem.n_ids == 6
    assert mem.one_hot == 6 * 10_000 * 4
    assert mem.dense == 10_000 * 16 * 4
    # torch's layout: one float32 row per id (repeats included) and the int64 ids (the batch's own tensor)
    assert mem.sparse == 6 * 16 * 4 + 6 * 8
    assert mem.fused == 0


def test_out_of_range_ids_raise() -> None:
    with pytest.raises(IndexError, match=r"ids\[1\]=5 is out of range for a table of 5 rows"):
        one_hot(torch.tensor([0, 5]), 5)
    with pytest.raises(TypeError, match="int32 or int64"):
        one_hot(torch.tensor([0.0]), 5)
