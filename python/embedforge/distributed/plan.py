"""Where each table of a sharded collection lives: whole on one rank, or rows split over all ranks.

A plan maps every table to a ``TablePlacement``: ``kind`` "table" (all rows on ``ranks[0]``) or "row"
(contiguous row ranges, one per rank, ``row_starts[r] : row_starts[r + 1]`` on rank r). The greedy
planner sizes each table by bytes (rows × dim × element size, plus its fused optimizer state),
row-shards any table larger than one rank's fair share (total bytes / ranks) and places the others,
largest first, on the rank holding the fewest bytes so far.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch

from ..optim import SGD, Adagrad, Adam, FusedOptimizer, LazyAdam, RowWiseAdagrad

__all__ = ["TablePlacement", "ShardingPlan", "table_bytes", "plan_tables"]

PlanSpec = Union[str, int, Tuple[str, int], "TablePlacement"]


def optimizer_state_bytes(optimizer: Optional[FusedOptimizer], rows: int, dim: int) -> int:
    """Bytes of fused optimizer state for a [rows, dim] table (float32 moments, int64 step counts)."""
    if optimizer is None or isinstance(optimizer, SGD):
        return 0
    if isinstance(optimizer, RowWiseAdagrad):
        return rows * 4
    if isinstance(optimizer, Adagrad):
        return rows * dim * 4
    if isinstance(optimizer, LazyAdam):
        return 2 * rows * dim * 4 + rows * 8
    if isinstance(optimizer, Adam):
        return 2 * rows * dim * 4 + 8
    raise NotImplementedError(f"the planner does not know the state size of {type(optimizer).__name__}")


def table_bytes(config, dtype: torch.dtype = torch.float32) -> int:
    """Rows × dim × element size plus the table's optimizer state, in bytes."""
    elem = torch.empty((), dtype=dtype).element_size()
    rows, dim = config.num_embeddings, config.embedding_dim
    return rows * dim * elem + optimizer_state_bytes(config.optimizer, rows, dim)


@dataclasses.dataclass(frozen=True)
class TablePlacement:
    """One table's place: ``kind`` "table" (on ``ranks[0]``) or "row" (rank r holds rows
    ``row_starts[r]:row_starts[r+1]``)."""

    kind: str
    ranks: Tuple[int, ...]
    row_starts: Tuple[int, ...]  # len(ranks) + 1 entries
    num_bytes: int = 0

    def rows_of(self, rank: int) -> Tuple[int, int]:
        """The [start, end) row range this rank holds (empty when it holds none)."""
        if rank not in self.ranks:
            return (0, 0)
        i = self.ranks.index(rank)
        return (self.row_starts[i], self.row_starts[i + 1])

    def describe(self) -> dict:
        return {"kind": self.kind, "ranks": list(self.ranks), "row_starts": list(self.row_starts)}


def _human(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


class ShardingPlan(Mapping[str, TablePlacement]):
    """Table name → ``TablePlacement``, in the collection's table order; ``print(plan)`` shows a table."""

    def __init__(self, placements: Dict[str, TablePlacement], world_size: int, dims: Dict[str, int]) -> None:
        self._p = dict(placements)
        self.world_size = world_size
        self._dims = dict(dims)

    def __getitem__(self, name: str) -> TablePlacement:
        return self._p[name]

    def __iter__(self):
        return iter(self._p)

    def __len__(self) -> int:
        return len(self._p)

    def bytes_per_rank(self) -> List[int]:
        """Bytes of tables and optimizer state each rank holds."""
        load = [0] * self.world_size
        for p in self._p.values():
            rows = p.row_starts[-1]
            for i, r in enumerate(p.ranks):
                load[r] += p.num_bytes * (p.row_starts[i + 1] - p.row_starts[i]) // max(rows, 1)
        return load

    def describe(self) -> dict:
        """A plain, comparable description (used by the cross-rank digest and checkpoints)."""
        return {"world_size": self.world_size, "tables": {n: p.describe() for n, p in self._p.items()}}

    def __str__(self) -> str:
        head = ("table", "kind", "rows", "dim", "bytes", "ranks (rows)")
        rows = [head]
        for n, p in self._p.items():
            if p.kind == "table":
                where = str(p.ranks[0])
            else:
                where = ", ".join(f"{r} ({p.row_starts[i]}:{p.row_starts[i + 1]})" for i, r in enumerate(p.ranks))
            rows.append((n, p.kind, str(p.row_starts[-1]), str(self._dims[n]), _human(p.num_bytes), where))
        widths = [max(len(r[c]) for r in rows) for c in range(len(head))]
        lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
        per_rank = ", ".join(f"rank {r}: {_human(b)}" for r, b in enumerate(self.bytes_per_rank()))
        return "\n".join(lines + [f"world size {self.world_size}; {per_rank}"])

    __repr__ = __str__


def _row_starts(rows: int, world: int) -> Tuple[int, ...]:
    return tuple((r * rows) // world for r in range(world + 1))


def plan_tables(
    configs: Sequence,
    world_size: int,
    plan: Optional[Mapping[str, PlanSpec]] = None,
    dtype: torch.dtype = torch.float32,
) -> ShardingPlan:
    """Places every table (see the module docstring). ``plan`` may fix some or all tables: "row",
    "table" (rank chosen greedily), an int or ("table", rank) (that rank), or a ``TablePlacement``."""
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    plan = dict(plan or {})
    names = [c.name for c in configs]
    unknown = sorted(set(plan) - set(names))
    if unknown:
        raise ValueError(f"plan names tables the collection does not have: {unknown} (tables: {names})")
    sizes = {c.name: table_bytes(c, dtype) for c in configs}
    rows = {c.name: c.num_embeddings for c in configs}
    fair = sum(sizes.values()) / world_size
    load = [0.0] * world_size
    out: Dict[str, TablePlacement] = {}
    pending: List[str] = []
    fixed: Dict[str, int] = {}
    for n in names:
        spec = plan.get(n)
        if isinstance(spec, TablePlacement):
            if spec.kind not in ("table", "row") or spec.row_starts[-1] != rows[n]:
                raise ValueError(f"plan[{n!r}]: placement does not fit a table of {rows[n]} rows")
            if spec.kind == "row" and tuple(spec.ranks) != tuple(range(world_size)):
                raise ValueError(f"plan[{n!r}]: a row-wise table is split over all {world_size} ranks in order")
            spec = dataclasses.replace(spec, num_bytes=sizes[n])
            out[n] = spec
            for i, r in enumerate(spec.ranks):
                load[r] += sizes[n] * (spec.row_starts[i + 1] - spec.row_starts[i]) / rows[n]
            continue
        if isinstance(spec, tuple) and len(spec) == 2 and spec[0] == "table":
            spec = spec[1]
        if isinstance(spec, bool):
            raise TypeError(f"plan[{n!r}] must be 'table', 'row' or a rank, got {spec!r}")
        if isinstance(spec, int):
            if not 0 <= spec < world_size:
                raise ValueError(f"plan[{n!r}]={spec} is not a rank of a world of {world_size}")
            fixed[n] = spec
            continue
        if spec is None:
            spec = "row" if (world_size > 1 and sizes[n] > fair and rows[n] >= world_size) else "table"
        if spec == "row":
            if rows[n] < world_size:
                raise ValueError(
                    f"table {n!r} has {rows[n]} rows, fewer than the {world_size} ranks it would be "
                    f"split over; place it whole ('table')"
                )
            out[n] = TablePlacement("row", tuple(range(world_size)), _row_starts(rows[n], world_size), sizes[n])
            for r in range(world_size):
                load[r] += sizes[n] / world_size
        elif spec == "table":
            pending.append(n)
        else:
            raise ValueError(f"plan[{n!r}] must be 'table', 'row' or a rank, got {spec!r}")
    for n, r in fixed.items():
        out[n] = TablePlacement("table", (r,), (0, rows[n]), sizes[n])
        load[r] += sizes[n]
    for n in sorted(pending, key=lambda n: (-sizes[n], names.index(n))):
        r = min(range(world_size), key=lambda r: (load[r], r))
        out[n] = TablePlacement("table", (r,), (0, rows[n]), sizes[n])
        load[r] += sizes[n]
    dims = {c.name: c.embedding_dim for c in configs}
    return ShardingPlan({n: out[n] for n in names}, world_size, dims)
