"""make gpu-check's parts, checked where no GPU is needed: the script stops at once, saying why, on a
machine without one, and the bench it runs measures and cross-checks correctly when pointed at the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present: the no-GPU exit path cannot be exercised")
def test_gpu_check_without_gpu_says_why_and_builds_nothing(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, GPU_CHECK_OUT=str(tmp_path))
    res = subprocess.run(
        ["bash", str(ROOT / "tools" / "gpu_check.sh")], env=env, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 2, res.stdout + res.stderr
    assert "no usable GPU" in res.stderr and "sees no GPU" in res.stderr
    assert not (tmp_path / "build.log").exists()  # stopped before building


def test_gpu_bench_on_cpu_measures_and_cross_checks(tmp_path):
    out = tmp_path / "rows.json"
    cmd = [sys.executable, str(ROOT / "bench" / "gpu_bench.py"), "--device", "cpu", "--workloads", "W2", "W3"]
    cmd += ["--scale", "0.01", "--repeats", "1", "--iters", "2", "--w2v-tokens", "20000", "--json", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    data = json.loads(out.read_text())
    rows = data["rows"]
    whats = {(r["workload"], r["what"]) for r in rows}
    for w in ("W2", "W3"):
        for what in ("forward", "fwd+bwd dense", "step SGD", "step Adagrad", "step RowWiseAdagrad"):
            assert (w, what) in whats, (w, what)
    for r in rows:
        if "words_per_s" in r:
            assert r["words_per_s"] > 0 and r["finite"]
            continue
        assert r["ours_ms"] > 0 and r["torch_ms"] > 0
        assert r["ratio"] == pytest.approx(r["torch_ms"] / r["ours_ms"])
        if r["max_abs_err"] is not None:  # ours agrees with torch on the same inputs
            assert r["max_abs_err"] < 1e-4, r
    assert sum("words_per_s" in r for r in rows) == 1  # CPU: the engine once
    assert "torch/ours" in res.stdout


def test_gpu_bench_refuses_cuda_without_gpu():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    res = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu_bench.py"), "--device", "cuda"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and "no CUDA device" in res.stderr
