"""The classic lesson, measured: an embedding gradient is deltaᵀ·G (delta the one-hot matrix of the
batch's ids), but forming delta costs N×V memory and time; the fused step reduces per touched row.

For a fixed batch (N ids) and growing table size V, one SGD training step's gradient+update is
done both ways: one-hot (delta [N, V] float32, deltaᵀ·G, dense update of W) and fused
(embedforge's fused SGD step). Each (method, V) runs in its own subprocess; we report the median
time and the peak RSS above the process's state before the step (table already allocated), until
the one-hot version no longer fits the memory cap. This is a benchmark, not a test.

    .venv/bin/python bench/onehot_vs_fused.py                  # V = 1e3 .. 1e7, cap 4 GiB
    .venv/bin/python bench/onehot_vs_fused.py --cap-gb 8 --threads 2
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(method: str, V: int, D: int, B: int, L: int, reps: int, threads: int) -> None:
    import torch
    from embedforge.ops import fused_optim as fo

    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    W = torch.randn(V, D, generator=gen)
    ids = torch.randint(0, V, (B * L,), generator=gen)
    offsets = torch.arange(B) * L
    grad_out = torch.randn(B, D, generator=gen)
    lr = 0.1
    bag_of = torch.arange(B).repeat_interleave(L)

    def onehot_step():
        N = ids.numel()
        delta = torch.zeros(N, V)
        delta[torch.arange(N), ids] = 1.0
        G = grad_out[bag_of]  # per-id output gradients [N, D]
        W.sub_(lr * (delta.T @ G))  # dense [V, D] gradient, dense update

    batch = fo.Batch(ids, offsets, 0, None, torch.empty(0, 0, dtype=torch.int64), -1, False)

    def fused_step():
        fo.sgd_step(W, grad_out, batch, lr=lr)

    step = onehot_step if method == "onehot" else fused_step
    base = rss_mb()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps(dict(ms=statistics.median(times), extra_mb=rss_mb() - base, base_mb=base)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000,1000000,10000000")
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--bags", type=int, default=256)
    ap.add_argument("--bag-size", type=int, default=8)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cap-gb", type=float, default=4.0, help="skip the one-hot version once delta would exceed this")
    ap.add_argument("--child", nargs=2, metavar=("METHOD", "V"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child[0], int(a.child[1]), a.dim, a.bags, a.bag_size, a.reps, a.threads)
        return
    N = a.bags * a.bag_size
    print(
        f"# one-hot vs fused SGD step: N={N} ids ({a.bags} bags of {a.bag_size}), D={a.dim}, threads={a.threads}, "
        f"median of {a.reps}; extra MB = peak RSS above the state before the step (table allocated)"
    )
    print(
        f"{'V':>10s} {'delta MB':>9s} {'one-hot ms':>11s} {'one-hot +MB':>12s} {'fused ms':>9s} {'fused +MB':>10s}"
        f" {'speed-up':>9s}"
    )
    for V in [int(v) for v in a.sizes.split(",")]:
        delta_mb = N * V * 4 / 2**20
        row = {}
        for method in ("onehot", "fused"):
            if method == "onehot" and delta_mb / 1024 > a.cap_gb:
                row[method] = None
                continue
            cmd = [
                sys.executable,
                __file__,
                "--child",
                method,
                str(V),
                "--dim",
                str(a.dim),
                "--bags",
                str(a.bags),
                "--bag-size",
                str(a.bag_size),
                "--reps",
                str(a.reps),
                "--threads",
                str(a.threads),
            ]
            p = subprocess.run(cmd, capture_output=True, text=True)
            row[method] = json.loads(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 else "failed"
        oh, fu = row["onehot"], row["fused"]

        def cell(r, k, fmt):
            return "does not fit" if r is None else ("failed" if r == "failed" else format(r[k], fmt))

        speed = f"{oh['ms'] / fu['ms']:.0f}x" if isinstance(oh, dict) and isinstance(fu, dict) else "-"
        print(
            f"{V:>10d} {delta_mb:9.0f} {cell(oh, 'ms', '11.2f'):>11s} {cell(oh, 'extra_mb', '12.0f'):>12s} "
            f"{cell(fu, 'ms', '9.3f'):>9s} {cell(fu, 'extra_mb', '10.1f'):>10s} {speed:>9s}",
            flush=True,
        )


if __name__ == "__main__":
    main()
