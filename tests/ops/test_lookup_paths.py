"""embedforge.ops.embedding / nn.Embedding on their CPU fast paths, against torch and float64.

The lookup's forward gathers with torch's kernel up to _TORCH_GATHER_MAX elements and with ours
past it; in grad mode a lean autograd Function puts embedforge's backward behind either gather.
Each case runs on both sides of the threshold (``gather``: the size rule moved to 0 or to infinity).
"""

from __future__ import annotations

import importlib

import embedforge
import pytest
import torch

eb = importlib.import_module("embedforge.ops.embedding_bag")

GATHERS = ["torch", "native"]


@pytest.fixture(params=GATHERS)
def gather(request, monkeypatch):
    monkeypatch.setattr(eb, "_TORCH_GATHER_MAX", 1 << 62 if request.param == "torch" else 0)
    return request.param


def _table(V, D, dtype, gen, requires_grad=True):
    return (torch.randn(V, D, generator=gen, dtype=torch.float64) * 0.5).to(dtype).requires_grad_(requires_grad)


def _ref_grad(ids, g, V, padding_idx):
    """float64 table gradient: row r gets the sum of the grads of every position holding r."""
    ref = torch.zeros(V, g.shape[-1], dtype=torch.float64)
    ref.index_add_(0, ids.reshape(-1).long(), g.reshape(-1, g.shape[-1]).double())
    if padding_idx is not None:
        ref[padding_idx] = 0
    return ref


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("id_dtype", [torch.int64, torch.int32])
@pytest.mark.parametrize("padding_idx", [None, 3])
@pytest.mark.parametrize("shape", [(7,), (4, 9), (2, 3, 5), (), (0,), (3, 0)])
def test_forward_and_gradient_match_float64(gather, dtype, id_dtype, padding_idx, shape):
    gen = torch.Generator().manual_seed(hash((str(dtype), str(id_dtype), padding_idx, shape)) % 2**31)
    V, D = 23, 6
    w = _table(V, D, dtype, gen)
    ids = torch.randint(0, V, shape, generator=gen, dtype=id_dtype)
    if ids.numel() > 2 and padding_idx is not None:
        ids.view(-1)[1] = padding_idx
    out = eb.embedding(w, ids, padding_idx=padding_idx)
    assert out.shape == (*shape, D) and out.dtype == dtype and out.requires_grad
    torch.testing.assert_close(out, w.detach()[ids.long()], rtol=0, atol=0)  # a gather: exact
    g = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(dtype)
    out.backward(g)
    tol = {torch.float32: 1e-5, torch.bfloat16: 3e-2, torch.float16: 3e-3}[dtype]
    torch.testing.assert_close(w.grad.double(), _ref_grad(ids, g, V, padding_idx), rtol=tol, atol=tol)
    with torch.no_grad():
        torch.testing.assert_close(eb.embedding(w, ids, padding_idx=padding_idx), out.detach(), rtol=0, atol=0)


def test_gradients_accumulate_over_backward_passes_and_the_table_is_reused(gather):
    gen = torch.Generator().manual_seed(11)
    V, D = 40, 5
    w = _table(V, D, torch.float32, gen)
    total = torch.zeros(V, D, dtype=torch.float64)
    for step in range(3):
        ids = torch.randint(0, V, (6, 4), generator=gen)
        g = torch.randn(6, 4, D, generator=gen)
        # two lookups into one table in one graph, plus a dense use of the same table
        out = eb.embedding(w, ids) * 2 + eb.embedding(w, ids.flip(0))
        (out * g).sum().backward() if step else ((out * g).sum() + w.sum()).backward()
        total += _ref_grad(ids, 2 * g, V, None) + _ref_grad(ids.flip(0), g, V, None)
        if not step:
            total += 1
    torch.testing.assert_close(w.grad.double(), total, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("padding_idx", [None, 0])
def test_sparse_gradient_is_torchs_layout(gather, padding_idx):
    gen = torch.Generator().manual_seed(12)
    V, D = 30, 4
    w = _table(V, D, torch.float32, gen)
    ids = torch.randint(0, V, (5, 6), generator=gen)
    ids[0, 0] = 0
    g = torch.randn(5, 6, D, generator=gen)
    (eb.embedding(w, ids, padding_idx=padding_idx, sparse=True) * g).sum().backward()
    assert w.grad.is_sparse
    torch.testing.assert_close(w.grad.to_dense().double(), _ref_grad(ids, g, V, padding_idx), rtol=1e-5, atol=1e-5)


def test_double_backward_matches_torch(gather):
    """create_graph=True through the lean Function: the gradient is itself differentiable."""
    gen = torch.Generator().manual_seed(13)
    V, D = 12, 3
    base = torch.randn(V, D, generator=gen, dtype=torch.float32)
    ids = torch.randint(0, V, (4, 5), generator=gen)
    results = []
    for fn in (eb.embedding, lambda w, i: torch.nn.functional.embedding(i, w)):
        w = base.clone().requires_grad_(True)
        (gw,) = torch.autograd.grad((fn(w, ids) ** 2).sum(), w, create_graph=True)
        (ggw,) = torch.autograd.grad((gw * torch.arange(V * D, dtype=torch.float32).view(V, D)).sum(), w)
        results.append((gw.detach(), ggw))
    torch.testing.assert_close(results[0][0], results[1][0])
    torch.testing.assert_close(results[0][1], results[1][1])


def test_forward_ad_and_transforms(gather):
    gen = torch.Generator().manual_seed(14)
    V, D = 10, 4
    w = torch.randn(V, D, generator=gen)
    t = torch.randn(V, D, generator=gen)
    ids = torch.randint(0, V, (3, 2), generator=gen)
    _, tangent = torch.func.jvp(lambda x: eb.embedding(x, ids), (w,), (t,))
    torch.testing.assert_close(tangent, t[ids])
    g = torch.func.grad(lambda x: (eb.embedding(x, ids) ** 2).sum())(w)
    torch.testing.assert_close(g, torch.func.grad(lambda x: (x[ids] ** 2).sum())(w))
    batched = torch.func.vmap(lambda i: eb.embedding(w, i))(ids)
    torch.testing.assert_close(batched, w[ids])
    import torch.autograd.forward_ad as fwad

    for grad_mode in (False, True):
        with torch.set_grad_enabled(grad_mode), fwad.dual_level():
            out = eb.embedding(fwad.make_dual(w, t), ids)
            torch.testing.assert_close(fwad.unpack_dual(out).tangent, t[ids])


@pytest.mark.parametrize("grad_mode", [False, True])
@pytest.mark.parametrize("bad", [17, -1])
def test_bad_ids_name_the_position_on_every_path(gather, grad_mode, bad):
    w = torch.randn(17, 3, requires_grad=True)
    ids = torch.tensor([[1, 2, 3], [4, bad, 6]])
    with torch.set_grad_enabled(grad_mode), pytest.raises(IndexError, match=rf"indices\[4\]={bad} "):
        eb.embedding(w, ids)
    with pytest.raises(TypeError, match="indices must be int32 or int64"):
        eb.embedding(w, ids.float())
    with pytest.raises(TypeError, match="weight must be"):
        eb.embedding(w.detach().long(), ids.clamp(0, 5))
    with pytest.raises(ValueError, match="padding_idx=17 is out of range"):
        eb.embedding(w, ids.clamp(0, 5), padding_idx=17)


def test_module_paths_and_negative_padding_index(gather):
    """nn.Embedding takes the fast path; a negative padding_idx (normalised) gives torch's gradient."""
    gen = torch.Generator().manual_seed(15)
    theirs = torch.nn.Embedding(20, 4, padding_idx=-2)
    ours = embedforge.nn.Embedding(20, 4, padding_idx=-2)
    ours.load_state_dict(theirs.state_dict())
    ids = torch.randint(0, 20, (6, 3), generator=gen)
    ids[0] = 18
    g = torch.randn(6, 3, 4, generator=gen)
    (ours(ids) * g).sum().backward()
    (theirs(ids) * g).sum().backward()
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad)
    # the functional form with a negative padding index goes through the generic path
    w = theirs.weight.detach().clone().requires_grad_(True)
    (eb.embedding(w, ids, padding_idx=-2) * g).sum().backward()
    torch.testing.assert_close(w.grad, theirs.weight.grad)
    # -1 is the last row (as in torch), not "no padding"
    ids[1] = 19
    w.grad = None
    (eb.embedding(w, ids, padding_idx=-1) * g).sum().backward()
    ref = theirs.weight.detach().clone().requires_grad_(True)
    (torch.nn.functional.embedding(ids, ref, padding_idx=-1) * g).sum().backward()
    torch.testing.assert_close(w.grad, ref.grad)
    assert w.grad[19].abs().sum() == 0


def test_threshold_splits_small_and_large_lookups():
    """The size rule, not a fixed path: below the threshold torch's gather runs, above it ours."""
    calls = []
    real = eb._ops_bag

    def spy(*args):
        calls.append(args[1].shape)
        return real(*args)

    w = torch.randn(50, 8)
    small = torch.randint(0, 50, (4,))
    large_n = eb._TORCH_GATHER_MAX // 8 + 1
    large = torch.randint(0, 50, (large_n,))
    try:
        eb._ops_bag = spy
        torch.testing.assert_close(eb.embedding(w, small), w[small], rtol=0, atol=0)
        assert calls == []
        torch.testing.assert_close(eb.embedding(w, large), w[large], rtol=0, atol=0)
        assert calls == [(large_n, 1)]
    finally:
        eb._ops_bag = real
