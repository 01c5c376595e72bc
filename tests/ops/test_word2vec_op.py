"""The batched SGNS step op: float64 reference, opcheck, compile, fake shapes, bad input."""

from __future__ import annotations

import embedforge  # noqa: F401  (registers the ops)
import numpy as np
import pytest
import torch
from embedforge.ops import sgns_step


def devices():
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def reference(I, O, centers, contexts, negatives, lr):
    I, O = I.double().clone(), O.double().clone()
    I0, O0 = I.clone(), O.clone()
    loss = []
    for c, x in zip(centers.tolist(), contexts.tolist()):
        rows = [c] + negatives.tolist()
        labels = [1.0] + [0.0] * len(negatives)
        h = I0[x]
        total = 0.0
        for r, lab in zip(rows, labels):
            s = float(h @ O0[r])
            g = lr * (lab - 1 / (1 + np.exp(-s)))
            total += -np.log(1 / (1 + np.exp(-s))) if lab else -np.log(1 / (1 + np.exp(s)))
            I[x] += g * O0[r]
            O[r] += g * h
        loss.append(total)
    return I, O, torch.tensor(loss, dtype=torch.float64)


def sample_inputs(device, n=6, k=3, v=11, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    I = (torch.randn(v, d, generator=g) * 0.3).to(device)
    O = (torch.randn(v, d, generator=g) * 0.3).to(device)
    centers = torch.randint(0, v, (n,), generator=g).to(device)
    contexts = torch.tensor([1, 4, 4, 7, 1, 9][:n]).to(device)  # repeated rows accumulate
    negatives = torch.randint(0, v, (k,), generator=g).to(device)
    return I, O, centers, contexts, negatives, 0.05


@pytest.mark.parametrize("device", devices())
def test_matches_float64_reference(device):
    I, O, c, x, neg, lr = sample_inputs(device)
    rI, rO, rloss = reference(I.cpu(), O.cpu(), c.cpu(), x.cpu(), neg.cpu(), lr)
    loss = sgns_step(I, O, c, x, neg, lr)
    torch.testing.assert_close(I.cpu().double(), rI, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(O.cpu().double(), rO, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(loss.cpu().double(), rloss, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("device", devices())
def test_opcheck(device):
    torch.library.opcheck(torch.ops.embedforge.sgns_step.default, sample_inputs(device))


def test_compile_fullgraph():
    I, O, c, x, neg, lr = sample_inputs("cpu")
    I2, O2 = I.clone(), O.clone()

    @torch.compile(fullgraph=True, backend="aot_eager")
    def step(I, O, c, x, neg):
        return sgns_step(I, O, c, x, neg, lr) * 2

    out = step(I, O, c, x, neg)
    ref = sgns_step(I2, O2, c, x, neg, lr) * 2
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(I, I2)


def test_fake_shapes():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        I, O = torch.empty(5, 3), torch.empty(5, 3)
        out = sgns_step(
            I,
            O,
            torch.zeros(4, dtype=torch.int64),
            torch.zeros(4, dtype=torch.int64),
            torch.zeros(2, dtype=torch.int64),
            0.1,
        )
        assert out.shape == (4,)


def test_bad_inputs():
    I, O, c, x, neg, lr = sample_inputs("cpu")
    with pytest.raises(IndexError, match=r"negatives\[1\]=11 is out of range for out_table of 11 rows"):
        sgns_step(I, O, c, x, torch.tensor([0, 11]), lr)
    with pytest.raises(TypeError, match="centers must be int64"):
        sgns_step(I, O, c.int(), x, neg, lr)
    with pytest.raises(TypeError, match="in_table must be float32"):
        sgns_step(I.double(), O, c, x, neg, lr)
    with pytest.raises(ValueError, match="same length"):
        sgns_step(I, O, c, x[:2], neg, lr)
    with pytest.raises(ValueError, match="same width"):
        sgns_step(I, torch.zeros(11, 3), c, x, neg, lr)
