"""Many tables looked up from one jagged batch in one native call, with per-table backward.

Shapes: F features, B bags per feature, N values; table t is [V_t, D_t]. ``offsets`` has F*B+1
entries: bag i of feature f is ``values[offsets[f*B+i] : offsets[f*B+i+1]]``. The output is
[B, sum over features of D_table(f)], features side by side.
"""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence

import torch

from .._native import translate_errors
from ._fake_checks import check_same_device
from .fused_optim import BackwardTwiceError, Batch

__all__ = ["embedding_bag_collection"]

_ops = torch.ops.embedforge
Update = Optional[Callable[[torch.Tensor, torch.Tensor, Batch], None]]


@torch.library.register_fake("embedforge::embedding_bag_collection")
def _collection_fake(
    weights, values, offsets, feature_table, feature_pool, feature_padding_idx, per_sample_weights, batch_size
):
    args = (weights, values, offsets, feature_table, feature_pool, feature_padding_idx, per_sample_weights)
    check_same_device("embedding_bag_collection", args)
    torch._check(len(weights) > 0, lambda: "weights must hold at least one table")
    for f, t in enumerate(feature_table):
        torch._check(0 <= t < len(weights), lambda: f"feature_table[{f}]={t} is out of range for {len(weights)} tables")
    torch._check(batch_size >= 0, lambda: f"batch_size={batch_size} must be >= 0")
    width = sum(weights[t].shape[1] for t in feature_table)
    return weights[0].new_empty((batch_size, width))


def _table_batch(t, spec, values, offsets, psw, grad_out):
    """The features of table t as one batch of the single-table ops: their bags stacked."""
    feats, B = spec["features_of"][t], spec["batch"]
    ids, offs, gs, ps = [], [], [], []
    base = 0
    for f in feats:
        s, e = int(offsets[f * B]), int(offsets[(f + 1) * B])
        ids.append(values[s:e])
        offs.append(offsets[f * B : (f + 1) * B] - s + base)
        c0 = spec["col"][f]
        gs.append(grad_out[:, c0 : c0 + spec["dims"][t]])
        if psw is not None:
            ps.append(psw[s:e])
        base += e - s
    cat = (lambda xs: xs[0]) if len(feats) == 1 else torch.cat
    return cat(ids), cat(offs), cat(gs).contiguous(), (cat(ps) if psw is not None else None)


class _CollectionLookup(torch.autograd.Function):
    @staticmethod
    def forward(ctx, spec, values, offsets, per_sample_weights, *weights):
        with translate_errors():
            out = _ops.embedding_bag_collection(
                list(weights),
                values,
                offsets,
                spec["feature_table"],
                spec["feature_pool"],
                spec["feature_pad"],
                per_sample_weights,
                spec["batch"],
            )
        ctx.spec, ctx.weights = spec, weights
        ctx.values, ctx.offsets, ctx.psw = values, offsets, per_sample_weights
        ctx.done = False
        return out

    @staticmethod
    def backward(ctx, grad_out):
        if ctx.done:
            raise BackwardTwiceError("backward ran twice through a collection lookup whose tables update themselves")
        spec, grad_out = ctx.spec, grad_out.contiguous()
        grads: List[Optional[torch.Tensor]] = [None] * len(ctx.weights)
        grad_psw = (
            torch.zeros_like(ctx.psw, dtype=torch.float32)
            if (ctx.psw is not None and ctx.needs_input_grad[3])
            else None
        )
        batches = []
        for t, w in enumerate(ctx.weights):
            if not spec["features_of"][t]:
                batches.append(None)
                continue
            ids, offs, g, ps = _table_batch(t, spec, ctx.values, ctx.offsets, ctx.psw, grad_out)
            b = Batch(ids, offs, spec["pool"][t], ps, torch.empty(0, 0, dtype=torch.int64), spec["pad"][t], False)
            batches.append((b, g))
            if grad_psw is not None:  # before any update: it needs the rows the forward used
                with translate_errors():
                    gp = _ops.embedding_bag_backward_psw(g, w, ids, offs, b.mode, b.padding_idx, False)
                pos = 0
                for f in spec["features_of"][t]:
                    s, e = int(ctx.offsets[f * spec["batch"]]), int(ctx.offsets[(f + 1) * spec["batch"]])
                    grad_psw[s:e] = gp[pos : pos + e - s]
                    pos += e - s
        for t, w in enumerate(ctx.weights):
            if batches[t] is None:
                continue
            b, g = batches[t]
            update = spec["updates"][t]
            if update is not None:
                update(w, g, b)
            elif ctx.needs_input_grad[4 + t]:
                with translate_errors():
                    grads[t] = _ops.embedding_bag_backward_dense(
                        g,
                        b.indices,
                        b.offsets,
                        w.shape[0],
                        b.mode,
                        b.per_sample_weights,
                        b.max_rows,
                        b.padding_idx,
                        False,
                    )
        ctx.done = True
        if grad_psw is not None:
            grad_psw = grad_psw.to(ctx.psw.dtype)
        return (None, None, None, grad_psw, *grads)


def embedding_bag_collection(
    weights: Sequence[torch.Tensor],
    values: torch.Tensor,
    offsets: torch.Tensor,
    feature_table: Sequence[int],
    pooling: Sequence[str],
    padding_idx: Sequence[Optional[int]],
    batch_size: int,
    per_sample_weights: Optional[torch.Tensor] = None,
    updates: Optional[Sequence[Update]] = None,
) -> torch.Tensor:
    """Pools F features × B bags of ids from their tables in one native call → [B, sum of dims].

    ``pooling[t]`` ("sum" or "mean") and ``padding_idx[t]`` belong to table t, used by every feature
    on it. ``updates[t]``, when given, makes table t update itself in backward (a fused optimizer
    step, as ``embedding_bag_with_update``) instead of receiving a gradient.
    """
    modes = {"sum": 0, "mean": 1}
    T = len(weights)
    if not (len(pooling) == len(padding_idx) == T):
        raise ValueError("pooling and padding_idx need one entry per table")
    for t, p in enumerate(pooling):
        if p not in modes:
            raise ValueError(f"pooling[{t}]={p!r}: a collection pools with 'sum' or 'mean'")
    if values.dtype != offsets.dtype:
        values, offsets = values.long(), offsets.long()
    features_of: List[List[int]] = [[] for _ in range(T)]
    for f, t in enumerate(feature_table):
        if not 0 <= t < T:
            raise ValueError(f"feature_table[{f}]={t} is not a table index ({T} tables)")
        features_of[t].append(f)
    col, c = [], 0
    for t in feature_table:
        col.append(c)
        c += weights[t].shape[1]
    pads = [-1 if p is None else int(p) for p in padding_idx]
    spec = dict(
        feature_table=[int(t) for t in feature_table],
        feature_pool=[modes[pooling[t]] for t in feature_table],
        feature_pad=[pads[t] for t in feature_table],
        pool=[modes[p] for p in pooling],
        pad=pads,
        batch=int(batch_size),
        features_of=features_of,
        col=col,
        dims=[w.shape[1] for w in weights],
        updates=list(updates) if updates is not None else [None] * T,
    )
    return _CollectionLookup.apply(spec, values, offsets, per_sample_weights, *weights)
