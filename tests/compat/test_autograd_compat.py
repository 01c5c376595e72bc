"""Higher-order and forward-mode derivatives of the lookups, side by side with torch (issue 14, §1).

The lookup is linear in the table and in the per-sample weights, so double backward and JVPs are
exact; every figure is compared against torch's own functions or a float64 pure-torch reference.
"""

import embedforge
import pytest
import torch
import torch.autograd.forward_ad as fwAD
from embedforge.ops import embedding, embedding_bag

F = torch.nn.functional


def _ref_bag(w, ids, mode, psw=None, pad=None):
    """Pure-torch pooled lookup of fixed-length bags [B, L] (differentiable to any order)."""
    rows = w[ids]  # [B, L, D]
    keep = torch.ones(ids.shape, dtype=w.dtype) if pad is None else (ids != pad).to(w.dtype)
    if mode == "max":
        masked = torch.where(keep.bool()[..., None], rows, torch.full_like(rows, -float("inf")))
        out = masked.max(dim=1).values
        return torch.where(torch.isinf(out), torch.zeros_like(out), out)
    s = keep if psw is None else keep * psw.to(w.dtype)
    out = (rows * s[..., None]).sum(dim=1)
    if mode == "mean":
        out = out / keep.sum(dim=1, keepdim=True).clamp(min=1)
    return out


def _inputs(seed, V=7, D=4, B=5, L=3):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(V, D, generator=g)
    ids = torch.randint(0, V, (B, L), generator=g)
    psw = torch.rand(B, L, generator=g) + 0.5
    return w, ids, psw


@pytest.mark.parametrize("mode", ["sum", "mean"])
@pytest.mark.parametrize("with_psw", [False, True])
def test_double_backward_matches_float64_reference(mode, with_psw):
    w, ids, psw = _inputs(1)
    pad = int(ids[0, 0])
    head = torch.randn(5, 4, generator=torch.Generator().manual_seed(2))

    def second(fn, w, psw):
        w = w.clone().requires_grad_()
        p = psw.clone().requires_grad_() if with_psw else None
        loss = (fn(w, p) * head).pow(2).sum()
        inputs = (w, p) if with_psw else (w,)
        grads = torch.autograd.grad(loss, inputs, create_graph=True)
        total = sum((g * torch.cos(torch.arange(g.numel(), dtype=g.dtype).reshape(g.shape))).sum() for g in grads)
        return torch.autograd.grad(total, inputs)

    ours = second(lambda w, p: embedding_bag(w, ids, mode=mode, per_sample_weights=p, padding_idx=pad), w, psw)
    ref = second(lambda w, p: _ref_bag(w, ids, mode, p, pad), w.double(), psw.double())
    assert any(r.abs().max() > 0 for r in ref)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a.double(), b, rtol=1e-4, atol=1e-4)


def test_double_backward_embedding_matches_torch_and_gradgradcheck():
    w, ids, _ = _inputs(3)
    pad = int(ids[1, 1])
    a = w.clone().requires_grad_()
    b = w.clone().requires_grad_()
    (ga,) = torch.autograd.grad(embedding(a, ids, padding_idx=pad).pow(3).sum(), a, create_graph=True)
    (gb,) = torch.autograd.grad(F.embedding(ids, b, padding_idx=pad).pow(3).sum(), b, create_graph=True)
    torch.testing.assert_close(ga, gb)
    (gga,) = torch.autograd.grad(ga.sin().sum(), a)
    (ggb,) = torch.autograd.grad(gb.sin().sum(), b)
    assert ggb.abs().max() > 0
    torch.testing.assert_close(gga, ggb)
    # nn.Embedding likewise, and torch's own checker (float32 table: central differences of a
    # quadratic are exact up to rounding, so a coarse step is precise).
    m = embedforge.nn.Embedding(7, 4, padding_idx=pad)
    with torch.no_grad():
        m.weight.copy_(w)
    torch.autograd.gradgradcheck(
        lambda t: torch.func.functional_call(m, {"weight": t}, (ids,)).pow(2),
        (m.weight,),
        eps=1e-2,
        atol=2e-2,
        rtol=2e-3,
    )


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_gradgradcheck_bags(mode):
    w, ids, psw = _inputs(4)
    w.requires_grad_()
    offsets = torch.tensor([0, 2, 2, 6, 9])  # an empty bag included
    flat = ids.reshape(-1)[:12].contiguous()
    inputs = (w, psw.reshape(-1)[:12].clone().requires_grad_()) if mode != "max" else (w,)

    def fn(t, p=None):
        return embedding_bag(t, flat, offsets, mode=mode, per_sample_weights=p).pow(2) * 0.5

    torch.autograd.gradgradcheck(fn, inputs, eps=1e-2, atol=2e-2, rtol=2e-3)


def test_double_backward_max_mode_matches_torch_first_order_structure():
    w, ids, _ = _inputs(5)
    a = w.double().clone().requires_grad_()
    b = w.double().clone().requires_grad_()
    (ga,) = torch.autograd.grad(embedding_bag(a.float(), ids, mode="max").double().pow(2).sum(), a, create_graph=True)
    (gb,) = torch.autograd.grad(_ref_bag(b, ids, "max").pow(2).sum(), b, create_graph=True)
    torch.testing.assert_close(ga, gb, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        torch.autograd.grad(ga.sum(), a)[0], torch.autograd.grad(gb.sum(), b)[0], rtol=1e-5, atol=1e-5
    )


def test_double_backward_sparse_raises_not_implemented():
    w, ids, _ = _inputs(6)
    w.requires_grad_()
    out = embedding_bag(w, ids, sparse=True).pow(2).sum()
    with pytest.raises(NotImplementedError, match="sparse=True"):
        torch.autograd.grad(out, w, create_graph=True)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_jvp_matches_reference(mode):
    w, ids, psw = _inputs(7)
    tw, _, tp = _inputs(8)
    p = None if mode == "max" else psw
    t_p = None if mode == "max" else tp
    pad = int(ids[2, 0])
    fn = lambda w, p=None: embedding_bag(w, ids, mode=mode, per_sample_weights=p, padding_idx=pad)  # noqa: E731
    ref = lambda w, p=None: _ref_bag(w, ids, mode, p, pad)  # noqa: E731
    prim = (w,) if p is None else (w, p)
    tang = (tw,) if p is None else (tw, t_p)
    out, tan = torch.func.jvp(fn, prim, tang)
    rout, rtan = torch.func.jvp(ref, tuple(x.double() for x in prim), tuple(x.double() for x in tang))
    assert rtan.abs().max() > 0
    torch.testing.assert_close(out.double(), rout, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(tan.double(), rtan, rtol=1e-5, atol=1e-5)
    with fwAD.dual_level():
        duals = [fwAD.make_dual(x, t) for x, t in zip(prim, tang)]
        t2 = fwAD.unpack_dual(fn(*duals)).tangent
    assert t2 is not None
    torch.testing.assert_close(t2, tan)


def test_jvp_embedding_and_module_match_torch():
    w, ids, _ = _inputs(9)
    tw, _, _ = _inputs(10)
    pad = int(ids[0, 1])
    ours = torch.func.jvp(lambda t: embedding(t, ids, padding_idx=pad), (w,), (tw,))
    theirs = torch.func.jvp(lambda t: F.embedding(ids, t, padding_idx=pad), (w,), (tw,))
    torch.testing.assert_close(ours, theirs)
    m = embedforge.nn.Embedding(7, 4)
    ref = torch.nn.Embedding(7, 4)
    with torch.no_grad():
        m.weight.copy_(w)
        ref.weight.copy_(w)
    with fwAD.dual_level():
        a = torch.func.functional_call(m, {"weight": fwAD.make_dual(w, tw)}, (ids,))
        b = torch.func.functional_call(ref, {"weight": fwAD.make_dual(w, tw)}, (ids,))
        torch.testing.assert_close(fwAD.unpack_dual(a).tangent, fwAD.unpack_dual(b).tangent)


def test_func_grad_and_vmap_match_torch():
    w, ids, _ = _inputs(11)
    g1 = torch.func.grad(lambda t: embedding_bag(t, ids, mode="mean").pow(2).sum())(w)
    g2 = torch.func.grad(lambda t: F.embedding_bag(ids, t, mode="mean").pow(2).sum())(w)
    torch.testing.assert_close(g1, g2)
    W = torch.randn(3, 7, 4, generator=torch.Generator().manual_seed(12))
    with pytest.warns(UserWarning):  # torch's batching fallback warns for both
        v1 = torch.func.vmap(lambda t: embedding_bag(t, ids, mode="max"))(W)
    torch.testing.assert_close(v1, torch.stack([F.embedding_bag(ids, t, mode="max") for t in W]))


def test_fused_optimizer_table_refuses_double_backward_and_forward_ad():
    m = embedforge.nn.EmbeddingBag(10, 3, optimizer=embedforge.optim.SGD(lr=0.1))
    ids = torch.tensor([[1, 2], [3, 3]])
    psw = torch.rand(2, 2, requires_grad=True)
    before = m.weight.detach().clone()
    out = m(ids, per_sample_weights=psw)
    with pytest.raises(NotImplementedError, match="create_graph"):
        torch.autograd.grad(out.pow(2).sum(), psw, create_graph=True)
    assert torch.equal(m.weight.detach(), before)  # refused before any update
    with fwAD.dual_level(), pytest.raises(NotImplementedError):
        m(ids, per_sample_weights=fwAD.make_dual(torch.rand(2, 2), torch.rand(2, 2)))


def test_modules_are_torch_module_types_and_match_torch():
    bag = embedforge.nn.EmbeddingBag(20, 6, mode="max", padding_idx=3)
    emb = embedforge.nn.Embedding(20, 6, padding_idx=3)
    assert isinstance(bag, torch.nn.EmbeddingBag) and isinstance(emb, torch.nn.Embedding)
    assert not isinstance(bag, torch.nn.Embedding) and not isinstance(emb, torch.nn.EmbeddingBag)
    ref_bag = torch.nn.EmbeddingBag(20, 6, mode="max", padding_idx=3)
    ref_emb = torch.nn.Embedding(20, 6, padding_idx=3)
    ref_bag.load_state_dict(bag.state_dict())
    ref_emb.load_state_dict(emb.state_dict())
    ids = torch.randint(0, 20, (4, 5), generator=torch.Generator().manual_seed(13))
    torch.testing.assert_close(bag(ids), ref_bag(ids))
    torch.testing.assert_close(emb(ids), ref_emb(ids))
    assert repr(bag).startswith("EmbeddingBag(20, 6") and repr(emb).startswith("Embedding(20, 6")
    assert sum(p.numel() for p in bag.parameters()) == 120  # one table, nothing from torch's __init__


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_float64_tables_pass_gradcheck_and_match_torch(mode):
    g = torch.Generator().manual_seed(15)
    w = torch.randn(8, 3, dtype=torch.float64, generator=g, requires_grad=True)
    ids = torch.tensor([1, 2, 0, 5, 7, 7])
    offsets = torch.tensor([0, 2, 2, 6])
    fn = lambda t: embedding_bag(t, ids, offsets, mode=mode, padding_idx=0, include_last_offset=True)  # noqa: E731
    torch.autograd.gradcheck(fn, (w,))
    torch.testing.assert_close(
        fn(w), F.embedding_bag(ids, w, offsets, mode=mode, padding_idx=0, include_last_offset=True)
    )
    torch.autograd.gradgradcheck(lambda t: embedding(t, ids.reshape(3, 2)).pow(2), (w,))
    m = embedforge.nn.EmbeddingBag(8, 3, mode=mode, dtype=torch.float64)
    assert m(ids, offsets[:-1]).dtype == torch.float64
    # the native path's checks and error classes hold for float64 too
    with pytest.raises(IndexError, match=r"indices\[1\]=8 is out of range for a table of 8 rows"):
        embedding_bag(w, torch.tensor([1, 8]), torch.tensor([0]), mode=mode)
    with pytest.raises(ValueError, match="must equal the number of indices"):
        embedding_bag(w, ids, torch.tensor([0, 2, 4]), mode=mode, include_last_offset=True)
    with pytest.raises(TypeError, match="fused optimizer"):
        embedforge.nn.EmbeddingBag(8, 3, dtype=torch.float64, optimizer=embedforge.optim.SGD(lr=0.1))
