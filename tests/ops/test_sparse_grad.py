"""sparse=True gradients against torch's: the same .grad after coalesce(), the same parameters after
every torch optimizer that takes sparse gradients, over several steps and with gradients accumulated
over several backward passes; the layout (torch's uncoalesced one for sum and mean) says honestly
whether it is coalesced."""

from __future__ import annotations

import zlib

import embedforge
import pytest
import torch

OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
    "sgd-momentum": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    "sparse-adam": lambda p: torch.optim.SparseAdam(p, lr=0.02),
    "adagrad": lambda p: torch.optim.Adagrad(p, lr=0.1),
}


def _batch(gen, V, B, max_len, id_dtype, padding_idx):
    lengths = torch.randint(0, max_len + 1, (B,), generator=gen)
    N = int(lengths.sum())
    # Few rows, so ids repeat within and across bags (the repeats coalesce() has to sum).
    ids = torch.randint(0, V, (N,), generator=gen)
    if padding_idx is not None:
        ids[torch.rand(N, generator=gen) < 0.2] = padding_idx
    offsets = torch.cat([torch.zeros(1, dtype=torch.int64), lengths.cumsum(0)[:-1]])
    return ids.to(id_dtype), offsets.to(id_dtype)


def _check_layout(grad, mode):
    assert grad.is_sparse and grad.sparse_dim() == 1
    if grad.is_coalesced():
        rows = grad._indices()[0]
        assert torch.all(rows[1:] > rows[:-1]), "flagged coalesced but rows repeat or are unsorted"
    else:
        assert mode != "max"


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
@pytest.mark.parametrize("mode", ["sum", "mean"])  # torch has no sparse gradient for max
@pytest.mark.parametrize("padding_idx", [None, 2])
@pytest.mark.parametrize("id_dtype", [torch.int64, torch.int32])
def test_embedding_bag_optimizers_and_accumulation_match_torch(opt, mode, padding_idx, id_dtype):
    gen = torch.Generator().manual_seed(zlib.crc32(repr((opt, mode, padding_idx, str(id_dtype))).encode()))
    V, D = 40, 6
    init = torch.randn(V, D, generator=gen)
    ours = embedforge.nn.EmbeddingBag.from_pretrained(
        init.clone(), freeze=False, mode=mode, padding_idx=padding_idx, sparse=True
    )
    ref = torch.nn.EmbeddingBag.from_pretrained(
        init.clone(), freeze=False, mode=mode, padding_idx=padding_idx, sparse=True
    )
    opt_a, opt_b = OPTIMIZERS[opt]([ours.weight]), OPTIMIZERS[opt]([ref.weight])
    for step in range(4):
        opt_a.zero_grad(set_to_none=True)
        opt_b.zero_grad(set_to_none=True)
        # Steps 1 and 3 accumulate three backward passes (each a fresh batch) before the update.
        for _ in range(3 if step % 2 else 1):
            ids, offs = _batch(gen, V, 12, 7, id_dtype, padding_idx)
            g = torch.randn(len(offs), D, generator=gen)
            ours(ids, offs).backward(g)
            ref(ids.long(), offs.long()).backward(g)
        _check_layout(ours.weight.grad, mode)
        a, b = ours.weight.grad.coalesce(), ref.weight.grad.coalesce()
        torch.testing.assert_close(a.to_dense(), b.to_dense(), rtol=1e-5, atol=1e-6)
        if padding_idx is not None:
            assert padding_idx not in a.indices()[0].tolist()
        opt_a.step()
        opt_b.step()
        torch.testing.assert_close(ours.weight, ref.weight, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
@pytest.mark.parametrize("padding_idx", [None, 0])
def test_embedding_optimizers_match_torch(opt, padding_idx):
    gen = torch.Generator().manual_seed(zlib.crc32(repr((opt, padding_idx)).encode()))
    V, D = 30, 5
    init = torch.randn(V, D, generator=gen)
    ours = embedforge.nn.Embedding.from_pretrained(init.clone(), freeze=False, padding_idx=padding_idx, sparse=True)
    ref = torch.nn.Embedding.from_pretrained(init.clone(), freeze=False, padding_idx=padding_idx, sparse=True)
    opt_a, opt_b = OPTIMIZERS[opt]([ours.weight]), OPTIMIZERS[opt]([ref.weight])
    for step in range(3):
        opt_a.zero_grad(set_to_none=True)
        opt_b.zero_grad(set_to_none=True)
        for _ in range(2 if step == 1 else 1):
            ids = torch.randint(0, V, (4, 9), generator=gen)
            g = torch.randn(4, 9, D, generator=gen)
            ours(ids).backward(g)
            ref(ids).backward(g)
        _check_layout(ours.weight.grad, "sum")
        torch.testing.assert_close(ours.weight.grad.to_dense(), ref.weight.grad.to_dense(), rtol=1e-5, atol=1e-6)
        opt_a.step()
        opt_b.step()
        torch.testing.assert_close(ours.weight, ref.weight, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_per_sample_weights_and_half_tables(dtype, mode):
    """Per-sample weights scale each entry; mean divides by the bag's non-padding count; 16-bit
    tables give 16-bit values (compared with a float64 one-hot reference)."""
    gen = torch.Generator().manual_seed(zlib.crc32(repr((str(dtype), mode)).encode()))
    V, D, pad = 25, 7, 4
    ids, offs = _batch(gen, V, 10, 8, torch.int64, pad)
    psw = torch.rand(ids.shape, generator=gen)
    w = torch.randn(V, D, generator=gen).to(dtype).requires_grad_()
    out = embedforge.ops.embedding_bag(w, ids, offs, mode=mode, per_sample_weights=psw, padding_idx=pad, sparse=True)
    g = torch.randn(out.shape, generator=gen).to(dtype)
    out.backward(g)
    grad = w.grad
    assert grad.dtype == dtype and not grad.is_coalesced()
    lengths = torch.diff(torch.cat([offs, torch.tensor([ids.numel()])]))
    bag = torch.repeat_interleave(torch.arange(len(offs)), lengths)
    keep = ids != pad
    scale = psw.double() * keep
    if mode == "mean":
        counts = torch.zeros(len(offs), dtype=torch.float64).index_add_(0, bag, keep.double())
        scale = scale / counts.clamp(min=1)[bag]
    expect = torch.zeros(V, D, dtype=torch.float64).index_add_(0, ids, g.double()[bag] * scale[:, None])
    tol = {torch.float32: 1e-5, torch.bfloat16: 2e-2, torch.float16: 2e-3}[dtype]
    torch.testing.assert_close(grad.coalesce().to_dense().double(), expect, rtol=tol, atol=tol)
    assert grad._nnz() == int(keep.sum())


def test_empty_batches_and_bags():
    w = torch.randn(10, 3, requires_grad=True)
    for ids, offs in (
        (torch.tensor([], dtype=torch.int64), torch.tensor([0, 0])),
        (torch.tensor([1, 2], dtype=torch.int64), torch.tensor([0, 0, 2])),
        (torch.tensor([], dtype=torch.int64), torch.tensor([], dtype=torch.int64)),
    ):
        w.grad = None
        out = embedforge.ops.embedding_bag(w, ids, offs, sparse=True)
        out.sum().backward()
        expect = torch.zeros(10, 3).index_add_(0, ids, torch.ones(len(ids), 3))
        torch.testing.assert_close(w.grad.to_dense(), expect)
