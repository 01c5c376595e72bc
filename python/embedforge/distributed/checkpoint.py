"""Checkpoints of sharded collections: one file per rank plus a manifest, re-sharded on load.

``save(sharded, directory)``: every rank writes its own rows and optimizer state to
``shard-<rank>-of-<world>.<tag>.pt`` (written to a temporary name, flushed, then renamed into place),
then rank 0 writes ``manifest.json`` the same way and removes the files of the checkpoint it
replaces. The manifest is the commit point: until it is renamed, the previous checkpoint stays
whole. ``load(sharded, directory)`` takes every row this rank now holds from whichever files hold
it (memory-mapped, so only those rows are read), whatever the world size that wrote them. The
directory must be visible to every rank.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Dict

import torch
import torch.distributed as dist

from .._atomic import atomic_write  # written beside the target, fsynced, renamed over it
from .comm import guarded
from .sharded import ShardedEmbeddingBagCollection, _describe_config, _replicated

__all__ = ["save", "load", "MANIFEST"]

MANIFEST = "manifest.json"
_FORMAT = 1


def save(sharded: ShardedEmbeddingBagCollection, directory: str) -> None:
    """Writes this rank's shards and (rank 0) the manifest; every rank of the group calls it."""
    group, rank, world = sharded.process_group, sharded.rank, sharded.world_size
    os.makedirs(directory, exist_ok=True)
    tag = [uuid.uuid4().hex[:12] if rank == 0 else None]
    guarded(
        "broadcast_object_list (checkpoint tag)",
        lambda: dist.broadcast_object_list(tag, dist.get_global_rank(group, 0), group=group),
    )
    name = f"shard-{rank:05d}-of-{world:05d}.{tag[0]}.pt"
    tables = {}
    for tname, shard in sharded.embedding_bags.items():
        st = shard.optimizer_state
        tables[tname] = {
            "rows": [shard.row_start, shard.row_end],
            "weight": shard.weight.detach(),
            "state": dict(st.state()) if st is not None else {},
            "extra": st.get_extra_state() if st is not None else None,
        }
    atomic_write(
        os.path.join(directory, name),
        lambda f: torch.save({"format": _FORMAT, "rank": rank, "world_size": world, "tables": tables}, f),
    )
    guarded("barrier (checkpoint shards written)", lambda: dist.barrier(group=group))
    if rank == 0:
        old = _read_manifest(directory) if os.path.exists(os.path.join(directory, MANIFEST)) else None
        files = [f"shard-{r:05d}-of-{world:05d}.{tag[0]}.pt" for r in range(world)]
        manifest = {
            "format": _FORMAT,
            "world_size": world,
            "files": files,
            "tables": [_describe_config(c, sharded.dtype) for c in sharded.configs],
            "plan": sharded.plan.describe()["tables"],
        }
        atomic_write(os.path.join(directory, MANIFEST), lambda f: f.write(json.dumps(manifest, indent=1).encode()))
        for f in (old or {}).get("files", []):
            if f not in files and os.path.exists(os.path.join(directory, f)):
                os.unlink(os.path.join(directory, f))
    guarded("barrier (checkpoint manifest written)", lambda: dist.barrier(group=group))


def _read_manifest(directory: str) -> dict:
    with open(os.path.join(directory, MANIFEST)) as f:
        m = json.load(f)
    if m.get("format") != _FORMAT:
        raise ValueError(f"{directory}: checkpoint format {m.get('format')!r}, this version reads {_FORMAT}")
    return m


def load(sharded: ShardedEmbeddingBagCollection, directory: str) -> None:
    """Fills this rank's rows and optimizer state from a checkpoint written at any world size."""
    m = _read_manifest(directory)
    saved = {t["name"]: t for t in m["tables"]}
    for c in sharded.configs:
        s = saved.get(c.name)
        if s is None:
            raise ValueError(f"{directory}: the checkpoint has no table {c.name!r} (it has {sorted(saved)})")
        now = _describe_config(c, sharded.dtype)
        for key in ("num_embeddings", "embedding_dim", "dtype"):
            if s[key] != now[key]:
                raise ValueError(
                    f"{directory}: table {c.name!r} has {key}={s[key]!r} in the checkpoint, {now[key]!r} here"
                )
        if (s["optimizer"] or {}).get("type") != (now["optimizer"] or {}).get("type"):
            raise ValueError(
                f"{directory}: table {c.name!r} was saved with optimizer "
                f"{(s['optimizer'] or {}).get('type')}, this one uses {(now['optimizer'] or {}).get('type')}"
            )
    cache: Dict[int, dict] = {}

    def shard_file(r: int) -> dict:
        if r not in cache:
            cache[r] = torch.load(
                os.path.join(directory, m["files"][r]), map_location="cpu", mmap=True, weights_only=True
            )
        return cache[r]

    for tname, shard in sharded.embedding_bags.items():
        cfg = next(c for c in sharded.configs if c.name == tname)
        plan = m["plan"][tname]
        a, b = shard.row_start, shard.row_end
        extra_done = False
        with torch.no_grad():
            for i, r in enumerate(plan["ranks"]):
                s0, s1 = plan["row_starts"][i], plan["row_starts"][i + 1]
                lo, hi = max(a, s0), min(b, s1)
                if lo >= hi:
                    continue
                piece = shard_file(r)["tables"][tname]
                shard.weight[lo - a : hi - a].copy_(piece["weight"][lo - s0 : hi - s0])
                st = shard.optimizer_state
                if st is not None:
                    for bn, buf in st.state().items():
                        src = piece["state"][bn]
                        if _replicated(cfg, bn):
                            buf.copy_(src)
                        else:
                            buf[lo - a : hi - a].copy_(src[lo - s0 : hi - s0])
                    if not extra_done:
                        st.set_extra_state(piece["extra"])
                        extra_done = True
    cache.clear()
