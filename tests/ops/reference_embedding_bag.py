"""A slow, obviously-correct float64 embedding bag in pure torch: the reference for the op tests."""

from __future__ import annotations

import torch


def bags_of(indices, offsets, include_last_offset):
    """List of (start, end) per bag."""
    if offsets is None:
        B, L = indices.shape
        return [(b * L, (b + 1) * L) for b in range(B)]
    off = offsets.tolist()
    n = indices.numel()
    if include_last_offset:
        return [(off[b], off[b + 1]) for b in range(len(off) - 1)]
    return [(off[b], off[b + 1] if b + 1 < len(off) else n) for b in range(len(off))]


def embedding_bag_ref(
    weight, indices, offsets=None, mode="sum", per_sample_weights=None, padding_idx=None, include_last_offset=False
):
    """Float64 pooled lookup with autograd through plain indexing (differentiable in weight and psw)."""
    flat = indices.reshape(-1)
    psw = None if per_sample_weights is None else per_sample_weights.reshape(-1)
    rows = []
    for s, e in bags_of(indices, offsets, include_last_offset):
        ids = [j for j in range(s, e) if padding_idx is None or int(flat[j]) != padding_idx]
        if not ids:
            rows.append(weight.new_zeros(weight.shape[1]))
            continue
        sel = weight[flat[ids]]
        if mode == "max":
            rows.append(sel.max(dim=0).values)
            continue
        if psw is not None:
            sel = sel * psw[ids].unsqueeze(1)
        pooled = sel.sum(dim=0)
        rows.append(pooled / len(ids) if mode == "mean" else pooled)
    if not rows:
        return weight.new_zeros((0, weight.shape[1]))
    return torch.stack(rows)
