"""A collection of embedding tables whose rows live on their owner ranks (torch.distributed).

Shapes: W ranks, F features, B bags per feature on this rank (the rank's local batch), D_t the dim
of table t. Each rank calls ``forward(values, offsets)`` with its own jagged batch, exactly as it
would call ``embedforge.nn.EmbeddingBagCollection``, and gets [B, sum of dims] for its own bags.

One step moves, with ``all_to_all_single`` on the collection's process group:
  forward   1. counts (ids per destination, B, flags)   2. bag lengths + ids (one int buffer)
            3. per-sample weights (given; inside 2 while ids fit 32 bits)   4. pooled rows / partial pools back
  backward  5. output gradients to the owners           6. per-sample-weight gradients back (if needed)
Owners pool with the native op and update their shard with its fused optimizer in the backward, in
one step over the bags of every rank (so each row's gradient is reduced once, as in one process).
Row-wise tables return partial pools: sums are added, max keeps the winning rank per element (its
gradient goes there only), mean is pooled as a sum and divided once by the global bag length.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence, Union

import torch
import torch.distributed as dist
from torch import Tensor

from .. import _huge_pages
from .._native import translate_errors
from ..nn.collection import EmbeddingBagCollection, EmbeddingBagConfig, jagged_offsets
from ..ops.fused_optim import BackwardTwiceError, Batch
from ..optim import FusedState, check_table
from .comm import check_same_on_all_ranks, default_timeout, guarded
from .plan import ShardingPlan, plan_tables

__all__ = ["TableConfig", "ShardedEmbeddingBagCollection"]

_ops = torch.ops.embedforge
_MODES = {"sum": 0, "mean": 0, "max": 2}  # mean is pooled as a sum by the owners, divided by the requester
_below_autograd = getattr(torch._C, "_AutoDispatchBelowAutograd", contextlib.nullcontext)


@dataclasses.dataclass
class TableConfig(EmbeddingBagConfig):
    """``EmbeddingBagConfig`` that also accepts ``pooling="max"`` (sharded collections pool max too)."""

    def __post_init__(self) -> None:
        pooling = self.pooling
        if pooling == "max":
            self.pooling = "sum"
        try:
            super().__post_init__()
        finally:
            self.pooling = pooling


class _TableShard(torch.nn.Module):
    """Rows ``row_start:row_end`` of one table, with their fused optimizer state."""

    def __init__(self, config, row_start: int, row_end: int, device, dtype, generator) -> None:
        super().__init__()
        self.row_start, self.row_end = row_start, row_end
        w = torch.empty((row_end - row_start, config.embedding_dim), device=device, dtype=dtype)
        _huge_pages.advise(w)
        with torch.no_grad():
            w.normal_(generator=generator)
            if config.padding_idx is not None and row_start <= config.padding_idx % config.num_embeddings < row_end:
                w[config.padding_idx % config.num_embeddings - row_start].zero_()
        self.weight = torch.nn.Parameter(w)
        self.optimizer_state = FusedState(config.optimizer, self.weight) if config.optimizer is not None else None


def _replicated(config, buffer: str) -> bool:
    """A state buffer every shard of the table holds whole (Adam's table step count), not split by rows."""
    return buffer == "step" and not getattr(config.optimizer, "per_row_step", True)


def _describe_config(c, dtype) -> dict:
    opt = None
    if c.optimizer is not None:
        opt = {
            "type": type(c.optimizer).__name__,
            **{k: list(v) if isinstance(v, tuple) else v for k, v in c.optimizer.hparams().items()},
        }
    return {
        "name": c.name,
        "num_embeddings": c.num_embeddings,
        "embedding_dim": c.embedding_dim,
        "feature_names": list(c.feature_names),
        "pooling": c.pooling,
        "padding_idx": c.padding_idx,
        "optimizer": opt,
        "dtype": str(dtype),
    }


class ShardedEmbeddingBagCollection(torch.nn.Module):
    """``EmbeddingBagCollection`` with each table's rows held by their owner ranks.

    Shapes: B bags per feature on this rank, N values, F features in ``feature_names`` order.
    ``forward(values [N], offsets [F*B+1])`` (or ``lengths [F*B]``) → [B, sum of dims] for this
    rank's bags, or ``{feature: [B, D]}`` with ``output="dict"``. Every rank of the group must call
    forward (and backward) the same number of times; batches may differ in size.

    Each rank's output gradient reaches the owners as it is (the tables see the sum of the ranks'
    losses); ``average_gradients=True`` divides it by W, so that beside DDP (which averages dense
    gradients) the whole model trains as one process would on the whole batch with a mean loss.
    ``poll_collectives`` (default) waits for the exchanges by polling with ``sched_yield`` rather
    than sleeping: faster wake-ups when ranks have cores of their own, a waste when they share one.

    >>> ebc = ShardedEmbeddingBagCollection([                                   # doctest: +SKIP
    ...     EmbeddingBagConfig("user", 1_000_000, 64, optimizer=embedforge.optim.RowWiseAdagrad(lr=0.05)),
    ...     EmbeddingBagConfig("item", 5000, 16, feature_names=["item", "last_item"], pooling="mean")])
    >>> print(ebc.plan)                                                          # doctest: +SKIP
    """

    def __init__(
        self,
        tables: Sequence[EmbeddingBagConfig],
        plan: Optional[Union[ShardingPlan, Mapping]] = None,
        process_group=None,
        output: str = "concat",
        device=None,
        dtype=None,
        timeout: Optional[float] = None,
        average_gradients: bool = False,
        poll_collectives: bool = True,
    ) -> None:
        super().__init__()
        self.poll_collectives = bool(poll_collectives)
        if not dist.is_initialized():
            raise RuntimeError(
                "torch.distributed is not initialised: call embedforge.distributed.init_process_group() "
                "(under torchrun) or run inside embedforge.distributed.spawn()"
            )
        if not tables:
            raise ValueError("a collection needs at least one table")
        if output not in ("concat", "dict"):
            raise ValueError(f"output must be 'concat' or 'dict', got {output!r}")
        names = [t.name for t in tables]
        if len(set(names)) != len(names):
            raise ValueError(f"table names must be unique, got {names}")
        for t in tables:
            if t.pooling not in ("sum", "mean", "max"):
                raise ValueError(f"table {t.name!r}: pooling must be 'sum', 'mean' or 'max', got {t.pooling!r}")
        dtype = dtype or torch.get_default_dtype()
        if device is not None and torch.device(device).type != "cpu":
            raise NotImplementedError(
                f"ShardedEmbeddingBagCollection on {device}: this version shards CPU tables over gloo only; "
                "CUDA shards with NCCL are not implemented yet (see docs/scaling.md)"
            )
        self.configs = list(tables)
        self.output = output
        self.average_gradients = bool(average_gradients)
        self.dtype = dtype
        if process_group is None:
            # A group of our own: DDP's and the user's collectives never interleave with ours.
            tmo = default_timeout() if timeout is None else float(timeout)
            import datetime

            process_group = dist.new_group(timeout=datetime.timedelta(seconds=tmo))
        self.process_group = process_group
        self.rank = dist.get_rank(process_group)
        self.world_size = dist.get_world_size(process_group)
        if isinstance(plan, ShardingPlan):
            if plan.world_size != self.world_size:
                raise ValueError(f"the plan is for {plan.world_size} ranks, the group has {self.world_size}")
            plan = {n: p for n, p in plan.items()}
        self.plan = plan_tables(self.configs, self.world_size, plan, dtype)

        self.feature_names: List[str] = []
        self._feature_table: List[int] = []
        for ti, t in enumerate(self.configs):
            for f in t.feature_names:
                if f in self.feature_names:
                    raise ValueError(f"feature {f!r} is served by two tables")
                self.feature_names.append(f)
                self._feature_table.append(ti)
        check_same_on_all_ranks(
            {
                "world_size": self.world_size,
                "tables": [_describe_config(c, dtype) for c in self.configs],
                "plan": self.plan.describe()["tables"],
                "output": output,
                "average_gradients": self.average_gradients,
            },
            process_group,
            "sharded collection's configuration",
        )

        # Which features each rank serves, in feature order (row-wise tables: every rank).
        W = self.world_size
        self._served: List[List[int]] = [[] for _ in range(W)]
        for f, t in enumerate(self._feature_table):
            for r in self.plan[self.configs[t].name].ranks:
                self._served[r].append(f)
        self._dims = [c.embedding_dim for c in self.configs]
        self._width = [sum(self._dims[self._feature_table[f]] for f in self._served[r]) for r in range(W)]
        self._col = []
        c = 0
        for f in range(len(self.feature_names)):
            self._col.append(c)
            c += self._dims[self._feature_table[f]]
        self._total_dim = c
        max_rows = max(cf.num_embeddings for cf in self.configs)
        self._wire = torch.int32 if max_rows < 2**31 - 1 else torch.int64
        T = len(self.configs)
        self._rows = torch.tensor([cf.num_embeddings for cf in self.configs], dtype=torch.int64)
        self._pad = torch.tensor(
            [-1 if cf.padding_idx is None else cf.padding_idx % cf.num_embeddings for cf in self.configs],
            dtype=torch.int64,
        )
        self._owner = torch.tensor(
            [self.plan[cf.name].ranks[0] if self.plan[cf.name].kind == "table" else -1 for cf in self.configs],
            dtype=torch.int64,
        )
        self._row_wise = [t for t in range(T) if self.plan[self.configs[t].name].kind == "row"]
        self._starts = {
            t: torch.tensor(self.plan[self.configs[t].name].row_starts, dtype=torch.int64) for t in self._row_wise
        }
        self._ftab = torch.tensor(self._feature_table, dtype=torch.int64)

        gen = torch.Generator(device="cpu")
        shards = {}
        for ti, cf in enumerate(self.configs):
            p = self.plan[cf.name]
            if self.rank in p.ranks:
                a, b = p.rows_of(self.rank)
                gen.manual_seed((torch.initial_seed() * 1000003 + ti * 7919 + a) % (2**63))
                shards[cf.name] = _TableShard(cf, a, b, device, dtype, gen)
        self.embedding_bags = torch.nn.ModuleDict(shards)
        # Tables this rank serves, in table order, with their served-feature positions.
        my = self._served[self.rank]
        self._my_tables = [t for t in range(T) if self.configs[t].name in shards]
        self._my_feats = {t: [i for i, f in enumerate(my) if self._feature_table[f] == t] for t in self._my_tables}
        # What the last forward / backward handed to all_to_all_single for other ranks, and the time
        # spent in those collectives (waiting for the slowest rank included).
        self.last_step_bytes = {"forward": 0, "backward": 0}
        self.last_step_exchange_ms = {"forward": 0.0, "backward": 0.0}

    # ---- construction from / export to one process -------------------------------------------
    @classmethod
    def from_unsharded(
        cls,
        ebc: EmbeddingBagCollection,
        plan=None,
        process_group=None,
        timeout: Optional[float] = None,
        average_gradients: bool = False,
    ) -> "ShardedEmbeddingBagCollection":
        """Shards a single-process collection (same configs, weights and optimizer state); every rank
        passes the same ``ebc``."""
        dtype = next(iter(ebc.embedding_bags.values())).weight.dtype
        out = cls(
            ebc.configs,
            plan,
            process_group,
            output=ebc.output,
            dtype=dtype,
            timeout=timeout,
            average_gradients=average_gradients,
        )
        out.load_unsharded_state_dict(ebc.state_dict())
        return out

    def load_unsharded_state_dict(self, state_dict: Mapping[str, Tensor]) -> None:
        """Takes this rank's rows (and optimizer state) from a single-process collection's state dict."""
        for name, shard in self.embedding_bags.items():
            key = f"embedding_bags.{name}."
            w = state_dict[key + "weight"]
            if w.shape[0] != self.plan[name].row_starts[-1] or w.shape[1] != shard.weight.shape[1]:
                raise ValueError(
                    f"{key}weight has shape {tuple(w.shape)}, the table is "
                    f"({self.plan[name].row_starts[-1]}, {shard.weight.shape[1]})"
                )
            cf = self.configs[[c.name for c in self.configs].index(name)]
            with torch.no_grad():
                shard.weight.copy_(w[shard.row_start : shard.row_end])
                if shard.optimizer_state is not None:
                    for bn, buf in shard.optimizer_state.state().items():
                        src = state_dict[key + "optimizer_state." + bn]
                        buf.copy_(src if _replicated(cf, bn) else src[shard.row_start : shard.row_end])
                    extra = state_dict.get(key + "optimizer_state._extra_state")
                    if extra is not None:
                        shard.optimizer_state.set_extra_state(extra)

    def unsharded_state_dict(self) -> "OrderedDict[str, Tensor]":
        """On every rank, the state dict the single-process collection would have (same keys,
        weights and optimizer state). Materialises every table whole: for tests, export, conversion."""
        out: "OrderedDict[str, object]" = OrderedDict()
        group = self.process_group
        for cf in self.configs:
            p = self.plan[cf.name]
            key = f"embedding_bags.{cf.name}."
            pieces_w, pieces_s, extra = [], [], None
            for i, r in enumerate(p.ranks):
                a, b = p.row_starts[i], p.row_starts[i + 1]
                if r == self.rank:
                    shard = self.embedding_bags[cf.name]
                    w = shard.weight.detach().clone()
                    st = (
                        {k: v.clone() for k, v in shard.optimizer_state.state().items()}
                        if shard.optimizer_state is not None
                        else {}
                    )
                else:
                    w = torch.empty((b - a, cf.embedding_dim), dtype=self.dtype)
                    st = cf.optimizer.init_state(w) if cf.optimizer is not None else {}
                for name_, t in [("weight", w)] + sorted(st.items()):
                    guarded(
                        f"broadcast ({cf.name} {name_})",
                        lambda t=t: dist.broadcast(t, dist.get_global_rank(group, r), group=group),
                    )
                pieces_w.append(w)
                pieces_s.append(st)
                if i == 0:
                    obj = [
                        self.embedding_bags[cf.name].optimizer_state.get_extra_state()
                        if r == self.rank and cf.optimizer is not None
                        else None
                    ]
                    if cf.optimizer is not None:
                        guarded(
                            f"broadcast_object_list ({cf.name} optimizer)",
                            lambda: dist.broadcast_object_list(obj, dist.get_global_rank(group, r), group=group),
                        )
                        extra = obj[0]
            out[key + "weight"] = torch.cat(pieces_w) if len(pieces_w) > 1 else pieces_w[0]
            for bn in pieces_s[0]:
                parts = [s[bn] for s in pieces_s]
                out[key + "optimizer_state." + bn] = (
                    parts[0] if _replicated(cf, bn) or len(parts) == 1 else torch.cat(parts)
                )
            if cf.optimizer is not None:
                out[key + "optimizer_state._extra_state"] = extra
        return out

    def save(self, directory: str) -> None:
        """Per-rank shard files plus a manifest (see ``embedforge.distributed.checkpoint``)."""
        from .checkpoint import save

        save(self, directory)

    def load(self, directory: str) -> None:
        """Loads a checkpoint written by ``save`` at any world size (rows re-sharded to this plan)."""
        from .checkpoint import load

        load(self, directory)

    # ---- the lookup -----------------------------------------------------------------------
    def forward(
        self,
        values: Tensor,
        offsets: Optional[Tensor] = None,
        lengths: Optional[Tensor] = None,
        per_sample_weights: Optional[Tensor] = None,
    ) -> Union[Tensor, Dict[str, Tensor]]:
        """Pools every feature's bags of this rank: → [B, sum of dims], or a dict feature → [B, D]."""
        F = len(self.feature_names)
        if (offsets is None) == (lengths is None):  # before the dtype checks, as in the collection
            raise ValueError("give exactly one of offsets (F*B+1 entries) or lengths (F*B entries)")
        if values.dtype not in (torch.int32, torch.int64):
            raise TypeError(f"values must be int32 or int64, got {values.dtype}")
        if values.device.type != "cpu":
            raise NotImplementedError(
                f"sharded lookups of {values.device} ids: CUDA tensors with NCCL are not "
                "implemented yet (the tables and the exchange are on the CPU, over gloo)"
            )
        offsets = jagged_offsets(F, offsets, lengths, torch.int64)
        if per_sample_weights is not None:
            if per_sample_weights.shape != values.shape:
                raise ValueError(
                    f"per_sample_weights must have the shape of values {tuple(values.shape)}, "
                    f"got {tuple(per_sample_weights.shape)}"
                )
            for t in set(self._feature_table):
                if self.configs[t].pooling == "max":
                    raise ValueError(
                        f"per_sample_weights are only supported for sum and mean pooling, table "
                        f"{self.configs[t].name!r} pools max"
                    )
        grad = torch.is_grad_enabled()
        weights = [self.embedding_bags[self.configs[t].name].weight for t in self._my_tables]
        if grad:
            for t in self._my_tables:
                shard = self.embedding_bags[self.configs[t].name]
                if shard.optimizer_state is not None:
                    check_table(shard.weight, shard)
        # An input that always requires grad: every rank runs the backward (a collective).
        anchor = torch.empty(0, requires_grad=grad)
        out = _ShardedLookup.apply(self, values, offsets.long(), per_sample_weights, anchor, *weights)
        if self.output == "concat":
            return out
        return {
            f: out[:, self._col[i] : self._col[i] + self._dims[self._feature_table[i]]]
            for i, f in enumerate(self.feature_names)
        }

    # pieces of the forward, used by _ShardedLookup
    def _route(self, values: Tensor, offsets: Tensor, psw: Optional[Tensor]):
        """Checks ids and sorts them by destination; returns what the exchange and the backward need.

        Values arrive grouped by feature, so every per-table fact (rows, padding, owner, row ranges)
        is applied to a feature's contiguous segment: no per-value table lookups."""
        F, W = len(self.feature_names), self.world_size
        B = (offsets.numel() - 1) // F
        start, end = int(offsets[0]), int(offsets[-1])
        if end > values.numel() or start < 0:
            raise ValueError(f"offsets end at {end} but values has {values.numel()} entries")
        vals = values[start:end].long()
        lens = offsets[1:] - offsets[:-1]
        if B and bool((lens < 0).any()):
            raise ValueError("offsets must be non-decreasing")
        fb = (offsets[::B] - start).tolist() if B else [0] * (F + 1)
        n = vals.numel()
        dest = torch.empty(n, dtype=torch.int64)
        local = torch.empty(n, dtype=torch.int64)
        keep = None
        for f in range(F):
            a, b = fb[f], fb[f + 1]
            if a == b:
                continue
            t = self._feature_table[f]
            cf = self.configs[t]
            seg = vals[a:b]
            lo, hi = torch.aminmax(seg)
            if int(lo) < 0 or int(hi) >= cf.num_embeddings:
                j = int(((seg < 0) | (seg >= cf.num_embeddings)).nonzero()[0]) + a
                raise IndexError(
                    f"values[{start + j}]={int(vals[j])} (feature {self.feature_names[f]!r}) is out of "
                    f"range for table {cf.name!r} of {cf.num_embeddings} rows"
                )
            if cf.padding_idx is not None:
                if keep is None:
                    keep = torch.ones(n, dtype=torch.bool)
                keep[a:b] = seg != int(self._pad[t])
            if t in self._starts:  # row-wise: rank r holds rows [r*V//W, (r+1)*V//W)
                V = cf.num_embeddings
                d = torch.div((seg + 1) * W - 1, V, rounding_mode="floor")
                dest[a:b] = d
                torch.sub(seg, torch.div(d * V, W, rounding_mode="floor"), out=local[a:b])
            else:
                dest[a:b] = int(self._owner[t])
                local[a:b] = seg
        bag = torch.repeat_interleave(torch.arange(F * B), lens) if n else torch.empty(0, dtype=torch.int64)
        pos = None
        if keep is not None:
            pos = keep.nonzero().squeeze(1)
            dest, local, bag = dest[pos], local[pos], bag[pos]
        key = dest.to(torch.int16) if W < 2**15 else dest
        order = torch.sort(key, stable=True).indices
        # ids per (destination, feature, bag); scatter_add needs no pass for the maximum (bincount does)
        per_bag = torch.zeros(W * F * B, dtype=torch.int64)
        per_bag.scatter_add_(0, dest * (F * B) + bag, torch.ones(1, dtype=torch.int64).expand(dest.numel()))
        per_bag = per_bag.view(W, F, B)
        counts = per_bag.sum((1, 2))
        sent_pos = order if pos is None else pos[order]
        return dict(
            B=B,
            start=start,
            pos=sent_pos,
            local=local[order],
            counts=counts,
            per_bag=per_bag,
            psw=None if psw is None else psw[start:end][sent_pos],
        )

    def _a2a(self, op: str, send: Tensor, send_splits: List[int], recv_splits: List[int], dtype=None) -> Tensor:
        recv = torch.empty(sum(recv_splits), dtype=dtype or send.dtype)
        me = self.rank
        self._bytes += (sum(send_splits) - send_splits[me]) * send.element_size()

        def run():
            work = dist.all_to_all_single(
                recv, send.contiguous(), recv_splits, send_splits, group=self.process_group, async_op=True
            )
            if self.poll_collectives:
                # Waiting by polling (yielding the core to gloo's threads) instead of sleeping on the
                # work: on this 2-vCPU VM a sleeping waiter is woken 1-1.5 ms late after a busy
                # stretch, a polling one ~0.5 ms. A failed or timed-out work completes too.
                while not work.is_completed():
                    os.sched_yield()
            work.wait()

        t0 = time.perf_counter()
        guarded(op, run)
        self._exchange_s += time.perf_counter() - t0
        return recv


class _ShardedLookup(torch.autograd.Function):
    @staticmethod
    def forward(ctx, mod: ShardedEmbeddingBagCollection, values, offsets, psw, anchor, *weights):
        W, F, me = mod.world_size, len(mod.feature_names), mod.rank
        mod._bytes, mod._exchange_s = 0, 0.0
        R = mod._route(values, offsets, psw)
        B = R["B"]
        # 1. counts: ids per destination, batch size, flags
        flags = int(psw is not None) | (int(psw is not None and ctx.needs_input_grad[3]) << 1)
        head = torch.stack([R["counts"], torch.full((W,), B), torch.full((W,), flags)], 1).reshape(-1)
        got = mod._a2a("all_to_all_single (counts)", head, [3] * W, [3] * W).view(W, 3)
        n_in, b_in, f_in = got[:, 0].tolist(), got[:, 1].tolist(), got[:, 2].tolist()
        if any(f != flags for f in f_in):
            bad = next(r for r, f in enumerate(f_in) if f != flags)
            raise ValueError(
                f"per_sample_weights given (or requiring grad) on some ranks only: rank {me} "
                f"flags {flags}, rank {bad} flags {f_in[bad]} (1: weights given, 2: they need a gradient)"
            )
        # 2. bag lengths and ids, one integer buffer per destination
        served = mod._served
        pieces, send_splits = [], []
        counts = R["counts"].tolist()
        ids_by_dest = R["local"].split(counts)
        # With 32-bit ids the per-sample weights ride in the same buffer (their float32 bits).
        packed = psw is not None and mod._wire == torch.int32
        psw_by_dest = R["psw"].float().split(counts) if packed else None
        for r in range(W):
            lens_r = R["per_bag"][r, served[r], :].reshape(-1) if served[r] else R["per_bag"].new_empty(0)
            pieces += [lens_r.to(mod._wire), ids_by_dest[r].to(mod._wire)]
            if packed:
                pieces.append(psw_by_dest[r].view(torch.int32))
            send_splits.append(lens_r.numel() + counts[r] * (2 if packed else 1))
        send = torch.cat(pieces) if pieces else torch.empty(0, dtype=mod._wire)
        Fm = len(served[me])
        recv_splits = [Fm * b_in[s] + n_in[s] * (2 if packed else 1) for s in range(W)]
        recv = mod._a2a("all_to_all_single (ids)", send, send_splits, recv_splits)
        pchunks = None
        if packed:
            chunks, pchunks = [], []
            for s, ch in enumerate(recv.split(recv_splits)):
                chunks.append(ch[: Fm * b_in[s] + n_in[s]])
                pchunks.append(ch[Fm * b_in[s] + n_in[s] :].view(torch.float32))
        else:
            if psw is not None:
                rpsw = mod._a2a("all_to_all_single (per-sample weights)", R["psw"].float(), counts, n_in)
                pchunks = rpsw.split(n_in)
            chunks = recv.split(recv_splits)
        # The owner's batches: per table, bags ordered (source rank, feature, bag).
        tb = {t: {"ids": [], "lens": [], "psw": [], "src": []} for t in mod._my_tables}
        id_pieces = []  # per source: per served feature, the ids (for the psw gradient's way back)
        for s in range(W):
            lens = chunks[s][: Fm * b_in[s]].view(Fm, b_in[s])
            ids = chunks[s][Fm * b_in[s] :]
            tot = lens.sum(1).tolist() if Fm else []
            by_feat = ids.split(tot) if Fm else []
            ps_feat = pchunks[s].split(tot) if pchunks is not None and Fm else None
            id_pieces.append(tot)
            for t in mod._my_tables:
                for i in mod._my_feats[t]:
                    tb[t]["ids"].append(by_feat[i])
                    tb[t]["lens"].append(lens[i])
                    if ps_feat is not None:
                        tb[t]["psw"].append(ps_feat[i])
        batches, pooled = {}, {}
        weights_of = dict(zip(mod._my_tables, weights))
        for t in mod._my_tables:
            cf = mod.configs[t]
            ids = torch.cat(tb[t]["ids"]) if tb[t]["ids"] else torch.empty(0, dtype=mod._wire)
            lens = torch.cat(tb[t]["lens"]).to(mod._wire)
            offs = torch.zeros(lens.numel() + 1, dtype=mod._wire)
            torch.cumsum(lens, 0, out=offs[1:])
            offs = offs[:-1]
            p = torch.cat(tb[t]["psw"]) if tb[t]["psw"] else None
            mode = _MODES[cf.pooling]
            with translate_errors(), _below_autograd(), torch.no_grad():
                out_t, max_rows = _ops.embedding_bag(weights_of[t].detach(), ids, offs, mode, p, -1, False, False)
            batches[t] = Batch(ids, offs, mode, p, max_rows, -1, False)
            pooled[t] = out_t
        # 4. pooled rows back to the requesting ranks
        back, back_splits = [], []
        row0 = {t: 0 for t in mod._my_tables}
        for s in range(W):
            part = []
            for f in served[me]:
                t = mod._feature_table[f]
                part.append(pooled[t][row0[t] : row0[t] + b_in[s]].reshape(-1))
                row0[t] += b_in[s]
            back += part
            back_splits.append(b_in[s] * mod._width[me])
        out_dtype = mod.dtype
        if len(served[me]) == 1:  # one feature: the pooled rows are already in send order
            send_back = pooled[mod._feature_table[served[me][0]]].reshape(-1).to(out_dtype)
        else:
            send_back = torch.cat(back).to(out_dtype) if back else torch.empty(0, dtype=out_dtype)
        res_splits = [B * mod._width[r] for r in range(W)]
        res = mod._a2a("all_to_all_single (pooled rows)", send_back, back_splits, res_splits)
        # Assemble [B, sum of dims]: table-wise features from their owner, row-wise ones combined.
        out = torch.empty((B, mod._total_dim), dtype=out_dtype) if F > 1 else None
        per_bag = R["per_bag"]
        counts_fb = per_bag.sum(0)  # [F, B] non-padding ids per bag
        pieces_by_f: Dict[int, List] = {f: [] for f in range(F)}
        for r, ch in enumerate(res.split(res_splits)):
            c = 0
            for f in served[r]:
                D = mod._dims[mod._feature_table[f]]
                pieces_by_f[f].append((r, ch[c : c + B * D].view(B, D)))
                c += B * D
        winners = {}
        for f in range(F):
            t = mod._feature_table[f]
            cf = mod.configs[t]
            D = mod._dims[t]
            cols = slice(mod._col[f], mod._col[f] + D)
            ps = pieces_by_f[f]
            if cf.pooling == "max" and len(ps) > 1:
                stack = torch.stack([v for _, v in ps])  # [W, B, D]
                empty = (per_bag[:, f, :] == 0)[:, :, None]
                stack = stack.masked_fill(empty, float("-inf"))
                v, win = stack.max(0)
                acc = torch.where(counts_fb[f][:, None] > 0, v, torch.zeros((), dtype=v.dtype))
                winners[f] = win
            else:
                acc = ps[0][1]
                for _, v in ps[1:]:
                    acc = acc + v
                if cf.pooling == "mean":
                    acc = acc / counts_fb[f].clamp(min=1).to(acc.dtype)[:, None]
            if out is None:
                out = acc if len(ps) > 1 or cf.pooling == "mean" else acc.clone()  # never a view of res
            else:
                out[:, cols] = acc
        ctx.mod, ctx.R, ctx.batches, ctx.weights = mod, R, batches, weights
        ctx.b_in, ctx.n_in, ctx.winners, ctx.counts_fb = b_in, n_in, winners, counts_fb
        ctx.id_pieces, ctx.flags, ctx.res_splits, ctx.back_splits = id_pieces, flags, res_splits, back_splits
        ctx.values_shape, ctx.psw_dtype = values.shape, None if psw is None else psw.dtype
        ctx.done = False
        mod.last_step_bytes["forward"] = mod._bytes
        mod.last_step_exchange_ms["forward"] = mod._exchange_s * 1e3
        return out

    @staticmethod
    def backward(ctx, grad_out):
        if ctx.done:
            raise BackwardTwiceError("backward ran twice through a sharded lookup")
        mod, R = ctx.mod, ctx.R
        W, me = mod.world_size, mod.rank
        mod._bytes, mod._exchange_s = 0, 0.0
        grad_out = grad_out.contiguous()
        if mod.average_gradients:  # each rank's loss counts 1/W, as DDP averages the dense gradients
            grad_out = grad_out / W
        # 5. output gradients to the owners, per rank in its served-feature order
        send = []
        for r in range(W):
            for f in mod._served[r]:
                t = mod._feature_table[f]
                cf = mod.configs[t]
                g = grad_out[:, mod._col[f] : mod._col[f] + mod._dims[t]]
                if cf.pooling == "mean":
                    g = g / ctx.counts_fb[f].clamp(min=1).to(g.dtype)[:, None]
                elif f in ctx.winners:
                    g = g * (ctx.winners[f] == r).to(g.dtype)
                send.append(g.reshape(-1))
        send_t = torch.cat(send) if send else torch.empty(0, dtype=grad_out.dtype)
        recv = mod._a2a("all_to_all_single (output gradients)", send_t, ctx.res_splits, ctx.back_splits)
        # Per table: gradient rows in the forward's bag order (source rank, feature, bag).
        served_me = mod._served[me]
        gparts = {t: [] for t in mod._my_tables}
        for s, ch in enumerate(recv.split(ctx.back_splits)):
            c = 0
            for f in served_me:
                t = mod._feature_table[f]
                D = mod._dims[t]
                gparts[t].append(ch[c : c + ctx.b_in[s] * D].view(ctx.b_in[s], D))
                c += ctx.b_in[s] * D
        need_psw = bool(ctx.flags & 2)
        gpsw_t = {}
        grads = []
        gts = {}
        for t, w in zip(mod._my_tables, ctx.weights):
            if len(served_me) == 1:  # one feature: the received rows are the table's batch as they are
                gts[t] = recv.view(-1, mod._dims[t]).to(w.dtype)
            else:
                gts[t] = (
                    torch.cat(gparts[t]).to(w.dtype).contiguous()
                    if gparts[t]
                    else torch.empty((0, mod._dims[t]), dtype=w.dtype)
                )
            if need_psw:  # before any update: it needs the rows the forward used
                b = ctx.batches[t]
                with translate_errors():
                    gpsw_t[t] = _ops.embedding_bag_backward_psw(
                        gts[t], w.detach(), b.indices, b.offsets, b.mode, -1, False
                    )
        for t, w in zip(mod._my_tables, ctx.weights):
            shard = mod.embedding_bags[mod.configs[t].name]
            b = ctx.batches[t]
            if shard.optimizer_state is not None:
                shard.optimizer_state.update(w, gts[t], b)
                grads.append(None)
            else:
                with translate_errors():
                    grads.append(
                        _ops.embedding_bag_backward_dense(
                            gts[t],
                            b.indices,
                            b.offsets,
                            w.shape[0],
                            b.mode,
                            b.per_sample_weights,
                            b.max_rows,
                            -1,
                            False,
                        )
                    )
        grad_psw = None
        if need_psw:
            # 6. per-id gradients back in the order the ids came (source, served feature)
            pos_t = {t: 0 for t in mod._my_tables}
            back = []
            for s in range(W):
                for i, f in enumerate(served_me):
                    t = mod._feature_table[f]
                    n = ctx.id_pieces[s][i]
                    back.append(gpsw_t[t][pos_t[t] : pos_t[t] + n])
                    pos_t[t] += n
            send_p = torch.cat(back) if back else torch.empty(0)
            got = mod._a2a(
                "all_to_all_single (per-sample-weight gradients)", send_p.float(), ctx.n_in, R["counts"].tolist()
            )
            grad_psw = torch.zeros(ctx.values_shape, dtype=torch.float32)
            grad_psw[R["start"] + R["pos"]] = got
            grad_psw = grad_psw.to(ctx.psw_dtype)
        ctx.done = True
        mod.last_step_bytes["backward"] = mod._bytes
        mod.last_step_exchange_ms["backward"] = mod._exchange_s * 1e3
        ctx.batches = ctx.weights = ctx.R = None
        return (None, None, None, grad_psw, None, *grads)
