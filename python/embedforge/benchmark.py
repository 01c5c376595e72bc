"""Side-by-side timing of embedforge's embedding bag against ``torch.nn.functional.embedding_bag``.

Same process, same inputs, the two implementations alternating, medians of several repeats, at
each requested thread count. Used by ``bench/compare_torch.py``, ``embedforge bench`` and
``make run``. This is a benchmark, not a test: machines are noisy, so read ratios, not times.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Sequence

import torch
import torch.nn.functional as F

from .ops.embedding_bag import embedding_bag

__all__ = [
    "Workload",
    "WORKLOADS",
    "make_inputs",
    "median_ms",
    "compare_embedding_bag",
    "format_table",
    "table_memory",
    "dict_of_vectors",
    "lookup_vs_dict",
]


@dataclass(frozen=True)
class Workload:
    """A benchmark case: table V×D, B bags of `min_len`..`max_len` ids, pooling and extras."""

    name: str
    rows: int
    dim: int
    bags: int
    min_len: int
    max_len: int
    mode: str = "sum"
    zipf: Optional[float] = None
    padding_idx: Optional[int] = None
    per_sample_weights: bool = False


WORKLOADS = {
    "W1": Workload("W1", 1_000_000, 64, 2048, 40, 40),
    "W1z": Workload("W1z", 1_000_000, 64, 2048, 40, 40, zipf=1.05),
    "W2": Workload("W2", 50_000, 128, 256, 10, 200, mode="mean", padding_idx=0),
    "W3": Workload("W3", 200_000, 256, 512, 20, 20, per_sample_weights=True),
    "W4": Workload("W4", 5_000_000, 16, 4096, 10, 10),
}


def _zipf_ids(n: int, rows: int, s: float, gen: torch.Generator) -> torch.Tensor:
    ranks = torch.arange(1, rows + 1, dtype=torch.float64)
    probs = ranks.pow(-s)
    probs /= probs.sum()
    ids = torch.multinomial(probs, n, replacement=True, generator=gen)
    perm = torch.randperm(rows, generator=gen)  # hot rows scattered over the table
    return perm[ids]


def make_inputs(w: Workload, scale: float = 1.0, seed: int = 0) -> dict:
    """Random inputs for a workload; `scale` < 1 shrinks the table (not the batch) for quick runs."""
    gen = torch.Generator().manual_seed(seed)
    rows = max(1000, int(w.rows * scale))
    lengths = torch.randint(w.min_len, w.max_len + 1, (w.bags,), generator=gen)
    n = int(lengths.sum())
    ids = _zipf_ids(n, rows, w.zipf, gen) if w.zipf else torch.randint(0, rows, (n,), generator=gen)
    if w.padding_idx is not None:
        ids[torch.rand(n, generator=gen) < 0.1] = w.padding_idx
    offsets = torch.cat([torch.zeros(1, dtype=torch.int64), lengths.cumsum(0)[:-1]])
    weight = torch.randn(rows, w.dim, generator=gen)
    psw = torch.rand(n, generator=gen) if w.per_sample_weights else None
    return dict(weight=weight, indices=ids, offsets=offsets, psw=psw, mode=w.mode, padding_idx=w.padding_idx)


def median_ms(fn: Callable[[], None], iters: int) -> float:
    """Median wall time of `iters` calls of fn, in milliseconds."""
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _runners(inp: dict, impl: str, what: str) -> Callable[[], None]:
    w = inp["weight"]
    kw = dict(mode=inp["mode"], padding_idx=inp["padding_idx"])
    sparse = what == "fwd+bwd sparse"

    def call(weight):
        if impl == "ours":
            return embedding_bag(
                weight, inp["indices"], inp["offsets"], per_sample_weights=inp["psw"], sparse=sparse, **kw
            )
        return F.embedding_bag(
            inp["indices"], weight, inp["offsets"], per_sample_weights=inp["psw"], sparse=sparse, **kw
        )

    if what == "forward":

        def fwd():
            with torch.no_grad():
                call(w)

        return fwd
    wg = w.clone().requires_grad_()
    grad = torch.ones(inp["offsets"].numel(), w.shape[1])

    def fwd_bwd():
        wg.grad = None
        call(wg).backward(grad)

    return fwd_bwd


def compare_embedding_bag(
    workloads: Iterable[str] = ("W1", "W1z", "W2", "W3", "W4"),
    threads: Sequence[int] = (1, 2),
    what: Sequence[str] = ("forward", "fwd+bwd dense", "fwd+bwd sparse"),
    repeats: int = 5,
    iters: int = 10,
    scale: float = 1.0,
    progress: Optional[Callable[[str], None]] = None,
) -> list[dict]:
    """Times ours and torch alternately; returns one row per (workload, threads, what) with medians."""
    rows = []
    before = torch.get_num_threads()
    try:
        for name in workloads:
            inp = make_inputs(WORKLOADS[name], scale=scale)
            for t in threads:
                torch.set_num_threads(t)
                for kind in what:
                    ours, theirs = _runners(inp, "ours", kind), _runners(inp, "torch", kind)
                    ours(), theirs()  # warm up
                    a, b = [], []
                    for _ in range(repeats):
                        a.append(median_ms(ours, iters))
                        b.append(median_ms(theirs, iters))
                    row = dict(
                        workload=name, threads=t, what=kind, ours_ms=statistics.median(a), torch_ms=statistics.median(b)
                    )
                    row["ratio"] = row["torch_ms"] / row["ours_ms"]
                    rows.append(row)
                    if progress:
                        progress(format_table([row], header=False))
    finally:
        torch.set_num_threads(before)
    return rows


def format_table(rows: list[dict], header: bool = True) -> str:
    """A fixed-width table: workload, threads, what, ours ms, torch ms, torch/ours."""
    lines = []
    if header:
        lines.append(f"{'workload':8} {'thr':>3} {'what':16} {'ours ms':>9} {'torch ms':>9} {'torch/ours':>10}")
    for r in rows:
        lines.append(
            f"{r['workload']:8} {r['threads']:>3} {r['what']:16} {r['ours_ms']:9.3f} {r['torch_ms']:9.3f} {r['ratio']:9.2f}x"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------ the slide deck's two checks, done properly
def table_memory(
    rows: Sequence[int] = (1_000, 10_000, 100_000),
    dim: int = 64,
    dtypes: Sequence[torch.dtype] = (torch.float32, torch.float16, torch.bfloat16),
) -> list[dict]:
    """Bytes of a rows×dim table per dtype, read from each allocated tensor's storage (not computed)."""
    out = []
    for n in rows:
        for dtype in dtypes:
            table = torch.empty(int(n), dim, dtype=dtype).normal_()
            nbytes = table.untyped_storage().nbytes()
            out.append(
                dict(
                    rows=int(n),
                    dim=dim,
                    dtype=str(dtype).replace("torch.", ""),
                    bytes=nbytes,
                    bytes_per_row=nbytes / int(n),
                )
            )
            del table
    return out


def dict_of_vectors(table: torch.Tensor) -> tuple[dict[int, Any], int]:
    """The table as a Python dict {id: numpy row} (the slide deck's alternative) and the bytes it took.

    The bytes are measured with ``tracemalloc`` while the dict is built (numpy reports its buffers to it):
    row buffers, array headers and the dict itself.
    """
    import tracemalloc

    rows = table.detach().cpu().float().numpy()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        vectors = {i: rows[i].copy() for i in range(len(rows))}
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return vectors, used


def lookup_vs_dict(
    rows: int = 100_000, dim: int = 64, batch: int = 4096, iters: int = 20, seed: int = 0, threads: int = 1
) -> dict:
    """Median ms to fetch ``batch`` random rows: embedforge's Embedding, torch indexing, a dict of numpy rows.

    Timed on ``threads`` intra-op threads (default one, as the dict's Python loop has; restored after).
    """
    import numpy as np

    from .nn import Embedding

    gen = torch.Generator().manual_seed(seed)
    table = Embedding(rows, dim)
    ids = torch.randint(0, rows, (batch,), generator=gen)
    ids_list = ids.tolist()
    vectors, _ = dict_of_vectors(table.weight)
    weight = table.weight.detach()
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            same = np.array_equal(table(ids).numpy(), np.stack([vectors[i] for i in ids_list]))
            t_ours = median_ms(lambda: table(ids), iters)
            t_torch = median_ms(lambda: weight[ids], iters)
    finally:
        torch.set_num_threads(before)
    t_dict = median_ms(lambda: np.stack([vectors[i] for i in ids_list]), iters)
    return dict(
        rows=rows,
        dim=dim,
        batch=batch,
        threads=threads,
        embedforge_ms=t_ours,
        torch_index_ms=t_torch,
        dict_ms=t_dict,
        same_rows=bool(same),
    )
