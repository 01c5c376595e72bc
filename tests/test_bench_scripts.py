"""The side-by-side benchmark scripts run end to end on tiny tables (timings are not checked:
benchmarks measure speed, tests only that the scripts work and print every row)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.parametrize(
    "script,args,rows",
    [
        (
            "compare_torch.py",
            ["--workloads", "W3", "--threads", "1", "--repeats", "1", "--iters", "1", "--scale", "0.001"],
            3,
        ),
        (
            "compare_model.py",
            ["--workloads", "W2", "--threads", "1", "--repeats", "1", "--iters", "1", "--scale", "0.01"],
            3,
        ),
        (
            "compare_model.py",
            [
                "--workloads",
                "W3",
                "--threads",
                "1",
                "--repeats",
                "1",
                "--iters",
                "1",
                "--scale",
                "0.01",
                "--layer",
                "module",
                "--what",
                "infer",
                "train sparse",
            ],
            2,
        ),
    ],
)
def test_bench_script_prints_a_ratio_per_row(script, args, rows):
    r = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    ratios = [line for line in r.stdout.splitlines() if line.startswith("W") and line.rstrip().endswith("x")]
    assert len(ratios) >= rows, r.stdout
    for line in ratios:
        assert float(line.split()[-1].rstrip("x")) > 0
