"""Training-step benchmark: embedforge's fused optimizers vs torch (and FBGEMM's CPU TBE if present).

A step is forward + backward + optimizer update of one embedding table on the workloads of the
foundation issue (W1, W1z, W2, W3, W4). Every (workload, method, threads) configuration runs in its
own subprocess, so its peak RSS is its own; inside it, a few warm-up steps, then the median (and
quartiles) of timed steps over a rotation of pre-generated batches. This is a benchmark, not a test.

    .venv/bin/python bench/compare_training.py                       # everything, 1 and 2 threads
    .venv/bin/python bench/compare_training.py --workloads W1,W4 --threads 2 --steps 15
    .venv/bin/python bench/compare_training.py --fbgemm-site /tmp/fbgemm_site   # FBGEMM peers
    .venv/bin/python bench/compare_training.py --rounds 3 ...   # methods interleaved 3 times, medians over rounds

FBGEMM is never a dependency: install it into a throwaway directory
(`pip install --no-deps --target /tmp/fbgemm_site fbgemm-gpu-cpu==1.8.0` pairs with torch 2.13) and
point --fbgemm-site at it; only the FBGEMM subprocesses see it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

WORKLOADS = {
    # name: V, D, bags, ids per bag (lo, hi), pooling, padding_idx, per-sample weights, id law
    "W1": dict(V=1_000_000, D=64, B=2048, L=(40, 40), mode="sum", pad=None, psw=False, law="uniform"),
    "W1z": dict(V=1_000_000, D=64, B=2048, L=(40, 40), mode="sum", pad=None, psw=False, law="zipf"),
    "W2": dict(V=50_000, D=128, B=256, L=(10, 200), mode="mean", pad=0, psw=False, law="uniform"),
    "W3": dict(V=200_000, D=256, B=512, L=(20, 20), mode="sum", pad=None, psw=True, law="uniform"),
    "W4": dict(V=5_000_000, D=16, B=4096, L=(10, 10), mode="sum", pad=None, psw=False, law="uniform"),
}

LR = 0.01
METHODS = {
    # torch peers
    "torch dense+SGD": "peer",
    "torch sparse+SGD": "peer",
    "torch sparse+SparseAdam": "peer",
    "torch dense+Adagrad(fused)": "peer",
    "torch sparse+Adagrad": "peer",
    # FBGEMM CPU TBE peers (only with --fbgemm-site)
    "fbgemm EXACT_SGD": "fbgemm",
    "fbgemm EXACT_ADAGRAD": "fbgemm",
    "fbgemm EXACT_ROWWISE_ADAGRAD": "fbgemm",
    # ours
    "ef SGD": "ours",
    "ef Adagrad": "ours",
    "ef RowWiseAdagrad": "ours",
    "ef Adam": "ours",
    "ef LazyAdam": "ours",
}


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_batches(w, count, seed):
    import torch

    gen = torch.Generator().manual_seed(seed)
    V, B, (lo, hi) = w["V"], w["B"], w["L"]
    if w["law"] == "zipf":
        ranks = torch.arange(1, V + 1, dtype=torch.float64)
        probs = ranks.pow(-1.05)
        perm = torch.randperm(V, generator=gen)
    out = []
    for _ in range(count):
        lengths = torch.randint(lo, hi + 1, (B,), generator=gen)
        n = int(lengths.sum())
        if w["law"] == "zipf":
            ids = perm[torch.multinomial(probs, n, replacement=True, generator=gen)]
        else:
            ids = torch.randint(0, V, (n,), generator=gen)
        offsets = torch.zeros(B, dtype=torch.int64)
        offsets[1:] = torch.cumsum(lengths, 0)[:-1]
        psw = torch.rand(n, generator=gen) if w["psw"] else None
        out.append((ids, offsets, psw))
    return out


def build(method, w):
    """Returns step(ids, offsets, psw, grad_out) for one method on a fresh table."""
    import torch

    V, D, mode, pad = w["V"], w["D"], w["mode"], w["pad"]
    init = torch.empty(V, D).uniform_(-0.05, 0.05)
    if method.startswith("torch"):
        sparse = "sparse" in method
        emb = torch.nn.EmbeddingBag(V, D, mode=mode, sparse=sparse, padding_idx=pad, _weight=init)
        if method.endswith("+SGD"):
            opt = torch.optim.SGD(emb.parameters(), lr=LR)
        elif method.endswith("SparseAdam"):
            opt = torch.optim.SparseAdam(emb.parameters(), lr=LR)
        elif "fused" in method:
            opt = torch.optim.Adagrad(emb.parameters(), lr=LR, fused=True)
        else:
            opt = torch.optim.Adagrad(emb.parameters(), lr=LR)

        def step(ids, offsets, psw, g):
            opt.zero_grad(set_to_none=True)
            out = emb(ids, offsets, per_sample_weights=psw)
            out.backward(g)
            opt.step()

        return step
    if method.startswith("fbgemm"):
        from fbgemm_gpu.split_embedding_configs import EmbOptimType as OptimType
        from fbgemm_gpu.split_table_batched_embeddings_ops_common import EmbeddingLocation, PoolingMode
        from fbgemm_gpu.split_table_batched_embeddings_ops_training import (
            ComputeDevice,
            SplitTableBatchedEmbeddingBagsCodegen,
        )

        kind = {
            "EXACT_SGD": OptimType.EXACT_SGD,
            "EXACT_ADAGRAD": OptimType.EXACT_ADAGRAD,
            "EXACT_ROWWISE_ADAGRAD": OptimType.EXACT_ROWWISE_ADAGRAD,
        }[method.split()[-1]]
        tbe = SplitTableBatchedEmbeddingBagsCodegen(
            [(V, D, EmbeddingLocation.HOST, ComputeDevice.CPU)],
            optimizer=kind,
            learning_rate=LR,
            eps=1e-8,
            pooling_mode=PoolingMode.MEAN if mode == "mean" else PoolingMode.SUM,
        )
        # FBGEMM has no padding_idx: W2's padding ids are looked up like any other row there.

        def step(ids, offsets, psw, g):
            off = torch.cat([offsets, torch.tensor([ids.numel()])])
            out = tbe(ids, off, per_sample_weights=psw)
            out.backward(g)

        return step
    import embedforge
    from embedforge import optim

    cfg = {
        "ef SGD": lambda: optim.SGD(lr=LR),
        "ef Adagrad": lambda: optim.Adagrad(lr=LR, eps=1e-8),
        "ef RowWiseAdagrad": lambda: optim.RowWiseAdagrad(lr=LR, eps=1e-8),
        "ef Adam": lambda: optim.Adam(lr=LR),
        "ef LazyAdam": lambda: optim.LazyAdam(lr=LR),
    }[method]()
    bag = embedforge.nn.EmbeddingBag(V, D, mode=mode, padding_idx=pad, _weight=init, optimizer=cfg)

    def step(ids, offsets, psw, g):
        out = bag(ids, offsets, per_sample_weights=psw)
        out.backward(g)

    return step


def child(workload, method, threads, steps, warmup):
    import torch

    torch.set_num_threads(threads)
    w = WORKLOADS[workload]
    rss0 = rss_mb()
    torch.manual_seed(0)
    batches = make_batches(w, 6, seed=1)
    g = torch.randn(w["B"], w["D"])
    step = build(method, w)
    rss_setup = rss_mb()
    times, cpu = [], []
    for i in range(warmup + steps):
        ids, offsets, psw = batches[i % len(batches)]
        c0, t0 = time.process_time(), time.perf_counter()
        step(ids, offsets, psw, g)
        t1, c1 = time.perf_counter(), time.process_time()
        if i >= warmup:
            times.append((t1 - t0) * 1e3)
            cpu.append((c1 - c0) * 1e3)
    q = statistics.quantiles(times, n=4)
    print(
        json.dumps(
            dict(
                median=statistics.median(times),
                q1=q[0],
                q3=q[2],
                min=min(times),
                cpu=statistics.median(cpu),
                rss=rss_mb(),
                rss_setup=rss_setup,
                rss_import=rss0,
            )
        )
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--methods", default="", help="comma-separated substrings of method names (default all)")
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--fbgemm-site", default="", help="directory holding an fbgemm-gpu-cpu install (optional)")
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every method this many times, interleaved round by round (a machine that drifts "
        "then drifts for all of them); each figure is the median over rounds, RSS the largest",
    )
    ap.add_argument("--json", default="", help="also write all results to this file")
    ap.add_argument("--child", nargs=3, metavar=("WORKLOAD", "METHOD", "THREADS"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child[0], a.child[1], int(a.child[2]), a.steps, a.warmup)
        return
    workloads = a.workloads.split(",")
    threads = [int(t) for t in a.threads.split(",")]
    wanted = [m for m in METHODS if not a.methods or any(s.strip() in m for s in a.methods.split(","))]
    if not a.fbgemm_site:
        wanted = [m for m in wanted if METHODS[m] != "fbgemm"]
    results = {}
    print(
        f"# compare_training: steps={a.steps} warmup={a.warmup} lr={LR}; one subprocess per row; wall ms per "
        f"step (median, quartiles, min), cpu ms per step (median process time, all threads); RSS MB after "
        f"setup and peak",
        flush=True,
    )
    for wl in workloads:
        for t in threads:
            print(f"\n## {wl} {WORKLOADS[wl]}  threads={t}", flush=True)
            print(
                f"{'method':30s} {'median ms':>10s} {'q1-q3':>16s} {'min ms':>8s} {'cpu ms':>8s} {'RSS setup':>10s} "
                f"{'RSS peak':>9s}",
                flush=True,
            )
            runs = {m: [] for m in wanted}
            for _ in range(max(1, a.rounds)):
                for m in wanted:
                    env = dict(os.environ)
                    env["OMP_NUM_THREADS"] = str(t)
                    if METHODS[m] == "fbgemm":
                        env["PYTHONPATH"] = a.fbgemm_site + os.pathsep + env.get("PYTHONPATH", "")
                    cmd = [
                        sys.executable,
                        __file__,
                        "--child",
                        wl,
                        m,
                        str(t),
                        "--steps",
                        str(a.steps),
                        "--warmup",
                        str(a.warmup),
                    ]
                    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
                    if p.returncode != 0:
                        err = (p.stderr.strip().splitlines() or ["?"])[-1][:90]
                        runs[m].append(err)
                        continue
                    runs[m].append(json.loads(p.stdout.strip().splitlines()[-1]))
            for m in wanted:
                ok = [r for r in runs[m] if isinstance(r, dict)]
                if not ok:
                    print(f"{m:30s} failed: {runs[m][-1]}", flush=True)
                    results[(wl, t, m)] = None
                    continue
                r = {k: statistics.median(x[k] for x in ok) for k in ("median", "q1", "q3", "min", "cpu", "rss_setup")}
                r["rss"] = max(x["rss"] for x in ok)
                r["rounds"] = [round(x["median"], 2) for x in ok]
                results[(wl, t, m)] = r
                per_round = " rounds " + "/".join(f"{v:.2f}" for v in r["rounds"]) if len(ok) > 1 else ""
                print(
                    f"{m:30s} {r['median']:10.2f} {r['q1']:7.2f}-{r['q3']:<8.2f} {r['min']:8.2f} {r['cpu']:8.2f} "
                    f"{r['rss_setup']:10.0f} {r['rss']:9.0f}{per_round}",
                    flush=True,
                )
            summarize(results, wl, t)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({f"{k[0]}|{k[1]}|{k[2]}": v for k, v in results.items()}, f, indent=1)


def summarize(results, wl, t):
    def best(names):
        vals = [(results[(wl, t, n)]["median"], n) for n in names if results.get((wl, t, n))]
        return min(vals) if vals else None

    sgd_peers = ["torch dense+SGD", "torch sparse+SGD", "fbgemm EXACT_SGD"]
    ada_peers = [
        "torch dense+Adagrad(fused)",
        "torch sparse+Adagrad",
        "fbgemm EXACT_ADAGRAD",
        "fbgemm EXACT_ROWWISE_ADAGRAD",
    ]
    lines = []
    for ours, peers in [
        ("ef SGD", sgd_peers),
        ("ef Adagrad", ada_peers),
        ("ef RowWiseAdagrad", ada_peers),
        ("ef Adam", ["torch sparse+SparseAdam"]),
        ("ef LazyAdam", ["torch sparse+SparseAdam"]),
    ]:
        o, b = results.get((wl, t, ours)), best(peers)
        if o and b:
            lines.append(f"{ours}: {b[0] / o['median']:.1f}x vs best peer ({b[1]})")
    if lines:
        print("speed-up: " + "; ".join(lines), flush=True)


if __name__ == "__main__":
    main()
