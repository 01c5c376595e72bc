#!/usr/bin/env python3
"""The embedding bag inside a small model: ours vs torch.nn.functional.embedding_bag with torch ops around it.

compare_torch.py times the lookup alone. In a model the lookup runs between torch operators, whose
OpenMP workers are still awake (spinning) when it starts, so how a kernel shares the cores with
torch's thread team shows here and not there. Each step: embedding bag over a workload of the
foundation issue, then Linear(D, 256) -> ReLU -> Linear(256, 1) and a squared loss (the same torch
MLP for both); "infer" runs it under no_grad, "train dense" / "train sparse" add the backward with
a dense or sparse table gradient. Ours and torch alternate in the same process on the same table;
medians of repeats of medians. --busy K runs K spinning processes meanwhile (a busy machine);
--layer module compares the nn modules instead, each with its own copy of the table (ours then
sits on transparent huge pages, as embedforge.nn puts its tables).

Usage: python bench/compare_model.py [--workloads W1 W4] [--threads 1 2] [--repeats 7] [--busy 0] [--layer op]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys

import embedforge
import torch
import torch.nn.functional as F
from embedforge.benchmark import WORKLOADS, make_inputs, median_ms


def _spin(stop) -> None:
    while not stop.is_set():
        pass


def _steps(inp: dict, mlp: torch.nn.Module, what: str, layer: str):
    target = torch.randn(inp["offsets"].numel(), 1)
    sparse = what == "train sparse"
    ids, offs, psw = inp["indices"], inp["offsets"], inp["psw"]
    if layer == "module":
        # Each its own table (same values): ours as embedforge.nn makes it (huge pages where offered).
        V, D = inp["weight"].shape
        mk = dict(mode=inp["mode"], padding_idx=inp["padding_idx"], sparse=sparse)
        a = embedforge.nn.EmbeddingBag.from_pretrained(inp["weight"].clone(), freeze=what == "infer", **mk)
        b = torch.nn.EmbeddingBag.from_pretrained(inp["weight"].clone(), freeze=what == "infer", **mk)
        tables = (a.weight, b.weight)
        ours = lambda: a(ids, offs, per_sample_weights=psw)  # noqa: E731
        theirs = lambda: b(ids, offs, per_sample_weights=psw)  # noqa: E731
    else:
        kw = dict(mode=inp["mode"], padding_idx=inp["padding_idx"], per_sample_weights=psw)
        weight = inp["weight"] if what == "infer" else inp["weight"].clone().requires_grad_()
        tables = (weight, weight)
        ours = lambda: embedforge.ops.embedding_bag(weight, ids, offs, sparse=sparse, **kw)  # noqa: E731
        theirs = lambda: F.embedding_bag(ids, weight, offs, sparse=sparse, **kw)  # noqa: E731

    def make(lookup, table):
        if what == "infer":

            def step():
                with torch.no_grad():
                    mlp(lookup())
        else:

            def step():
                table.grad = None
                mlp.zero_grad(set_to_none=True)
                F.mse_loss(mlp(lookup()), target).backward()

        return step

    return make(ours, tables[0]), make(theirs, tables[1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", nargs="+", default=["W1", "W3", "W4"], choices=list(WORKLOADS))
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument(
        "--what",
        nargs="+",
        default=["infer", "train dense", "train sparse"],
        choices=["infer", "train dense", "train sparse"],
    )
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--scale", type=float, default=1.0, help="shrink tables by this factor for a quick run")
    ap.add_argument("--busy", type=int, default=0, help="spinning processes to run meanwhile")
    ap.add_argument(
        "--layer",
        choices=["op", "module"],
        default="op",
        help="op: both functions on one shared table; module: embedforge.nn.EmbeddingBag vs "
        "torch.nn.EmbeddingBag, each with its own copy of the table",
    )
    args = ap.parse_args(argv)
    stop = mp.Event()
    hogs = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(args.busy)]
    for h in hogs:
        h.start()
    print(
        f"# embedforge {embedforge.__version__} ({embedforge.build_info()['cpu_isa']}), torch {torch.__version__}, "
        f"layer {args.layer}, busy {args.busy}, scale {args.scale}"
    )
    print(f"{'workload':8} {'thr':>3} {'what':13} {'ours ms':>9} {'torch ms':>9} {'torch/ours':>10}")
    before = torch.get_num_threads()
    try:
        for name in args.workloads:
            inp = make_inputs(WORKLOADS[name], scale=args.scale)
            torch.manual_seed(0)
            dim = inp["weight"].shape[1]
            mlp = torch.nn.Sequential(torch.nn.Linear(dim, 256), torch.nn.ReLU(), torch.nn.Linear(256, 1))
            for t in args.threads:
                torch.set_num_threads(t)
                for what in args.what:
                    ours, theirs = _steps(inp, mlp, what, args.layer)
                    for _ in range(2):
                        ours(), theirs()
                    a, b = [], []
                    for _ in range(args.repeats):
                        a.append(median_ms(ours, args.iters))
                        b.append(median_ms(theirs, args.iters))
                    ma, mb = statistics.median(a), statistics.median(b)
                    print(f"{name:8} {t:>3} {what:13} {ma:9.3f} {mb:9.3f} {mb / ma:9.2f}x", flush=True)
    finally:
        torch.set_num_threads(before)
        stop.set()
        for h in hogs:
            h.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
