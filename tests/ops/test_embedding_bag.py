"""embedforge.ops.embedding_bag: agreement with torch and a float64 reference (forward and
gradients), opcheck, torch.compile, fake shapes, determinism, every ISA build, edge cases, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib

import embedforge
import pytest
import torch
import torch.nn.functional as F
from ef_devices import device_params
from embedforge.ops import embedding_bag
from reference_embedding_bag import embedding_bag_ref

DEVICES = device_params()
MODES = ["sum", "mean", "max"]


def random_batch(gen, V, D, B, max_len, id_dtype=torch.int64, padding_idx=None, empty_bags=True, device="cpu"):
    lengths = torch.randint(0 if empty_bags else 1, max_len + 1, (B,), generator=gen)
    N = int(lengths.sum())
    indices = torch.randint(0, V, (N,), generator=gen)
    if padding_idx is not None and N:
        indices[torch.rand(N, generator=gen) < 0.2] = padding_idx
    offsets = torch.cat([torch.zeros(1, dtype=torch.int64), lengths.cumsum(0)[:-1]])
    weight = torch.randn(V, D, generator=gen)
    return weight.to(device), indices.to(id_dtype).to(device), offsets.to(id_dtype).to(device)


# ---- agreement with torch (where torch defines the result) ---------------------------------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding_idx", [None, 3])
@pytest.mark.parametrize("id_dtype", [torch.int64, torch.int32])
def test_matches_torch_forward_and_grad(device, mode, padding_idx, id_dtype):
    gen = torch.Generator().manual_seed(zlib.crc32(repr((mode, padding_idx, str(id_dtype))).encode()))
    weight, indices, offsets = random_batch(
        gen, V=50, D=13, B=17, max_len=9, id_dtype=id_dtype, padding_idx=padding_idx, device=device
    )
    w1 = weight.clone().requires_grad_()
    w2 = weight.clone().requires_grad_()
    ours = embedding_bag(w1, indices, offsets, mode=mode, padding_idx=padding_idx)
    theirs = F.embedding_bag(indices, w2, offsets, mode=mode, padding_idx=padding_idx)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    g = torch.randn(theirs.shape, generator=gen).to(device)
    (ours * g).sum().backward()
    (theirs * g).sum().backward()
    torch.testing.assert_close(w1.grad, w2.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", MODES)
def test_fixed_length_bags_2d(device, mode):
    gen = torch.Generator().manual_seed(7)
    weight = torch.randn(30, 8, generator=gen).to(device)
    indices = torch.randint(0, 30, (6, 5), generator=gen).to(device)
    w1, w2 = weight.clone().requires_grad_(), weight.clone().requires_grad_()
    ours = embedding_bag(w1, indices, mode=mode)
    theirs = F.embedding_bag(indices, w2, mode=mode)
    torch.testing.assert_close(ours, theirs)
    ours.pow(2).sum().backward()
    theirs.pow(2).sum().backward()
    torch.testing.assert_close(w1.grad, w2.grad)


@pytest.mark.parametrize("device", DEVICES)
def test_include_last_offset(device):
    gen = torch.Generator().manual_seed(3)
    weight, indices, offsets = random_batch(gen, V=40, D=6, B=9, max_len=6, device=device)
    full = torch.cat([offsets, torch.tensor([indices.numel()], device=device)])
    w1, w2 = weight.clone().requires_grad_(), weight.clone().requires_grad_()
    ours = embedding_bag(w1, indices, full, mode="mean", include_last_offset=True)
    theirs = F.embedding_bag(indices, w2, full, mode="mean", include_last_offset=True)
    torch.testing.assert_close(ours, theirs)
    ours.sum().backward()
    theirs.sum().backward()
    torch.testing.assert_close(w1.grad, w2.grad)


@pytest.mark.parametrize("device", DEVICES)
def test_per_sample_weights_sum_matches_torch(device):
    gen = torch.Generator().manual_seed(11)
    weight, indices, offsets = random_batch(gen, V=25, D=7, B=12, max_len=8, padding_idx=0, device=device)
    psw = torch.rand(indices.shape, generator=gen).to(device)
    w1, w2 = weight.clone().requires_grad_(), weight.clone().requires_grad_()
    p1, p2 = psw.clone().requires_grad_(), psw.clone().requires_grad_()
    ours = embedding_bag(w1, indices, offsets, mode="sum", per_sample_weights=p1, padding_idx=0)
    theirs = F.embedding_bag(indices, w2, offsets, mode="sum", per_sample_weights=p2, padding_idx=0)
    torch.testing.assert_close(ours, theirs)
    g = torch.randn(ours.shape, generator=gen).to(device)
    (ours * g).sum().backward()
    (theirs * g).sum().backward()
    torch.testing.assert_close(w1.grad, w2.grad)
    torch.testing.assert_close(p1.grad, p2.grad)


# ---- agreement with the float64 reference (including what torch does not define) -----------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_per_sample_weights_against_float64_reference(device, mode):
    gen = torch.Generator().manual_seed(5)
    weight, indices, offsets = random_batch(gen, V=20, D=5, B=10, max_len=7, padding_idx=2, device=device)
    psw = torch.rand(indices.shape, generator=gen).to(device)
    w = weight.clone().requires_grad_()
    p = psw.clone().requires_grad_()
    w64 = weight.double().cpu().requires_grad_()
    p64 = psw.double().cpu().requires_grad_()
    ours = embedding_bag(w, indices, offsets, mode=mode, per_sample_weights=p, padding_idx=2)
    ref = embedding_bag_ref(w64, indices.cpu(), offsets.cpu(), mode=mode, per_sample_weights=p64, padding_idx=2)
    torch.testing.assert_close(ours.double().cpu(), ref, rtol=1e-5, atol=1e-6)
    g = torch.randn(ours.shape, generator=gen, dtype=torch.float64)
    (ours * g.to(device).float()).sum().backward()
    (ref * g).sum().backward()
    torch.testing.assert_close(w.grad.double().cpu(), w64.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(p.grad.double().cpu(), p64.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("mode", MODES)
def test_half_tables_accumulate_in_float32(device, dtype, mode):
    gen = torch.Generator().manual_seed(13)
    weight, indices, offsets = random_batch(gen, V=60, D=33, B=15, max_len=40, device=device)
    w = weight.to(dtype).requires_grad_()
    w64 = weight.to(dtype).double().cpu().requires_grad_()
    ours = embedding_bag(w, indices, offsets, mode=mode)
    assert ours.dtype == dtype
    ref = embedding_bag_ref(w64, indices.cpu(), offsets.cpu(), mode=mode)
    # One rounding of the float32 accumulator to the table dtype: error bounded by its epsilon.
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(ours.double().cpu(), ref, rtol=2 * eps, atol=2 * eps)
    g = torch.randn(ours.shape, generator=gen).to(dtype)
    (ours * g.to(device)).sum().backward()
    (ref * g.double()).sum().backward()
    assert w.grad.dtype == dtype
    torch.testing.assert_close(w.grad.double().cpu(), w64.grad, rtol=2 * eps, atol=4 * eps)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", MODES)
def test_sparse_gradient_is_honest_about_coalescing_and_equals_dense(device, mode):
    gen = torch.Generator().manual_seed(17)
    weight, indices, offsets = random_batch(gen, V=100, D=9, B=20, max_len=10, padding_idx=4, device=device)
    w1, w2 = weight.clone().requires_grad_(), weight.clone().requires_grad_()
    a = embedding_bag(w1, indices, offsets, mode=mode, padding_idx=4, sparse=True)
    b = F.embedding_bag(indices, w2, offsets, mode=mode, padding_idx=4)
    g = torch.randn(a.shape, generator=gen).to(device)
    (grad,) = torch.autograd.grad((a * g).sum(), w1, retain_graph=True)
    assert grad.is_sparse
    if grad.is_coalesced():  # max mode (and CUDA): the touched rows, unique and ascending
        rows = grad._indices()[0]
        assert torch.all(rows[1:] > rows[:-1])
    else:  # sum and mean on the CPU: torch's layout, one entry per non-padding id, in position order
        assert mode != "max" and device == "cpu"
        torch.testing.assert_close(grad._indices()[0], indices[indices != 4].long())
    (a * g).sum().backward()
    (b * g).sum().backward()
    rows = w1.grad.coalesce().indices()[0]
    assert torch.all(rows[1:] > rows[:-1])  # unique and ascending
    assert 4 not in rows.tolist()  # the padding row is never touched
    torch.testing.assert_close(w1.grad.to_dense(), w2.grad)
    # a torch optimizer accepts it
    torch.optim.SGD([w1], lr=0.1).step()


_LARGE_GRAD_CHECK = """
import sys, torch, embedforge as ef
D, mode = int(sys.argv[1]), sys.argv[2]
g = torch.Generator().manual_seed(D)
V, N = 150_000, 120_000
w = torch.randn(V, D, generator=g)
ids = torch.randint(0, V, (N,), generator=g)
ids[::5] = 11  # a hot row
offs = torch.arange(0, N, 30)
go = torch.randn(len(offs), D, generator=g)
bag = torch.arange(N) // 30
scale = torch.full((N,), 1.0 / 30, dtype=torch.float64) if mode == "mean" else torch.ones(N, dtype=torch.float64)
ref = torch.zeros(V, D, dtype=torch.float64).index_add_(0, ids, go.double()[bag] * scale[:, None])
for sparse in (False, True):
    x = w.clone().requires_grad_()
    ef.ops.embedding_bag(x, ids, offs, mode=mode, sparse=sparse).backward(go)
    got = x.grad.to_dense() if sparse else x.grad
    assert x.grad.is_sparse == sparse
    if sparse:
        assert x.grad._nnz() * D * 4 >= 4 << 20  # large enough for the streaming stores
    # float32 sums in id order: the hot row adds 24,000 terms
    torch.testing.assert_close(got.double(), ref, rtol=1e-4, atol=1e-4)
print("ok")
"""


@pytest.mark.parametrize("D,mode", [(16, "sum"), (64, "mean"), (24, "sum")])
@pytest.mark.parametrize("isa", [None, "avx2", "baseline"])
def test_large_gradients_written_with_streaming_stores(D, mode, isa):
    """Gradients of 4 MiB or more take the non-temporal store path (widths of whole vectors; 24 is
    not one for AVX-512 and falls back): dense and sparse, against float64, on every ISA build."""
    if isa and embedforge.build_info()["cpu_isa"] == "baseline":
        pytest.skip("this CPU has no AVX2: only the baseline build runs")
    env = dict(os.environ)
    env.pop("EMBEDFORGE_ISA", None)
    if isa:
        env["EMBEDFORGE_ISA"] = isa
    r = subprocess.run([sys.executable, "-c", _LARGE_GRAD_CHECK, str(D), mode], env=env, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]


# ---- the one-hot lesson: the gradient is delta^T G, without forming delta -----------------------
def test_gradient_equals_onehot_product_in_float64():
    gen = torch.Generator().manual_seed(19)
    V, D = 37, 6
    weight, indices, offsets = random_batch(gen, V=V, D=D, B=11, max_len=9, empty_bags=False)
    w = weight.clone().requires_grad_()
    out = embedding_bag(w, indices, offsets, mode="sum")
    g = torch.randn(out.shape, generator=gen)
    out.backward(g)
    onehot = torch.zeros(indices.numel(), V, dtype=torch.float64)
    onehot[torch.arange(indices.numel()), indices] = 1
    bag_of = torch.repeat_interleave(
        torch.arange(len(offsets)), torch.diff(torch.cat([offsets, torch.tensor([indices.numel()])]))
    )
    expected = onehot.T @ g.double()[bag_of]
    torch.testing.assert_close(w.grad.double(), expected, rtol=1e-6, atol=1e-6)


# ---- determinism ---------------------------------------------------------------------------------
def test_backward_bit_identical_for_1_and_2_threads():
    gen = torch.Generator().manual_seed(23)
    weight, indices, offsets = random_batch(gen, V=1000, D=32, B=300, max_len=50)
    indices[::3] = 7  # a hot row shared by many bags
    results = []
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for sparse in (False, True):
                w = weight.clone().requires_grad_()
                out = embedding_bag(w, indices, offsets, mode="mean", sparse=sparse)
                out.backward(torch.ones_like(out) * 0.37)
                results.append((threads, sparse, out.detach(), w.grad.to_dense() if sparse else w.grad))
    finally:
        torch.set_num_threads(before)
    for _, sparse, out, grad in results[2:]:
        ref = results[1] if sparse else results[0]
        assert torch.equal(out, ref[2]) and torch.equal(grad, ref[3])


@pytest.mark.skipif(
    embedforge.build_info()["cpu_isa"] == "baseline", reason="this CPU has no AVX2: only the baseline build runs"
)
def test_every_isa_build_agrees():
    code = (
        "import torch, embedforge as ef\n"
        "g = torch.Generator().manual_seed(1)\n"
        "w = torch.randn(200, 77, generator=g); i = torch.randint(0, 200, (500,), generator=g)\n"
        "o = torch.arange(0, 500, 7)\n"
        "outs = [ef.ops.embedding_bag(w.to(t), i, o, mode=m).float() for t in (torch.float32, torch.bfloat16, torch.float16) for m in ('sum','mean','max')]\n"
        "torch.save(outs, __import__('sys').argv[1])\n"
    )
    results = {}
    for isa in ("baseline", "avx2", None):
        path = os.path.join(os.environ.get("PYTEST_TMPDIR", "/tmp"), f"ef_isa_{os.getpid()}_{isa}.pt")
        env = dict(os.environ)
        env.pop("EMBEDFORGE_ISA", None)
        if isa:
            env["EMBEDFORGE_ISA"] = isa
        subprocess.run([sys.executable, "-c", code, path], check=True, env=env)
        results[isa] = torch.load(path)
        os.remove(path)
    for isa in ("baseline", "avx2"):
        for a, b in zip(results[isa], results[None]):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("D", [8, 16, 24, 48, 64, 77, 96, 128, 160, 200, 256, 272, 520])
@pytest.mark.parametrize("threads", [1, 2])
def test_every_width_of_the_vector_kernels_against_float64(D, threads):
    """Widths that take 1..16 register vectors, a scalar tail, and several register blocks."""
    gen = torch.Generator().manual_seed(zlib.crc32(repr((D, threads)).encode()))
    weight, indices, offsets = random_batch(gen, V=300, D=D, B=37, max_len=70, padding_idx=5)
    psw = torch.rand(indices.shape, generator=gen)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for dtype in (torch.float32, torch.bfloat16, torch.float16):
            w = weight.to(dtype)
            rtol, atol = (1e-5, 5e-5) if dtype == torch.float32 else (2 * torch.finfo(dtype).eps,) * 2
            for mode in ("sum", "mean"):
                for p, pad in ((None, None), (psw, None), (None, 5), (psw, 5)):
                    ref = embedding_bag_ref(
                        w.double(),
                        indices,
                        offsets,
                        mode=mode,
                        per_sample_weights=None if p is None else p.double(),
                        padding_idx=pad,
                    )
                    for ids, offs in ((indices, offsets), (indices.int(), offsets.int())):
                        ours = embedding_bag(w, ids, offs, mode=mode, per_sample_weights=p, padding_idx=pad)
                        torch.testing.assert_close(ours.double(), ref, rtol=rtol, atol=atol)
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("threads", [1, 2])
def test_bad_id_deep_in_a_large_batch_is_reported_first(threads):
    """Ids are checked part by part inside the forward; the message still names the first offender."""
    gen = torch.Generator().manual_seed(41)
    weight, indices, offsets = random_batch(gen, V=1000, D=16, B=3000, max_len=20, empty_bags=False)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for bad in (1000, -3):
            ids = indices.clone()
            ids[len(ids) // 3] = bad
            ids[len(ids) - 5] = bad
            for ids_t, offs_t in ((ids, offsets), (ids.int(), offsets.int())):
                with pytest.raises(IndexError, match=rf"indices\[{len(ids) // 3}\]={bad} "):
                    embedding_bag(weight, ids_t, offs_t)
    finally:
        torch.set_num_threads(before)


def test_ids_past_the_last_offset_are_still_checked():
    w = torch.randn(10, 4)
    with pytest.raises(IndexError, match=r"indices\[3\]=10 is out of range"):
        embedding_bag(w, torch.tensor([1, 2, 3, 10]), torch.tensor([0, 2, 4]), include_last_offset=True)
    # a last offset short of len(indices) is invalid (torch documents it as the size of indices)
    with pytest.raises(ValueError, match=r"offsets\[2\]=3 must equal the number of indices \(4\)"):
        embedding_bag(w, torch.tensor([1, 2, 3, 1]), torch.tensor([0, 2, 3]), include_last_offset=True)
    with pytest.raises(IndexError, match=r"indices\[0\]=-1 is negative"):
        embedding_bag(torch.randn(10, 0), torch.tensor([-1, 2]), torch.tensor([0]))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sparse", [False, True])
def test_wrapper_autograd_equals_the_registered_formula(mode, sparse):
    """The wrapper's eager autograd path gives the gradients of the op's registered autograd."""
    gen = torch.Generator().manual_seed(zlib.crc32(repr((mode, sparse)).encode()))
    weight, indices, offsets = random_batch(gen, V=40, D=11, B=13, max_len=8, padding_idx=1)
    psw = None if mode == "max" else torch.rand(indices.shape, generator=gen)
    g = torch.randn(13, 11, generator=gen)
    grads = []
    for wrapper in (True, False):
        w = weight.clone().requires_grad_()
        p = None if psw is None else psw.clone().requires_grad_()
        if wrapper:
            out = embedding_bag(w, indices, offsets, mode=mode, per_sample_weights=p, padding_idx=1, sparse=sparse)
        else:
            out = torch.ops.embedforge.embedding_bag(w, indices, offsets, MODES.index(mode), p, 1, False, sparse)[0]
        (out * g).sum().backward()
        grads.append((out.detach(), w.grad.to_dense(), None if p is None else p.grad))
    for a, b in zip(*grads):
        if a is not None:
            assert torch.equal(a, b)
    with torch.no_grad():
        out = embedding_bag(weight.clone().requires_grad_(), indices, offsets, mode=mode)
    assert not out.requires_grad


# ---- opcheck, torch.compile, fake shapes ------------------------------------------------------------
def sample_inputs(device):
    """Argument tuples for torch.ops.embedforge.embedding_bag covering modes, layouts and dtypes."""
    gen = torch.Generator().manual_seed(29)
    w = torch.randn(20, 6, generator=gen).to(device)
    i = torch.randint(0, 20, (15,), generator=gen).to(device)
    o = torch.tensor([0, 4, 4, 10], device=device)
    psw = torch.rand(15, generator=gen).to(device)
    i2 = torch.randint(0, 20, (4, 3), generator=gen).to(device)
    return [
        (w.requires_grad_(), i, o, 0, None, -1, False, False),
        (w, i, o, 1, psw.requires_grad_(), 2, False, False),
        (w, i, o, 2, None, -1, False, False),
        (w, i2, None, 1, None, -1, False, False),
        (w, i, torch.cat([o, torch.tensor([15], device=device)]), 0, None, 3, True, False),
        (w.detach().bfloat16().requires_grad_(), i, o, 0, None, -1, False, False),
    ]


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck(device):
    for args in sample_inputs(device):
        torch.library.opcheck(torch.ops.embedforge.embedding_bag.default, args)


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck_backward_ops(device):
    w, i, o = (
        torch.randn(20, 6).to(device),
        torch.randint(0, 20, (15,)).to(device),
        torch.tensor([0, 4, 4, 10]).to(device),
    )
    g = torch.randn(4, 6).to(device)
    mr = torch.empty(0, 0, dtype=torch.int64, device=device)
    torch.library.opcheck(
        torch.ops.embedforge.embedding_bag_backward_dense.default, (g, i, o, 20, 0, None, mr, -1, False)
    )
    torch.library.opcheck(torch.ops.embedforge.embedding_bag_backward_psw.default, (g, w, i, o, 1, -1, False))
    torch.library.opcheck(
        torch.ops.embedforge.embedding_bag_backward_rows.default,
        (g, i, o, 20, 0, None, mr, -1, False),
        test_utils=("test_schema", "test_autograd_registration", "test_faketensor"),
    )
    if device == "cpu":
        for pad, write_ids in ((-1, True), (-1, False), (3, True)):
            torch.library.opcheck(
                torch.ops.embedforge.embedding_bag_backward_positions.default,
                (g, i, o, 20, 1, None, pad, False, write_ids),
                test_utils=("test_schema", "test_autograd_registration", "test_faketensor"),
            )


def test_torch_compile_fullgraph_forward_and_backward():
    bag = embedforge.nn.EmbeddingBag(50, 8, mode="mean", padding_idx=0)
    head = torch.nn.Linear(8, 1)

    def step(ids, offs):
        return head(bag(ids, offs)).sum()

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    ids, offs = torch.randint(0, 50, (30,)), torch.tensor([0, 5, 12, 20])
    loss = compiled(ids, offs)
    loss.backward()
    g_compiled = bag.weight.grad.clone()
    bag.weight.grad = None
    step(ids, offs).backward()
    torch.testing.assert_close(loss, step(ids, offs))
    torch.testing.assert_close(g_compiled, bag.weight.grad)


def test_fake_shapes():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        w = torch.empty(100, 16)
        i = torch.empty(40, dtype=torch.int64)
        o = torch.empty(9, dtype=torch.int64)
        out, mr = torch.ops.embedforge.embedding_bag(w, i, o, 2, None, -1, False, False)
        assert out.shape == (9, 16) and mr.shape == (9, 16) and mr.dtype == torch.int64
        out, mr = torch.ops.embedforge.embedding_bag(w, i, o, 0, None, -1, True, False)
        assert out.shape == (8, 16) and mr.numel() == 0
        gw = torch.ops.embedforge.embedding_bag_backward_dense(torch.empty(9, 16), i, o, 100, 0, None, mr, -1, False)
        assert gw.shape == (100, 16)


# ---- edge cases -------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", MODES)
def test_empty_and_all_padding_bags_give_zeros(device, mode):
    w = torch.randn(10, 4, device=device, requires_grad=True)
    indices = torch.tensor([0, 0, 5, 0], device=device)
    offsets = torch.tensor([0, 0, 2, 2, 4], device=device)  # bags: [], [0,0], [], [5,0], []
    out = embedding_bag(w, indices, offsets, mode=mode, padding_idx=0)
    assert torch.equal(out[[0, 1, 2, 4]], torch.zeros(4, 4, device=device))
    torch.testing.assert_close(out[3], w[5].detach())
    out.sum().backward()
    expected = torch.zeros(10, 4, device=device)
    expected[5] = 1
    torch.testing.assert_close(w.grad, expected)


@pytest.mark.parametrize("device", DEVICES)
def test_no_ids_no_bags(device):
    w = torch.randn(10, 4, device=device, requires_grad=True)
    out = embedding_bag(
        w, torch.empty(0, dtype=torch.int64, device=device), torch.empty(0, dtype=torch.int64, device=device)
    )
    assert out.shape == (0, 4)
    out.sum().backward()
    assert torch.equal(w.grad, torch.zeros_like(w))


@pytest.mark.parametrize("device", DEVICES)
def test_duplicate_ids_in_a_bag_and_one_row_table(device):
    w = torch.randn(1, 3, device=device, requires_grad=True)
    out = embedding_bag(
        w, torch.zeros(6, dtype=torch.int64, device=device), torch.tensor([0, 2], device=device), mode="max"
    )
    torch.testing.assert_close(out, w.detach().expand(2, 3))
    out.sum().backward()
    torch.testing.assert_close(w.grad, torch.full((1, 3), 2.0, device=device))  # once per bag, not per duplicate


def test_large_dim_and_long_bags_against_torch():
    gen = torch.Generator().manual_seed(31)
    weight, indices, offsets = random_batch(gen, V=500, D=259, B=9, max_len=300)
    for mode in MODES:
        torch.testing.assert_close(
            embedding_bag(weight, indices, offsets, mode=mode),
            F.embedding_bag(indices, weight, offsets, mode=mode),
            rtol=1e-5,
            atol=1e-5,
        )


def test_negative_padding_idx_counts_from_the_end():
    w = torch.randn(10, 4)
    ids, offs = torch.tensor([9, 1, 9]), torch.tensor([0])
    torch.testing.assert_close(embedding_bag(w, ids, offs, mode="mean", padding_idx=-1), w[1:2])


def test_mixed_offset_dtype_is_accepted():
    w = torch.randn(10, 4)
    ids, offs = torch.tensor([1, 2, 3], dtype=torch.int32), torch.tensor([0, 1])
    torch.testing.assert_close(
        embedding_bag(w, ids, offs, mode="mean"), F.embedding_bag(ids.long(), w, offs, mode="mean")
    )


# ---- bad input: a named Python error, never a crash ----------------------------------------------------
W = torch.randn(10, 4)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            dict(indices=torch.tensor([1, 10]), offsets=torch.tensor([0])),
            IndexError,
            r"indices\[1\]=10 is out of range for a table of 10 rows",
        ),
        (dict(indices=torch.tensor([1, -1]), offsets=torch.tensor([0])), IndexError, r"indices\[1\]=-1 is negative"),
        (dict(indices=torch.tensor([1, 2]), offsets=torch.tensor([1])), ValueError, r"offsets\[0\]=1 must be 0"),
        (
            dict(indices=torch.tensor([1, 2, 3]), offsets=torch.tensor([0, 2, 1])),
            ValueError,
            r"non-decreasing.*offsets\[2\]=1",
        ),
        (
            dict(indices=torch.tensor([1, 2]), offsets=torch.tensor([0, 5])),
            ValueError,
            r"offsets\[1\]=5 is past the end",
        ),
        (
            dict(indices=torch.tensor([1, 2]), offsets=torch.tensor([0]), per_sample_weights=torch.ones(3)),
            ValueError,
            "shape of indices",
        ),
        (
            dict(indices=torch.tensor([1, 2]), offsets=torch.tensor([0]), per_sample_weights=torch.ones(2), mode="max"),
            ValueError,
            "not 'max'",
        ),
        (
            dict(
                indices=torch.tensor([1, 2]),
                offsets=torch.tensor([0]),
                per_sample_weights=torch.ones(2, dtype=torch.int64),
            ),
            TypeError,
            "floating-point",
        ),
        (dict(indices=torch.tensor([1.0, 2.0]), offsets=torch.tensor([0])), TypeError, "int32 or int64"),
        (dict(indices=torch.tensor([1, 2]), offsets=torch.tensor([0.0])), TypeError, "offsets must be int32 or int64"),
        (dict(indices=torch.tensor([1, 2])), ValueError, "2-D"),
        (dict(indices=torch.tensor([[1, 2]]), offsets=torch.tensor([0])), ValueError, "1-D when offsets"),
        (
            dict(indices=torch.tensor([1, 2]), offsets=torch.tensor([0]), padding_idx=10),
            ValueError,
            "padding_idx=10 is out of range",
        ),
        (
            dict(indices=torch.tensor([1, 2]), offsets=torch.tensor([0]), mode="median"),
            ValueError,
            "mode must be one of",
        ),
        (
            dict(indices=torch.tensor([1, 2]), offsets=torch.tensor([], dtype=torch.int64), include_last_offset=True),
            ValueError,
            "at least one entry",
        ),
    ],
)
def test_bad_input_raises_named_error(kwargs, error, match):
    with pytest.raises(error, match=match):
        embedding_bag(W, **kwargs)


def test_bad_weight():
    with pytest.raises(ValueError, match="weight must be 2-D"):
        embedding_bag(torch.randn(10), torch.tensor([[1]]))
    # float64 tables run on torch's kernels (tests/compat); other dtypes are refused
    with pytest.raises(TypeError, match="float32, bfloat16, float16 or float64"):
        embedding_bag(torch.randn(10, 2).to(torch.int64), torch.tensor([[1]]))


def test_raw_op_checks_too():
    """Calling torch.ops directly skips the Python checks; the native adapter still refuses."""
    with pytest.raises(RuntimeError, match=r"indices\[0\]=99 is out of range"):
        torch.ops.embedforge.embedding_bag(W, torch.tensor([99]), torch.tensor([0]), 0, None, -1, False, False)
    with pytest.raises(RuntimeError, match="mode must be 0"):
        torch.ops.embedforge.embedding_bag(W, torch.tensor([1]), torch.tensor([0]), 7, None, -1, False, False)
    with pytest.raises(RuntimeError, match=r"indices\[1\]=50"):
        torch.ops.embedforge.embedding_bag_backward_dense(
            torch.randn(1, 4),
            torch.tensor([1, 50]),
            torch.tensor([0]),
            10,
            0,
            None,
            torch.empty(0, 0, dtype=torch.int64),
            -1,
            False,
        )


def test_concurrent_calls_from_python_threads():
    """Each calling thread runs its own parallel sections on torch's team (and keeps its own row
    grouping buffers): four threads at once, forward and sparse/dense backward, all equal torch's."""
    import threading

    gen = torch.Generator().manual_seed(41)
    weight, indices, offsets = random_batch(gen, V=20000, D=32, B=400, max_len=60)
    ref = F.embedding_bag(indices, weight, offsets, mode="sum")
    w_ref = weight.clone().requires_grad_()
    F.embedding_bag(indices, w_ref, offsets, mode="sum").sum().backward()
    errors = []

    def worker(sparse):
        try:
            for _ in range(20):
                w = weight.clone().requires_grad_()
                out = embedding_bag(w, indices, offsets, sparse=sparse)
                torch.testing.assert_close(out, ref)
                out.sum().backward()
                torch.testing.assert_close(w.grad.to_dense() if sparse else w.grad, w_ref.grad)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        threads = [threading.Thread(target=worker, args=(i % 2 == 0,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        torch.set_num_threads(before)
    assert not errors, errors[0]


def test_eager_grad_mode_and_transforms_take_their_own_functions():
    """Plain grad mode runs the Function without setup_context (no per-call signature binding);
    torch.func transforms and dual tensors take the one with setup_context. Same gradients."""
    gen = torch.Generator().manual_seed(23)
    weight, indices, offsets = random_batch(gen, V=30, D=5, B=6, max_len=5)
    psw = torch.rand(indices.shape, generator=gen)
    w = weight.clone().requires_grad_()
    out = embedding_bag(w, indices, offsets, mode="sum", per_sample_weights=psw)
    assert type(out.grad_fn).__name__.startswith("_PlainEmbeddingBag")
    g = torch.randn(out.shape, generator=gen)
    (out * g).sum().backward()

    def loss(t):
        return (embedding_bag(t, indices, offsets, mode="sum", per_sample_weights=psw) * g).sum()

    torch.testing.assert_close(torch.func.grad(loss)(weight), w.grad)
    ref = F.embedding_bag(indices, weight.clone().requires_grad_(), offsets, mode="sum", per_sample_weights=psw)
    torch.testing.assert_close(out, ref)
    tangent = torch.randn(weight.shape, generator=gen)
    _, jvp_out = torch.func.jvp(
        lambda t: embedding_bag(t, indices, offsets, mode="sum", per_sample_weights=psw), (weight,), (tangent,)
    )
    torch.testing.assert_close(jvp_out, F.embedding_bag(indices, tangent, offsets, mode="sum", per_sample_weights=psw))
