"""Lookup speed and table memory: a table vs a Python dict of vectors; float32 / float16 / bfloat16 at 1k–100k rows.

The slide deck's two checks, done properly: lookup time is the median of repeated batched lookups (the
same ids for every method, the rows checked equal), and memory is read from the allocated tensors'
storage and, for the dict, measured with tracemalloc while it is built. Timings vary between runs and
machines: read the ratios.

    python examples/lookup_speed_memory.py
    python examples/lookup_speed_memory.py --quick
"""

from __future__ import annotations

import argparse
from typing import Sequence

import torch
from embedforge.benchmark import dict_of_vectors, lookup_vs_dict, table_memory

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> dict:
    """Print the timing comparison and the memory table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller tables, fewer repeats")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--iters", type=int, default=30)
    args = parser.parse_args(argv)
    rows, iters = (10_000, 5) if args.quick else (args.rows, args.iters)
    sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)

    t = lookup_vs_dict(rows, args.dim, args.batch, iters)
    print(
        f"fetch {args.batch:,} random rows of a {rows:,} x {args.dim} float32 table on one thread "
        f"(median of {iters}; rows identical: {t['same_rows']}):"
    )
    print(f"  embedforge.nn.Embedding   {t['embedforge_ms']:8.3f} ms")
    print(f"  torch tensor indexing     {t['torch_index_ms']:8.3f} ms")
    print(
        f"  dict of numpy rows        {t['dict_ms']:8.3f} ms  "
        f"({t['dict_ms'] / max(t['embedforge_ms'], 1e-9):.1f}x the table)"
    )

    mem = table_memory(sizes, args.dim)
    print(f"\ntable memory at {args.dim} dimensions (tensor storage bytes):")
    print(f"  {'rows':>8} " + "".join(f"{d:>12}" for d in ("float32", "float16", "bfloat16")) + f"{'dict':>12}")
    dict_bytes = {}
    for n in sizes:
        cells = {m["dtype"]: m["bytes"] for m in mem if m["rows"] == n}
        _, dict_bytes[n] = dict_of_vectors(torch.zeros(n, args.dim))
        print(
            f"  {n:>8,} "
            + "".join(f"{cells[d] / 2**20:>9.2f} MiB" for d in ("float32", "float16", "bfloat16"))
            + f"{dict_bytes[n] / 2**20:>9.2f} MiB"
        )
    print(
        "  (dict: float32 numpy rows, measured with tracemalloc; each row also pays an array header and a dict entry)"
    )
    return {"timing": t, "memory": mem, "dict_bytes": dict_bytes}


if __name__ == "__main__":
    main()
