"""The wheel runs on any x86-64: the extension, run on an emulated CPU without AVX2 (qemu-user's
SandyBridge model: AVX but no AVX2/FMA/AVX-512), detects that CPU, picks the baseline kernels and
computes the same results as torch, with no instruction the CPU lacks (which would be SIGILL).

EMBEDFORGE_ISA=baseline (used across tests/ops) caps the choice on this machine; this test is the
one that takes the CPU's own word for it."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import textwrap

import pytest

QEMU = shutil.which("qemu-x86_64")

_CHECK = textwrap.dedent("""
    import numpy as np, torch, embedforge
    from embedforge import _w2v
    info = embedforge.build_info()
    assert info["cpu_isa"] == "baseline" and _w2v.cpu_isa() == "baseline", (info["cpu_isa"], _w2v.cpu_isa())
    g = torch.Generator().manual_seed(5)
    for dtype in (torch.float32, torch.bfloat16):
        for mode in ("sum", "mean", "max"):
            for D in (16, 24, 64):  # whole vectors and a remainder
                w = torch.randn(300, D, generator=g).to(dtype)
                ids = torch.randint(0, 300, (400,), generator=g)
                off = torch.tensor([0, 3, 3, 50, 120, 399])
                a = w.float().clone().requires_grad_(); b = w.float().clone().requires_grad_()
                out = embedforge.ops.embedding_bag(a.to(dtype), ids, off, mode=mode)
                ref = torch.nn.functional.embedding_bag(ids, b.to(dtype).float(), off, mode=mode)
                torch.testing.assert_close(out.float(), ref, rtol=1e-2 if dtype != torch.float32 else 1e-5, atol=1e-2 if dtype != torch.float32 else 1e-5)
                if dtype == torch.float32:
                    gout = torch.randn(out.shape, generator=g)
                    out.backward(gout); ref.backward(gout)
                    torch.testing.assert_close(a.grad, b.grad)
    bag = embedforge.nn.EmbeddingBag(300, 32, optimizer=embedforge.optim.RowWiseAdagrad(lr=0.1))
    before = bag.weight.detach().clone()
    bag(ids, off).sum().backward()
    touched = torch.unique(ids[:399])
    assert not torch.equal(before[touched], bag.weight.detach()[touched])
    sents = [["a", "b", "c", "d"] * 5, ["e", "f", "g", "h"] * 5] * 30
    m = embedforge.Word2Vec(sents, vector_size=16, min_count=1, epochs=3, workers=1, seed=1, progress=False)
    assert np.isfinite(m.wv.vectors).all()
    print("baseline ok")
""")


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 only")
@pytest.mark.skipif(QEMU is None, reason="qemu-x86_64 (Debian's qemu-user) is not installed; .ci/run installs it")
def test_extension_on_a_cpu_without_avx2_picks_baseline_and_agrees_with_torch():
    env = {k: v for k, v in os.environ.items() if k != "EMBEDFORGE_ISA"}
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run(
        [QEMU, "-cpu", "SandyBridge", sys.executable, "-c", _CHECK],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0 and proc.stdout.strip().endswith("baseline ok"), (
        f"exit {proc.returncode}:\n{proc.stderr[-3000:]}"
    )
