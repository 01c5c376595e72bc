"""Sharded training steps over 2 ranks against one process (a benchmark, not a test).

For each workload (W1-like: one 1M × 64 table, 2048 bags of 40 ids; W4-like: 5M × 16, 4096 bags of
10) and fused optimizer (SGD, RowWiseAdagrad), one training step (lookup forward + backward whose
fused optimizer updates the table) on the whole global batch is timed

  * in one process with ``--threads`` (2) torch threads: ``embedforge.nn.EmbeddingBagCollection``;
  * on 2 gloo ranks (loopback) × 1 thread: ``ShardedEmbeddingBagCollection``, each rank half of the
    batch, the table row-sharded by the planner.

The two alternate round by round in the same run (the other rank waits on the store, idle, while
the single process is timed); medians over rounds. Also printed: the bytes each rank sends per step
(measured, and from the formula in docs/scaling.md). Run on a quiet machine::

    python bench/distributed_bench.py --rounds 5 --iters 10
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import time

import embedforge
import torch
import torch.distributed as dist
from embedforge.distributed import ShardedEmbeddingBagCollection, comm, spawn
from embedforge.nn import EmbeddingBagCollection, EmbeddingBagConfig

WORKLOADS = {"W1": (1_000_000, 64, 2048, 40), "W4": (5_000_000, 16, 4096, 10)}  # rows, dim, bags, ids per bag
OPTIMIZERS = {
    "SGD": lambda: embedforge.optim.SGD(lr=0.01),
    "RowWiseAdagrad": lambda: embedforge.optim.RowWiseAdagrad(lr=0.01),
}


def predicted_bytes(b: int, L: int, D: int, W: int) -> int:
    """Bytes one rank sends per step for a row-wise table, uniform ids (docs/scaling.md): counts,
    ids (int32) and bag lengths to every other rank, partial pools back and gradients (float32)."""
    return 24 * (W - 1) + 4 * b * L * (W - 1) // W + 4 * b * (W - 1) + 2 * 4 * b * D * (W - 1)


def _batch(rows, bags, L, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, rows, (bags * L,), generator=g), torch.full((bags,), L)


def _steps(model, values, lengths, grad, iters):
    t0 = time.perf_counter()
    for _ in range(iters):
        model(values, lengths=lengths).backward(grad)
    return (time.perf_counter() - t0) / iters * 1e3


def _rank(rank, world, rounds, iters, threads, workloads, optimizers):
    store = comm._store()
    results = []
    for wname in workloads:
        rows, dim, bags, L = WORKLOADS[wname]
        for oname in optimizers:
            cfg = [EmbeddingBagConfig("t", rows, dim, optimizer=OPTIMIZERS[oname]())]
            torch.manual_seed(0)
            sharded = ShardedEmbeddingBagCollection(cfg)
            single = EmbeddingBagCollection(cfg) if rank == 0 else None
            gv, gl = _batch(rows, bags, L, seed=1)
            b = bags // world
            lv, ll = gv[rank * b * L : (rank + 1) * b * L], gl[rank * b : (rank + 1) * b]
            g_single, g_local = torch.full((bags, dim), 1e-3), torch.full((b, dim), 1e-3)
            one, two, ex = [], [], []
            for r in range(rounds):
                key = f"bench/{wname}/{oname}/{r}"
                if rank == 0:
                    torch.set_num_threads(threads)
                    _steps(single, gv, gl, g_single, 2)  # warm-up
                    one.append(_steps(single, gv, gl, g_single, iters))
                    torch.set_num_threads(1)
                    store.set(key, "1")
                else:
                    store.wait([key], datetime.timedelta(seconds=600))
                dist.barrier()
                _steps(sharded, lv, ll, g_local, 2)
                dist.barrier()
                t = torch.tensor([_steps(sharded, lv, ll, g_local, iters)])
                dist.all_reduce(t, op=dist.ReduceOp.MAX)  # a step lasts as long as its slowest rank
                two.append(t.item())
                ex.append(sum(sharded.last_step_exchange_ms.values()))
            sent = torch.tensor([sharded.last_step_bytes["forward"] + sharded.last_step_bytes["backward"]])
            dist.all_reduce(sent)
            results.append(
                dict(
                    workload=wname,
                    optimizer=oname,
                    single_ms=statistics.median(one) if one else None,
                    sharded_ms=statistics.median(two),
                    exchange_ms=statistics.median(ex),
                    sent_per_rank=sent.item() / world,
                    predicted=predicted_bytes(b, L, dim, world),
                    plan=str(sharded.plan).splitlines()[1],
                    rounds_single=one,
                    rounds_sharded=two,
                )
            )
            del sharded, single
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2, help="torch threads of the single process")
    ap.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    ap.add_argument("--optimizers", nargs="+", default=list(OPTIMIZERS), choices=list(OPTIMIZERS))
    args = ap.parse_args(argv)
    res = spawn(
        _rank,
        2,
        args=(args.rounds, args.iters, args.threads, args.workloads, args.optimizers),
        timeout=600,
        threads=1,
        start_method="spawn",
    )[0]
    print(
        f"1 process x {args.threads} threads vs 2 gloo ranks x 1 thread (loopback); medians of {args.rounds} "
        f"rounds of {args.iters} steps; step = forward + backward with the fused update"
    )
    print(
        "| workload | optimizer | 1 process ms/step | 2 ranks ms/step | of which exchange (rank 0) | ratio | "
        "bar <= 1.5x | sent/rank/step measured | formula |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in res:
        ratio = r["sharded_ms"] / r["single_ms"]
        print(
            f"| {r['workload']} | {r['optimizer']} | {r['single_ms']:.1f} | {r['sharded_ms']:.1f} | "
            f"{r['exchange_ms']:.1f} | {ratio:.2f}x | "
            f"{'yes' if ratio <= 1.5 else 'no'} | {r['sent_per_rank'] / 1024:.0f} KiB | {r['predicted'] / 1024:.0f} KiB |"
        )
    for r in res:
        print(
            f"  {r['workload']} {r['optimizer']}: single rounds {[round(x, 1) for x in r['rounds_single']]}, "
            f"sharded rounds {[round(x, 1) for x in r['rounds_sharded']]}; plan: {r['plan']}"
        )
    return res


if __name__ == "__main__":
    main()
