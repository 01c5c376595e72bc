"""examples/distributed_ranking.py runs under torchrun (2 ranks, loopback) and learns."""

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "distributed_ranking.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_distributed_ranking_example_under_torchrun():
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(_free_port()),
        str(EXAMPLE),
        "--quick",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=150, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "user      row" in out and "world size 2" in out  # the planner row-shards the largest table
    held, base = map(
        float, re.search(r"held-out log loss ([\d.]+) \(predicting the click rate: ([\d.]+)\)", out).groups()
    )
    assert held < base - 0.05, out
    assert out.count("step ") == 3  # rank 0 logs, the other rank stays quiet
