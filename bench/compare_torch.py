#!/usr/bin/env python3
"""embedforge vs torch.nn.functional.embedding_bag: forward, forward+backward (dense and sparse).

Usage: python bench/compare_torch.py [--workloads W1 W2 ...] [--threads 1 2] [--repeats 7] [--scale 1.0]
Prints one table with medians and the ratio torch/ours (> 1 means embedforge is faster).
"""

from __future__ import annotations

import argparse
import platform
import sys

import embedforge
import torch
from embedforge.benchmark import WORKLOADS, compare_embedding_bag, format_table


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--what", nargs="+", default=["forward", "fwd+bwd dense", "fwd+bwd sparse"])
    ap.add_argument("--repeats", type=int, default=7, help="medians over this many repeats (each a median of --iters)")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--scale", type=float, default=1.0, help="shrink tables by this factor for a quick run")
    args = ap.parse_args(argv)
    info = embedforge.build_info()
    print(
        f"# embedforge {embedforge.__version__} ({info['cpu_isa']}), torch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}, scale {args.scale}"
    )
    print(format_table([], header=True))
    rows = compare_embedding_bag(
        args.workloads, args.threads, args.what, args.repeats, args.iters, args.scale, progress=print
    )
    print()
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
