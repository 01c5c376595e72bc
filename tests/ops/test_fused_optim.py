"""Fused optimizer steps (embedforge::fused_*_step) and tables that update themselves in backward.

References are written here in float64: torch's dense embedding_bag gradient, then the optimizer's
maths by hand on the rows the batch touches (torch.optim where its semantics are the same).
"""

from __future__ import annotations

import math
import zlib

import pytest
import torch
import torch.nn.functional as F
from embedforge.nn import EmbeddingBag
from embedforge.ops import fused_optim as fo
from embedforge.optim import (
    SGD,
    Adagrad,
    Adam,
    BackwardTwiceError,
    LazyAdam,
    LRAdapter,
    RowWiseAdagrad,
    SharedTableError,
)

MODE_IDS = {"sum": 0, "mean": 1, "max": 2}


# ---- inputs ----------------------------------------------------------------------------------
def random_batch(gen, V, B, max_len, hot=3):
    """Bags of random ids with many duplicates: a few hot ids are mixed into every bag."""
    lengths = torch.randint(0, max_len + 1, (B,), generator=gen)
    n = int(lengths.sum())
    ids = torch.randint(0, V, (n,), generator=gen)
    hot_ids = torch.randint(0, V, (hot,), generator=gen)
    mask = torch.rand(n, generator=gen) < 0.4
    ids[mask] = hot_ids[torch.randint(0, hot, (int(mask.sum()),), generator=gen)]
    offsets = torch.zeros(B, dtype=torch.int64)
    offsets[1:] = torch.cumsum(lengths, 0)[:-1]
    return ids, offsets


def dense_grad64(W, ids, offsets, mode, psw, pad, grad_out):
    """torch's gradient of the table, in float64."""
    W64 = W.detach().double().requires_grad_()
    out = F.embedding_bag(
        ids, W64, offsets, mode=mode, per_sample_weights=None if psw is None else psw.double(), padding_idx=pad
    )
    out.backward(grad_out.double())
    return W64.grad


def touched_rows(ids, pad):
    rows = torch.unique(ids)
    return rows[rows != pad] if pad is not None else rows


class Ref:
    """Float64 reference optimizers on the touched rows of a dense gradient."""

    def __init__(self, cfg, W):
        self.cfg, self.W = cfg, W.detach().double().clone()
        V, D = W.shape
        self.s = torch.full((V, D), getattr(cfg, "initial_accumulator_value", 0.0), dtype=torch.float64)
        self.srow = torch.full((V,), getattr(cfg, "initial_accumulator_value", 0.0), dtype=torch.float64)
        self.m = torch.zeros(V, D, dtype=torch.float64)
        self.v = torch.zeros(V, D, dtype=torch.float64)
        self.t = 0
        self.trow = torch.zeros(V, dtype=torch.int64)

    def step(self, G, rows):
        c, W = self.cfg, self.W
        g = G[rows] + c.weight_decay * W[rows]
        if isinstance(c, SGD):
            W[rows] -= c.lr * g
        elif isinstance(c, Adagrad):
            self.s[rows] += g * g
            W[rows] -= c.lr * g / (self.s[rows].sqrt() + c.eps)
        elif isinstance(c, RowWiseAdagrad):
            self.srow[rows] += (g * g).mean(1)
            W[rows] -= c.lr * g / (self.srow[rows].sqrt() + c.eps).unsqueeze(1)
        elif isinstance(c, Adam):
            b1, b2 = c.betas
            self.m[rows] = b1 * self.m[rows] + (1 - b1) * g
            self.v[rows] = b2 * self.v[rows] + (1 - b2) * g * g
            if isinstance(c, LazyAdam):
                self.trow[rows] += 1
                t = self.trow[rows].double().unsqueeze(1)
            else:
                self.t += 1
                t = torch.tensor(float(self.t), dtype=torch.float64)
            bc1, bc2 = 1 - b1**t, 1 - b2**t
            W[rows] -= (c.lr / bc1) * self.m[rows] / ((self.v[rows] / bc2).sqrt() + c.eps)


CONFIGS = [
    pytest.param(lambda: SGD(lr=0.3), id="sgd"),
    pytest.param(lambda: SGD(lr=0.2, weight_decay=0.1), id="sgd-wd"),
    pytest.param(lambda: Adagrad(lr=0.2, eps=1e-8, initial_accumulator_value=0.1), id="adagrad"),
    pytest.param(lambda: RowWiseAdagrad(lr=0.2, eps=1e-8), id="rowwise-adagrad"),
    pytest.param(lambda: Adam(lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.01), id="adam"),
    pytest.param(lambda: LazyAdam(lr=0.05, betas=(0.8, 0.95), eps=1e-6), id="lazy-adam"),
]


# ---- agreement with the float64 references ---------------------------------------------------
@pytest.mark.parametrize("make_cfg", CONFIGS)
@pytest.mark.parametrize("mode,use_psw,pad", [("sum", False, None), ("mean", False, 0), ("sum", True, 3)])
@pytest.mark.parametrize("D", [13, 16, 64])  # 16 and 64 take the fixed-width float32 kernels
def test_module_matches_float64_reference(make_cfg, mode, use_psw, pad, D):
    seed = zlib.crc32(repr((mode, use_psw, pad, D)).encode())  # stable across runs (str hashes are salted)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the table's initial weights
    V, B = 40, 24
    cfg = make_cfg()
    bag = EmbeddingBag(V, D, mode=mode, padding_idx=pad, optimizer=cfg)
    ref = Ref(cfg, bag.weight)
    for _ in range(4):  # fresh inputs each step; state carries over
        ids, offsets = random_batch(gen, V, B, 9)
        psw = torch.rand(ids.shape, generator=gen) + 0.5 if use_psw else None
        grad_out = torch.randn(B, D, generator=gen)
        G = dense_grad64(ref.W.float(), ids, offsets, mode, psw, pad, grad_out)
        ref.step(G, touched_rows(ids, pad))
        out = bag(ids, offsets, per_sample_weights=psw)
        out.backward(grad_out)
        assert bag.weight.grad is None
        # Adam divides by sqrt(v): a float32 gradient that nearly cancels (|g| ~ 1e-5) moves the
        # normalised step by up to ~1e-4, so Adam-family updates get a looser absolute tolerance.
        atol = 2e-4 if isinstance(cfg, (Adam, LazyAdam)) else 2e-5
        torch.testing.assert_close(bag.weight.detach().double(), ref.W, rtol=2e-5, atol=atol)
    st = bag.optimizer_state
    if isinstance(cfg, Adagrad):
        torch.testing.assert_close(st.state_sum.double(), ref.s, rtol=1e-5, atol=1e-6)
    if isinstance(cfg, RowWiseAdagrad):
        torch.testing.assert_close(st.state_sum.double(), ref.srow, rtol=1e-5, atol=1e-6)
    if isinstance(cfg, Adam):
        torch.testing.assert_close(st.exp_avg.double(), ref.m, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(st.exp_avg_sq.double(), ref.v, rtol=1e-5, atol=1e-7)
        expected = ref.trow if isinstance(cfg, LazyAdam) else torch.tensor([ref.t])
        assert torch.equal(st.step, expected)


def test_max_mode_updates_only_the_rows_that_won():
    # In max mode a bag's gradient goes to the row holding each maximum; SGD equals torch's.
    gen = torch.Generator().manual_seed(7)
    V, D, B = 30, 6, 12
    bag = EmbeddingBag(V, D, mode="max", optimizer=SGD(lr=0.5))
    W0 = bag.weight.detach().clone()
    ids, offsets = random_batch(gen, V, B, 6)
    grad_out = torch.randn(B, D, generator=gen)
    G = dense_grad64(W0, ids, offsets, "max", None, None, grad_out)
    bag(ids, offsets).backward(grad_out)
    torch.testing.assert_close(bag.weight.detach().double(), W0.double() - 0.5 * G, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "make_torch_opt,cfg",
    [
        (lambda p: torch.optim.SGD([p], lr=0.3), SGD(lr=0.3)),
        (
            lambda p: torch.optim.Adagrad([p], lr=0.2, eps=1e-10, initial_accumulator_value=0.05),
            Adagrad(lr=0.2, eps=1e-10, initial_accumulator_value=0.05),
        ),
    ],
    ids=["sgd", "adagrad"],
)
def test_equals_torch_optimizer_where_semantics_match(make_torch_opt, cfg):
    # With no weight decay, untouched rows get a zero gradient and torch's SGD/Adagrad leave them
    # as they are, exactly our lazy semantics: same result on a dense-gradient torch table.
    gen = torch.Generator().manual_seed(11)
    V, D, B = 50, 16, 32
    ours = EmbeddingBag(V, D, mode="sum", optimizer=cfg)
    theirs = torch.nn.EmbeddingBag(V, D, mode="sum", _weight=ours.weight.detach().clone())
    opt = make_torch_opt(theirs.weight)
    for _ in range(3):
        ids, offsets = random_batch(gen, V, B, 8)
        grad_out = torch.randn(B, D, generator=gen)
        ours(ids, offsets).backward(grad_out)
        opt.zero_grad()
        theirs(ids, offsets).backward(grad_out)
        opt.step()
        torch.testing.assert_close(ours.weight.detach(), theirs.weight.detach(), rtol=1e-5, atol=1e-6)


# ---- the classic lesson: the table gradient is delta^T G -------------------------------------
def test_accumulation_equals_onehot_product_exactly():
    # Gradients and per-sample weights are small integers, so every sum is exact in float32 and in
    # float64: the fused accumulation (SGD, lr=1, from a zero table: weight = -grad) must equal the
    # one-hot product delta^T · G bit for bit, duplicates and padding included.
    gen = torch.Generator().manual_seed(3)
    V, D, B, pad = 300, 10, 64, 5
    ids, offsets = random_batch(gen, V, B, 12)
    psw = torch.randint(-3, 4, ids.shape, generator=gen).float()
    grad_out = torch.randint(-8, 9, (B, D), generator=gen).float()
    weight = torch.zeros(V, D)
    bag_of = torch.repeat_interleave(torch.arange(B), torch.diff(offsets, append=torch.tensor([ids.numel()])))
    G = grad_out.double()[bag_of] * psw.double().unsqueeze(1)  # per-id output gradients [N, D]
    delta = F.one_hot(ids, V).double()  # [N, V]
    delta[ids == pad] = 0  # padding ids contribute nothing
    expected = delta.T @ G  # [V, D]
    batch = fo.Batch(ids, offsets, 0, psw, torch.empty(0, 0, dtype=torch.int64), pad, False)
    fo.sgd_step(weight, grad_out, batch, lr=1.0)
    assert torch.equal(-weight.double(), expected)


# ---- determinism -------------------------------------------------------------------------------
@pytest.mark.parametrize("make_cfg", CONFIGS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_bit_identical_for_one_and_two_threads(make_cfg, dtype):
    gen = torch.Generator().manual_seed(5)
    V, D, B = 2000, 32, 512
    batches = []
    for _ in range(3):
        ids, offsets = random_batch(gen, V, B, 30, hot=5)
        batches.append((ids, offsets, torch.randn(B, D, generator=gen).to(dtype)))
    init = torch.randn(V, D, generator=gen).to(dtype)
    results = []
    old = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            bag = EmbeddingBag(V, D, mode="sum", _weight=init.clone(), optimizer=make_cfg())
            for ids, offsets, g in batches:
                bag(ids, offsets).backward(g)
            results.append(
                (bag.weight.detach().clone(), {k: v.clone() for k, v in bag.optimizer_state.state().items()})
            )
    finally:
        torch.set_num_threads(old)
    (w1, s1), (w2, s2) = results
    assert torch.equal(
        w1.view(torch.int16) if dtype == torch.bfloat16 else w1, w2.view(torch.int16) if dtype == torch.bfloat16 else w2
    )
    assert s1.keys() == s2.keys()
    for k in s1:
        assert torch.equal(s1[k], s2[k]), k


@pytest.mark.parametrize("make_cfg", CONFIGS)
@pytest.mark.parametrize(
    "D,mode,use_psw", [(16, "sum", False), (64, "mean", False), (32, "sum", True), (24, "sum", False)]
)
def test_large_batches_bit_identical_for_one_and_two_threads(make_cfg, D, mode, use_psw):
    # Batches of ~30k ids take the parallel grouping passes (and the fixed-width kernels for
    # D = 16/32/64); hot rows make some rows' segments long.
    gen = torch.Generator().manual_seed(zlib.crc32(repr((D, mode, use_psw)).encode()))
    V, B = 30_000, 1000
    batches = []
    for _ in range(2):
        ids, offsets = random_batch(gen, V, B, 60, hot=7)
        psw = torch.rand(ids.shape, generator=gen) + 0.5 if use_psw else None
        batches.append((ids, offsets, psw, torch.randn(B, D, generator=gen)))
    assert batches[0][0].numel() > 20_000
    init = torch.randn(V, D, generator=gen) * 0.1
    results = []
    old = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            bag = EmbeddingBag(V, D, mode=mode, _weight=init.clone(), optimizer=make_cfg())
            for ids, offsets, psw, g in batches:
                bag(ids, offsets, per_sample_weights=psw).backward(g)
            results.append(
                (bag.weight.detach().clone(), {k: v.clone() for k, v in bag.optimizer_state.state().items()})
            )
    finally:
        torch.set_num_threads(old)
    (w1, s1), (w2, s2) = results
    assert torch.equal(w1, w2)
    for k in s1:
        assert torch.equal(s1[k], s2[k]), k
    assert not torch.equal(w1, init)


def test_large_batch_matches_float64_reference():
    # One large step (parallel grouping, fixed-width kernel) against the float64 reference.
    gen = torch.Generator().manual_seed(23)
    V, D, B = 20_000, 64, 800
    for cfg in [
        SGD(lr=0.3),
        Adagrad(lr=0.2, eps=1e-8),
        RowWiseAdagrad(lr=0.2, eps=1e-8),
        Adam(lr=0.05),
        LazyAdam(lr=0.05),
    ]:
        torch.manual_seed(1)
        bag = EmbeddingBag(V, D, mode="sum", optimizer=cfg)
        ref = Ref(cfg, bag.weight)
        # 200 hot rows of ~60 ids each: long segments, but float32 sums still close to float64.
        ids, offsets = random_batch(gen, V, B, 60, hot=200)
        grad_out = torch.randn(B, D, generator=gen)
        ref.step(dense_grad64(ref.W.float(), ids, offsets, "sum", None, None, grad_out), touched_rows(ids, None))
        bag(ids, offsets).backward(grad_out)
        # Element-wise normalised steps (Adagrad's first step, Adam) are lr * g / |g|: for the few
        # entries whose float32 gradient nearly cancels, the float64 reference differs by ~1e-4.
        atol = 2e-4 if isinstance(cfg, (Adam, Adagrad)) else 2e-5
        torch.testing.assert_close(
            bag.weight.detach().double(), ref.W, rtol=2e-5, atol=atol, msg=lambda m: f"{cfg}: {m}"
        )


def test_adagrad_zero_gradient_rows_stay_finite():
    # A touched row whose gradient is exactly zero with a zero accumulator: 0 / (sqrt(0) + eps) = 0
    # (the fast reciprocal square root must not turn it into 0 * inf).
    for D in (13, 16, 64):
        for cfg in [Adagrad(lr=0.1, eps=1e-8), Adam(lr=0.1), LazyAdam(lr=0.1), RowWiseAdagrad(lr=0.1)]:
            bag = EmbeddingBag(10, D, mode="sum", optimizer=cfg)
            w0 = bag.weight.detach().clone()
            bag(torch.tensor([1, 2, 3]), torch.tensor([0, 1])).backward(torch.zeros(2, D))
            assert torch.equal(bag.weight.detach(), w0), (D, cfg)


# ---- opcheck -------------------------------------------------------------------------------------
def sample_inputs(device="cpu"):
    gen = torch.Generator().manual_seed(0)
    V, D, B = 20, 8, 5
    ids, offsets = random_batch(gen, V, B, 6)
    grad = torch.randn(B, D, generator=gen)
    w = torch.randn(V, D, generator=gen)
    batch = (ids, offsets, 0, None, torch.empty(0, 0, dtype=torch.int64), -1, False)
    flags = (True, 17)
    yield "fused_sgd_step", (w.clone(), grad, *batch, 0.1, 0.01, *flags)
    yield "fused_adagrad_step", (w.clone(), torch.full((V, D), 0.1), grad, *batch, 0.1, 1e-8, 0.0, *flags)
    yield "fused_rowwise_adagrad_step", (w.clone(), torch.zeros(V), grad, *batch, 0.1, 1e-8, 0.0, *flags)
    for per_row in (False, True):
        yield (
            "fused_adam_step",
            (
                w.clone(),
                torch.zeros(V, D),
                torch.zeros(V, D),
                torch.zeros(V if per_row else 1, dtype=torch.int64),
                grad,
                *batch,
                0.01,
                0.9,
                0.999,
                1e-8,
                0.0,
                per_row,
                *flags,
            ),
        )
    psw = torch.rand(ids.shape, generator=gen)
    yield (
        "fused_sgd_step",
        (
            w.to(torch.bfloat16),
            grad.to(torch.bfloat16),
            ids,
            offsets,
            1,
            psw,
            torch.empty(0, 0, dtype=torch.int64),
            2,
            False,
            0.1,
            0.0,
            *flags,
        ),
    )


@pytest.mark.parametrize("case", list(range(6)))
def test_opcheck(case):
    name, args = list(sample_inputs())[case]
    torch.library.opcheck(getattr(torch.ops.embedforge, name).default, args)


def test_fake_kernels_return_nothing():
    from torch._subclasses.fake_tensor import FakeTensorMode

    name, args = next(iter(sample_inputs()))
    with FakeTensorMode() as mode:
        fake = [mode.from_tensor(a) if isinstance(a, torch.Tensor) else a for a in args]
        assert getattr(torch.ops.embedforge, name)(*fake) is None


# ---- stochastic rounding -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype,ulp", [(torch.bfloat16, 2.0**-7), (torch.float16, 2.0**-10)])
def test_stochastic_rounding_is_unbiased(dtype, ulp):
    # Every element sits at 1.5 and is moved down by a fifth of an ulp (rounding to nearest would
    # keep 1.5 for ever). Stochastic rounding lands on 1.5 - ulp with probability 1/5: the mean moves
    # by the exact update, and each element is one of the two neighbours.
    V, D = 4096, 64
    step = 0.2 * ulp
    w = torch.full((V, D), 1.5, dtype=dtype)
    ids = torch.arange(V)
    batch = fo.Batch(ids, ids.clone(), 0, None, torch.empty(0, 0, dtype=torch.int64), -1, False)
    grad = torch.full((V, D), step, dtype=dtype)
    fo.sgd_step(w, grad, batch, lr=1.0, stochastic_rounding=True, seed=1234)
    grad_f = grad.float()  # the gradient itself is rounded to the table dtype
    delta = w.float() - 1.5
    values = set(delta.unique().tolist())
    assert values == {0.0, -ulp}  # only the two neighbours
    n = V * D
    p = float(grad_f[0, 0]) / ulp
    sigma = ulp * math.sqrt(p * (1 - p) / n)
    assert abs(delta.mean().item() + float(grad_f[0, 0])) < 5 * sigma
    # Round-to-nearest keeps every element at 1.5: the bias stochastic rounding removes.
    w_rne = torch.full((V, D), 1.5, dtype=dtype)
    fo.sgd_step(w_rne, grad, batch, lr=1.0, stochastic_rounding=False)
    assert torch.equal(w_rne, torch.full((V, D), 1.5, dtype=dtype))
    # Seeded: same seed, same bits; another seed, other bits.
    w_again = torch.full((V, D), 1.5, dtype=dtype)
    fo.sgd_step(w_again, grad, batch, lr=1.0, stochastic_rounding=True, seed=1234)
    assert torch.equal(w_again, w)
    w_other = torch.full((V, D), 1.5, dtype=dtype)
    fo.sgd_step(w_other, grad, batch, lr=1.0, stochastic_rounding=True, seed=99)
    assert not torch.equal(w_other, w)


def test_bf16_table_tracks_float32_training_with_stochastic_rounding():
    # Many small SGD steps on a bf16 table: stochastic rounding follows the float32 trajectory,
    # round-to-nearest stalls. Two runs with the same seed are identical.
    gen = torch.Generator().manual_seed(2)
    V, D, B = 64, 16, 64
    init = torch.randn(V, D, generator=gen).bfloat16().float()  # every run starts from the same values
    batches = [random_batch(gen, V, B, 4) for _ in range(40)]
    grads = [torch.full((B, D), 0.02) for _ in range(40)]

    def run(dtype, sr):
        bag = EmbeddingBag(
            V, D, mode="sum", _weight=init.clone().to(dtype), optimizer=SGD(lr=0.01, stochastic_rounding=sr, seed=5)
        )
        for (ids, offsets), g in zip(batches, grads):
            bag(ids, offsets).backward(g.to(dtype))
        return bag.weight.detach().float()

    w32 = run(torch.float32, True)
    moved = (w32 - init).mean()  # every step pushes every touched row down
    bias_sr = (run(torch.bfloat16, True) - w32).mean()
    bias_rne = (run(torch.bfloat16, False) - w32).mean()
    assert bias_rne > 0.3 * moved.abs()  # round-to-nearest loses a large part of the descent
    assert bias_sr.abs() < 0.1 * bias_rne  # stochastic rounding keeps it, on average
    assert torch.equal(run(torch.bfloat16, True), run(torch.bfloat16, True))


# ---- module behaviour --------------------------------------------------------------------------
def test_learning_rate_changes_between_steps_and_with_schedulers():
    V, D = 10, 4
    # A zero table keeps every difference exact: w0 - (w0 - lr) == lr.
    bag = EmbeddingBag(V, D, mode="sum", _weight=torch.zeros(V, D), optimizer=SGD(lr=1.0))
    ids, offsets = torch.tensor([1, 2]), torch.tensor([0])
    sched_opt = LRAdapter(bag)
    sched = torch.optim.lr_scheduler.StepLR(sched_opt, step_size=1, gamma=0.5)
    seen = []
    for _ in range(3):
        w0 = bag.weight.detach().clone()
        bag(ids, offsets).backward(torch.ones(1, D))
        seen.append(float((w0 - bag.weight.detach())[1, 0]))
        sched_opt.step()
        sched.step()
    assert seen == [1.0, 0.5, 0.25]
    assert bag.optimizer.lr == 0.125
    # The adapter's state round-trips and stays linked to the config.
    saved = sched_opt.state_dict()
    bag.optimizer.lr = 9.0
    sched_opt.load_state_dict(saved)
    assert bag.optimizer.lr == 0.125
    sched_opt.param_groups[0]["lr"] = 0.5
    assert bag.optimizer.lr == 0.5
    bag.optimizer.lr = 2.0  # by hand, too
    w0 = bag.weight.detach().clone()
    bag(ids, offsets).backward(torch.ones(1, D))
    assert float((w0 - bag.weight.detach())[1, 0]) == 2.0


@pytest.mark.parametrize("make_cfg", CONFIGS)
def test_checkpoint_round_trip(make_cfg, tmp_path):
    gen = torch.Generator().manual_seed(9)
    V, D, B = 30, 8, 10
    batches = [(*random_batch(gen, V, B, 5), torch.randn(B, D, generator=gen)) for _ in range(4)]
    a = EmbeddingBag(V, D, mode="sum", optimizer=make_cfg(), dtype=torch.bfloat16)
    for ids, offsets, g in batches[:2]:
        a(ids, offsets).backward(g.to(torch.bfloat16))
    torch.save(a.state_dict(), tmp_path / "ckpt.pt")
    sd = a.state_dict()
    assert any(k.startswith("optimizer_state.") for k in sd)
    b = EmbeddingBag(V, D, mode="sum", optimizer=make_cfg(), dtype=torch.bfloat16)
    b.optimizer.lr = 123.0  # restored from the checkpoint
    b.load_state_dict(torch.load(tmp_path / "ckpt.pt", weights_only=False))
    assert b.optimizer.lr == a.optimizer.lr
    for ids, offsets, g in batches[2:]:
        a(ids, offsets).backward(g.to(torch.bfloat16))
        b(ids, offsets).backward(g.to(torch.bfloat16))
    assert torch.equal(a.weight.view(torch.int16), b.weight.view(torch.int16))  # rounding seeds continue too
    for k, v in a.optimizer_state.state().items():
        assert torch.equal(v, b.optimizer_state.state()[k])
        assert v.dtype in (torch.float32, torch.int64)


def test_rest_of_model_uses_a_torch_optimizer():
    torch.manual_seed(0)
    bag = EmbeddingBag(20, 4, mode="mean", optimizer=RowWiseAdagrad(lr=0.1))
    head = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(list(head.parameters()) + [bag.weight], lr=0.1)  # the table's grad stays None
    w0, h0 = bag.weight.detach().clone(), head.weight.detach().clone()
    ids, offsets = torch.tensor([1, 2, 3, 3]), torch.tensor([0, 2])
    opt.zero_grad()
    head(bag(ids, offsets)).sum().backward()
    opt.step()
    assert bag.weight.grad is None
    assert not torch.equal(head.weight, h0)
    changed = (bag.weight.detach() != w0).any(1)
    assert changed.tolist() == [i in (1, 2, 3) for i in range(20)]


def test_no_update_without_grad_mode():
    bag = EmbeddingBag(10, 3, optimizer=SGD(lr=1.0))
    w0 = bag.weight.detach().clone()
    with torch.no_grad():
        bag(torch.tensor([1, 2]), torch.tensor([0]))
    assert torch.equal(bag.weight, w0)


def test_state_stays_float32_when_table_moves_to_bf16():
    bag = EmbeddingBag(10, 3, optimizer=Adagrad(lr=0.1)).to(torch.bfloat16)
    assert bag.weight.dtype == torch.bfloat16
    assert bag.optimizer_state.state_sum.dtype == torch.float32


# ---- errors: named, and nothing half-written -----------------------------------------------------
@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_bad_learning_rate(bad):
    with pytest.raises(ValueError, match="lr="):
        SGD(lr=bad)
    cfg = RowWiseAdagrad(lr=0.1)
    with pytest.raises(ValueError, match="lr="):
        cfg.lr = bad
    assert cfg.lr == 0.1
    with pytest.raises(ValueError, match="lr="):
        LRAdapter(cfg).param_groups[0]["lr"] = bad
    assert cfg.lr == 0.1


def _op_state(V, D):
    return dict(
        weight=torch.randn(V, D),
        s=torch.rand(V, D),
        m=torch.rand(V, D),
        v=torch.rand(V, D),
        step=torch.tensor([3]),
        srow=torch.rand(V),
    )


@pytest.mark.parametrize(
    "call,err,match",
    [
        (lambda t, b, g: fo.adagrad_step(t["weight"], t["s"], g, b, lr=float("nan"), eps=1e-8), ValueError, "lr="),
        (lambda t, b, g: fo.adagrad_step(t["weight"], t["s"], g, b, lr=-1.0, eps=1e-8), ValueError, "lr="),
        (lambda t, b, g: fo.adagrad_step(t["weight"], t["s"][:, :3], g, b, lr=0.1, eps=1e-8), ValueError, "state_sum"),
        (lambda t, b, g: fo.adagrad_step(t["weight"], t["s"].double(), g, b, lr=0.1, eps=1e-8), TypeError, "float32"),
        (lambda t, b, g: fo.rowwise_adagrad_step(t["weight"], t["s"], g, b, lr=0.1, eps=1e-8), ValueError, "state_sum"),
        (lambda t, b, g: fo.adagrad_step(t["weight"], t["weight"], g, b, lr=0.1, eps=1e-8), ValueError, "share memory"),
        (
            lambda t, b, g: fo.adam_step(t["weight"], t["m"], t["v"], t["step"], g, b, 0.1, 0.9, 1.5, 1e-8),
            ValueError,
            "beta2",
        ),
        (
            lambda t, b, g: fo.adam_step(t["weight"], t["m"], t["m"], t["step"], g, b, 0.1, 0.9, 0.99, 1e-8),
            ValueError,
            "share memory",
        ),
        (
            lambda t, b, g: fo.adam_step(t["weight"], t["m"], t["v"], t["step"].int(), g, b, 0.1, 0.9, 0.99, 1e-8),
            TypeError,
            "int64",
        ),
        (
            lambda t, b, g: fo.adam_step(
                t["weight"], t["m"], t["v"], t["step"], g, b, 0.1, 0.9, 0.99, 1e-8, per_row_step=True
            ),
            ValueError,
            "size",
        ),
        (lambda t, b, g: fo.sgd_step(t["weight"], g[:, :2], b, lr=0.1), ValueError, "grad"),
        (lambda t, b, g: fo.sgd_step(t["weight"].t(), g, b, lr=0.1), ValueError, "contiguous"),
        (
            lambda t, b, g: fo.sgd_step(t["weight"], g, b._replace(indices=b.indices * 1000), lr=0.1),
            IndexError,
            "out of range",
        ),
        (
            lambda t, b, g: fo.adam_step(
                t["weight"], t["m"], t["v"], t["step"], g, b._replace(indices=-b.indices - 1), 0.1, 0.9, 0.99, 1e-8
            ),
            IndexError,
            "negative",
        ),
    ],
)
def test_failed_step_changes_nothing(call, err, match):
    V, D, B = 12, 5, 4
    t = _op_state(V, D)
    ids = torch.tensor([1, 2, 2, 5, 7, 7, 7])
    b = fo.Batch(ids, torch.tensor([0, 2, 3, 5]), 0, None, torch.empty(0, 0, dtype=torch.int64), -1, False)
    g = torch.randn(B, D)
    before = {k: v.clone() for k, v in t.items()}
    with pytest.raises(err, match=match):
        call(t, b, g)
    for k, v in t.items():
        assert torch.equal(v, before[k]), k


def test_backward_twice_is_refused_and_applies_once():
    bag = EmbeddingBag(10, 3, mode="sum", optimizer=SGD(lr=1.0))
    w0 = bag.weight.detach().clone()
    loss = bag(torch.tensor([4]), torch.tensor([0])).sum()
    loss.backward(retain_graph=True)
    w1 = bag.weight.detach().clone()
    assert torch.equal(w1[4], w0[4] - 1.0)
    with pytest.raises(BackwardTwiceError):
        loss.backward()
    assert torch.equal(bag.weight, w1)


def test_table_shared_with_another_fused_layer():
    a = EmbeddingBag(10, 3, optimizer=SGD(lr=0.1))
    with pytest.raises(SharedTableError):
        EmbeddingBag.from_pretrained(a.weight, freeze=False, optimizer=SGD(lr=0.1))
    b = EmbeddingBag(10, 3, optimizer=SGD(lr=0.1))
    b.weight = a.weight  # tied after construction: caught at the forward, before any update
    w0 = a.weight.detach().clone()
    with pytest.raises(SharedTableError):
        b(torch.tensor([1]), torch.tensor([0])).sum().backward()
    assert torch.equal(a.weight, w0)


def test_a_moved_table_frees_its_claim():
    # After .to() the old storage is free; a new fused table may be given its address.
    for _ in range(20):
        a = EmbeddingBag(1000, 16, optimizer=SGD(lr=0.1))
        a.to(torch.bfloat16)
        b = EmbeddingBag(1000, 16, optimizer=SGD(lr=0.1))
        b(torch.tensor([1]), torch.tensor([0])).sum().backward()


def test_table_also_differentiated_elsewhere():
    bag = EmbeddingBag(10, 3, mode="sum", optimizer=SGD(lr=0.1))
    ids, offsets = torch.tensor([1, 2]), torch.tensor([0])
    # The same table used as an output layer as well: its gradient lands in .grad, which the next
    # forward refuses rather than silently dropping or double-applying.
    out = bag(ids, offsets) @ bag.weight.T
    out.sum().backward()
    assert bag.weight.grad is not None
    w0 = bag.weight.detach().clone()
    with pytest.raises(SharedTableError, match="autograd gradient"):
        bag(ids, offsets)
    assert torch.equal(bag.weight, w0)


def test_optimizer_and_sparse_exclude_each_other():
    with pytest.raises(ValueError, match="sparse"):
        EmbeddingBag(10, 3, sparse=True, optimizer=SGD(lr=0.1))
    with pytest.raises(TypeError, match="optimizer"):
        EmbeddingBag(10, 3, optimizer=torch.optim.SGD)


def test_checkpoint_of_another_optimizer_is_refused():
    a = EmbeddingBag(10, 3, optimizer=Adagrad(lr=0.1))
    b = EmbeddingBag(10, 3, optimizer=RowWiseAdagrad(lr=0.1))
    with pytest.raises((ValueError, RuntimeError)):
        b.load_state_dict(a.state_dict())


def test_step_op_under_torch_compile():
    # The mutating op traces (functionalised, then re-applied in place) and gives eager's result.
    gen = torch.Generator().manual_seed(12)
    V, D, B = 30, 8, 6
    ids, offsets = random_batch(gen, V, B, 5)
    grad = torch.randn(B, D, generator=gen)
    empty = torch.empty(0, 0, dtype=torch.int64)

    def step(w, s, g, i, o):
        torch.ops.embedforge.fused_rowwise_adagrad_step(
            w, s, g, i, o, 0, None, empty, -1, False, 0.1, 1e-8, 0.0, False, 0
        )
        return w * 1.0

    w0, s0 = torch.randn(V, D, generator=gen), torch.rand(V, generator=gen)
    w_eager, s_eager = w0.clone(), s0.clone()
    step(w_eager, s_eager, grad, ids, offsets)
    w_comp, s_comp = w0.clone(), s0.clone()
    out = torch.compile(step, fullgraph=True, backend="aot_eager")(w_comp, s_comp, grad, ids, offsets)
    assert torch.equal(w_comp, w_eager) and torch.equal(s_comp, s_eager) and torch.equal(out, w_eager)


@pytest.mark.cuda
@pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="no CUDA device on this machine (CUDA kernels are compiled by `make cuda-check`)",
)
@pytest.mark.parametrize("make_cfg", CONFIGS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cuda_step_matches_cpu(make_cfg, dtype):
    # Same batch, same state on both devices: the CUDA step (device grouping + per-row update)
    # equals the CPU one up to float rounding, and stochastic rounding uses the same bits.
    gen = torch.Generator().manual_seed(21)
    V, D, B = 300, 24, 40
    init = torch.randn(V, D, generator=gen).to(dtype)
    results = []
    for device in ("cpu", "cuda"):
        bag = EmbeddingBag(V, D, mode="mean", padding_idx=0, _weight=init.clone(), optimizer=make_cfg()).to(device)
        g2 = torch.Generator().manual_seed(22)
        for _ in range(3):
            ids, offsets = random_batch(g2, V, B, 7)
            grad = torch.randn(B, D, generator=g2).to(dtype)
            bag(ids.to(device), offsets.to(device)).backward(grad.to(device))
        results.append(
            (bag.weight.detach().float().cpu(), {k: v.cpu() for k, v in bag.optimizer_state.state().items()})
        )
    (wc, sc), (wg, sg) = results
    tol = 1e-5 if dtype == torch.float32 else 2e-2
    torch.testing.assert_close(wg, wc, rtol=tol, atol=tol)
    for k in sc:
        torch.testing.assert_close(sg[k].float(), sc[k].float(), rtol=1e-4, atol=1e-5)
