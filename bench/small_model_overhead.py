#!/usr/bin/env python3
"""Per-call overhead on small inputs, where the Python and dispatch path dominates the kernels.

Times, alternating with torch in the same process (medians of repeats of medians):
  - embedforge.nn.Embedding vs torch.nn.Embedding, forward + backward, [64, 32] ids into 1000 x 32
    (with and without padding_idx);
  - the same forward only, with and without grad mode;
  - embedforge.ops.embedding_bag vs F.embedding_bag forward (no grad and grad mode) on 64 bags of 8.

Usage: python bench/small_model_overhead.py [--threads 1] [--repeats 7] [--iters 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import embedforge
import torch
import torch.nn.functional as F


def _median_us(fn, iters: int) -> float:
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(times)


def _compare(name, ours, theirs, repeats, iters):
    ours(), theirs()
    a, b = [], []
    for _ in range(repeats):
        a.append(_median_us(ours, iters))
        b.append(_median_us(theirs, iters))
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"{name:40} {ma:9.1f} {mb:9.1f} {mb / ma:9.2f}x")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--iters", type=int, default=200)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"# embedforge {embedforge.__version__}, torch {torch.__version__}, {args.threads} thread(s)")
    print(f"{'case':40} {'ours us':>9} {'torch us':>9} {'torch/ours':>10}")
    ids = torch.randint(0, 1000, (64, 32))
    for pad in (None, 0):
        ours = embedforge.nn.Embedding(1000, 32, padding_idx=pad)
        ref = torch.nn.Embedding(1000, 32, padding_idx=pad)
        grad = torch.randn(64, 32, 32)

        def fb(m):
            def run():
                m.weight.grad = None
                m(ids).backward(grad)

            return run

        _compare(f"Embedding fwd+bwd pad={pad}", fb(ours), fb(ref), args.repeats, args.iters)

        def fwd(m):
            def run():
                m(ids)

            return run

        _compare(f"Embedding fwd (grad mode) pad={pad}", fwd(ours), fwd(ref), args.repeats, args.iters)
        with torch.no_grad():
            _compare(f"Embedding fwd (no grad) pad={pad}", fwd(ours), fwd(ref), args.repeats, args.iters)

    w = torch.randn(1000, 32, requires_grad=True)
    bag_ids = torch.randint(0, 1000, (512,))
    offs = torch.arange(0, 512, 8)

    def bag_ours():
        embedforge.ops.embedding_bag(w, bag_ids, offs)

    def bag_torch():
        F.embedding_bag(bag_ids, w, offs)

    _compare("embedding_bag fwd (grad mode)", bag_ours, bag_torch, args.repeats, args.iters)
    with torch.no_grad():
        _compare("embedding_bag fwd (no grad)", bag_ours, bag_torch, args.repeats, args.iters)

    def bag_fb(f):
        def run():
            w.grad = None
            f().sum().backward()

        return run

    _compare(
        "embedding_bag fwd+bwd",
        bag_fb(lambda: embedforge.ops.embedding_bag(w, bag_ids, offs)),
        bag_fb(lambda: F.embedding_bag(bag_ids, w, offs)),
        args.repeats,
        args.iters,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
