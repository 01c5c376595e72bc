"""The fused embedding-bag operator: wrapper, fake kernels and autograd.

Shapes: V table rows, D embedding dim, N ids, B bags, L ids per bag (fixed-length input).
"""

from __future__ import annotations

import contextlib
from typing import Optional

import torch
import torch.autograd.forward_ad as _fwad

from .._native import translate_errors, translated_error
from ._fake_checks import check_same_device

__all__ = ["embedding_bag", "embedding", "MODES"]

MODES = {"sum": 0, "mean": 1, "max": 2}
_ops = torch.ops.embedforge
_TABLE_DTYPES = (torch.float32, torch.bfloat16, torch.float16)
# float64 tables (gradcheck, float64 references) run on torch's own kernels: same semantics
# (padding skipped and not counted), no native speed; checks as the native path's.
_FALLBACK_DTYPES = (torch.float64,)
_ID_DTYPES = (torch.int32, torch.int64)


def _num_bags(indices: torch.Tensor, offsets: Optional[torch.Tensor], include_last_offset: bool) -> int:
    if offsets is None:
        return indices.shape[0]
    return offsets.shape[0] - 1 if include_last_offset else offsets.shape[0]


# ---- fake (meta) kernels ---------------------------------------------------------------------
@torch.library.register_fake("embedforge::embedding_bag")
def _embedding_bag_fake(weight, indices, offsets, mode, per_sample_weights, padding_idx, include_last_offset, sparse):
    check_same_device("embedding_bag", (weight, indices, offsets, mode, per_sample_weights))
    torch._check(weight.dim() == 2, lambda: "weight must be 2-D")
    B = _num_bags(indices, offsets, include_last_offset)
    D = weight.shape[1]
    out = weight.new_empty((B, D))
    max_rows = weight.new_empty((B, D) if mode == 2 else (0, 0), dtype=torch.int64)
    return out, max_rows


@torch.library.register_fake("embedforge::embedding_bag_backward_dense")
def _backward_dense_fake(
    grad, indices, offsets, num_rows, mode, per_sample_weights, max_rows, padding_idx, include_last_offset
):
    check_same_device(
        "embedding_bag_backward_dense", (grad, indices, offsets, num_rows, mode, per_sample_weights, max_rows)
    )
    return grad.new_empty((num_rows, grad.shape[1]))


@torch.library.register_fake("embedforge::embedding_bag_backward_rows")
def _backward_rows_fake(
    grad, indices, offsets, num_rows, mode, per_sample_weights, max_rows, padding_idx, include_last_offset
):
    check_same_device(
        "embedding_bag_backward_rows", (grad, indices, offsets, num_rows, mode, per_sample_weights, max_rows)
    )
    ctx = torch.library.get_ctx()
    touched = ctx.new_dynamic_size()
    return grad.new_empty((touched,), dtype=torch.int64), grad.new_empty((touched, grad.shape[1]))


@torch.library.register_fake("embedforge::embedding_bag_backward_positions")
def _backward_positions_fake(
    grad, indices, offsets, num_rows, mode, per_sample_weights, padding_idx, include_last_offset, write_ids
):
    check_same_device("embedding_bag_backward_positions", (grad, indices, offsets, num_rows, mode, per_sample_weights))
    if padding_idx < 0:  # every id of the bags (offsets start at 0 and end at the last id), if any bag
        kept = indices.numel() if _num_bags(indices, offsets, include_last_offset) > 0 else 0
    else:
        kept = torch.library.get_ctx().new_dynamic_size()
    return grad.new_empty((kept if write_ids else 0,), dtype=torch.int64), grad.new_empty((kept, grad.shape[1]))


@torch.library.register_fake("embedforge::embedding_bag_backward_psw")
def _backward_psw_fake(grad, weight, indices, offsets, mode, padding_idx, include_last_offset):
    check_same_device("embedding_bag_backward_psw", (grad, weight, indices, offsets))
    return grad.new_empty((indices.numel(),), dtype=torch.float32)


# ---- autograd --------------------------------------------------------------------------------
def _setup_context(ctx, inputs, output):
    weight, indices, offsets, mode, per_sample_weights, padding_idx, include_last_offset, sparse = inputs
    _, max_rows = output
    ctx.mark_non_differentiable(max_rows)
    ctx.num_rows = weight.shape[0]
    ctx.mode, ctx.padding_idx, ctx.include_last_offset, ctx.sparse = mode, padding_idx, include_last_offset, sparse
    ctx.psw_shape = None if per_sample_weights is None else per_sample_weights.shape
    ctx.psw_dtype = None if per_sample_weights is None else per_sample_weights.dtype
    need_psw_grad = per_sample_weights is not None and ctx.needs_input_grad[4]
    ctx.save_for_backward(indices, offsets, per_sample_weights, max_rows, weight if need_psw_grad else None)


_op_positions = _ops.embedding_bag_backward_positions.default


def _backward(ctx, grad_out, _grad_max_rows):
    indices, offsets, per_sample_weights, max_rows, weight = ctx.saved_tensors
    grad_out = grad_out.contiguous()
    grad_weight = grad_psw = None
    if torch.is_grad_enabled():
        # create_graph=True: the gradients must themselves be differentiable (double backward).
        return _backward_differentiable(ctx, grad_out, indices, offsets, per_sample_weights, max_rows, weight)
    if ctx.needs_input_grad[0]:
        args = (
            grad_out,
            indices,
            offsets,
            ctx.num_rows,
            ctx.mode,
            per_sample_weights,
            max_rows,
            ctx.padding_idx,
            ctx.include_last_offset,
        )
        if ctx.sparse and ctx.mode != MODES["max"] and not grad_out.is_cuda:
            # torch's layout: one entry per id in position order, rows unsorted and repeating (no
            # grouping pass); the tensor says it is not coalesced, and torch's optimizers and
            # .coalesce() sum the repeats. int64 ids without padding are their own index list (as in
            # torch: the gradient's indices share the ids' memory); otherwise the kernel writes them.
            own = indices.dtype == torch.int64 and ctx.padding_idx < 0
            ids, values = _op_positions(
                grad_out,
                indices,
                offsets,
                ctx.num_rows,
                ctx.mode,
                per_sample_weights,
                ctx.padding_idx,
                ctx.include_last_offset,
                not own,
            )
            if own:
                # Every id lies in a bag (offsets start at 0 and end at the last id), unless there are none.
                ids = indices.reshape(-1) if values.shape[0] == indices.numel() else indices.new_empty(0)
            grad_weight = torch.sparse_coo_tensor(
                ids.unsqueeze(0),
                values,
                (ctx.num_rows, grad_out.shape[1]),
                is_coalesced=False,
                check_invariants=False,
            )
        elif ctx.sparse:
            rows, row_grads = _ops.embedding_bag_backward_rows(*args)
            grad_weight = torch.sparse_coo_tensor(
                rows.unsqueeze(0),
                row_grads,
                (ctx.num_rows, grad_out.shape[1]),
                is_coalesced=True,
                check_invariants=False,
            )
        else:
            grad_weight = _ops.embedding_bag_backward_dense(*args)
    if ctx.psw_shape is not None and ctx.needs_input_grad[4]:
        g = _ops.embedding_bag_backward_psw(
            grad_out, weight, indices, offsets, ctx.mode, ctx.padding_idx, ctx.include_last_offset
        )
        grad_psw = g.reshape(ctx.psw_shape).to(ctx.psw_dtype)
    return grad_weight, None, None, None, grad_psw, None, None, None


# ---- higher-order derivatives ------------------------------------------------------------------
# The lookup is linear in the table and in the per-sample weights (bilinear in both), so every
# derivative of any order is again one of the three kernels: the table's gradient (dense backward)
# is linear in (grad, per-sample weights), its own derivative w.r.t. grad is the forward lookup of
# the incoming tangent, and w.r.t. the per-sample weights the psw backward with that tangent as the
# table; the psw gradient is bilinear in (grad, table) likewise. Max mode routes through the rows
# the forward chose (max_rows, -1 for empty bags): a scatter whose adjoint is a gather.
def _lookup(weight, indices, offsets, mode, psw, pad, include_last_offset):
    """Differentiable forward on already validated inputs (padding skipped in forward and backward)."""
    if psw is not None:
        psw = psw.to(weight.dtype) if psw.dtype != weight.dtype else psw
    return _run(weight, indices, offsets, mode, psw, pad, include_last_offset, False, pad)


def _gather_max(table, max_rows):
    """out[b, k] = table[max_rows[b, k], k], 0 where max_rows is -1 (empty bags)."""
    valid = max_rows >= 0
    picked = torch.gather(table, 0, max_rows.clamp(min=0))
    return torch.where(valid, picked, torch.zeros((), dtype=table.dtype, device=table.device))


class _DenseGrad(torch.autograd.Function):
    """Table gradient [V, D] of a lookup as a differentiable function of (grad, per_sample_weights)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(grad, psw, indices, offsets, num_rows, mode, max_rows, pad, include_last_offset):
        with _below_autograd():
            return _ops.embedding_bag_backward_dense(
                grad.contiguous(), indices, offsets, num_rows, mode, psw, max_rows, pad, include_last_offset
            )

    @staticmethod
    def setup_context(ctx, inputs, output):
        grad, psw, indices, offsets, num_rows, mode, max_rows, pad, include_last_offset = inputs
        ctx.save_for_backward(grad, psw, indices, offsets, max_rows)
        ctx.args = (num_rows, mode, pad, include_last_offset)

    @staticmethod
    def backward(ctx, gg):
        grad, psw, indices, offsets, max_rows = ctx.saved_tensors
        num_rows, mode, pad, ilo = ctx.args
        d_grad = d_psw = None
        gg = gg.contiguous()
        if ctx.needs_input_grad[0]:
            if mode == MODES["max"]:
                d_grad = _gather_max(gg, max_rows)
            else:
                d_grad = _lookup(gg, indices, offsets, mode, psw, pad, ilo)
            d_grad = d_grad.to(grad.dtype)
        if psw is not None and ctx.needs_input_grad[1]:
            d_psw = _PswGrad.apply(grad, gg, indices, offsets, mode, pad, ilo).reshape(psw.shape).to(psw.dtype)
        return d_grad, d_psw, None, None, None, None, None, None, None


class _PswGrad(torch.autograd.Function):
    """Per-sample-weights gradient [N] (float32) as a differentiable function of (grad, table)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(grad, weight, indices, offsets, mode, pad, include_last_offset):
        with _below_autograd():
            return _ops.embedding_bag_backward_psw(
                grad.contiguous(), weight.contiguous(), indices, offsets, mode, pad, include_last_offset
            )

    @staticmethod
    def setup_context(ctx, inputs, output):
        grad, weight, indices, offsets, mode, pad, include_last_offset = inputs
        ctx.save_for_backward(grad, weight, indices, offsets)
        ctx.args = (weight.shape[0], mode, pad, include_last_offset)

    @staticmethod
    def backward(ctx, gg):
        grad, weight, indices, offsets = ctx.saved_tensors
        num_rows, mode, pad, ilo = ctx.args
        gg_ids = gg.reshape(indices.shape)
        d_grad = d_weight = None
        if ctx.needs_input_grad[0]:
            d_grad = _lookup(weight, indices, offsets, mode, gg_ids, pad, ilo).to(grad.dtype)
        if ctx.needs_input_grad[1]:
            empty = torch.empty((0, 0), dtype=torch.int64, device=grad.device)
            d_weight = _DenseGrad.apply(
                grad, gg_ids.to(torch.float32), indices, offsets, num_rows, mode, empty, pad, ilo
            ).to(weight.dtype)
        return d_grad, d_weight, None, None, None, None, None


def _backward_differentiable(ctx, grad_out, indices, offsets, per_sample_weights, max_rows, weight):
    if ctx.sparse and ctx.needs_input_grad[0]:
        raise NotImplementedError(
            "double backward (create_graph=True) through embedding_bag/embedding with sparse=True is not "
            "supported: use sparse=False"
        )
    grad_weight = grad_psw = None
    if ctx.needs_input_grad[0]:
        psw = per_sample_weights
        if psw is not None and psw.dtype != torch.float32:
            psw = psw.to(torch.float32)
        grad_weight = _DenseGrad.apply(
            grad_out, psw, indices, offsets, ctx.num_rows, ctx.mode, max_rows, ctx.padding_idx, ctx.include_last_offset
        )
    if ctx.psw_shape is not None and ctx.needs_input_grad[4]:
        g = _PswGrad.apply(grad_out, weight, indices, offsets, ctx.mode, ctx.padding_idx, ctx.include_last_offset)
        grad_psw = g.reshape(ctx.psw_shape).to(ctx.psw_dtype)
    return grad_weight, None, None, None, grad_psw, None, None, None


torch.library.register_autograd("embedforge::embedding_bag", _backward, setup_context=_setup_context)

# Runs the op straight on its device kernel, skipping the autograd kernel that register_autograd
# installs (a Python function, several microseconds even when nothing needs a gradient). This is
# what that kernel itself does on its way down; without the context the op is simply called as is.
_below_autograd = getattr(torch._C, "_AutoDispatchBelowAutograd", contextlib.nullcontext)


class _EagerEmbeddingBag(torch.autograd.Function):
    """Eager-mode autograd of the wrappers: the registered formula (_setup_context, _backward) at a
    fraction of the generic register_autograd path's per-call cost (about 50 us there). ``grad_pad``
    is the padding index the backward skips; embedding() passes the forward -1 (padding rows are
    returned as stored) and its padding index here (they get no gradient), with no masking pass.
    Forward-mode AD (``jvp``): the lookup is linear in the table and the per-sample weights, so the
    tangent is the lookup of the table's tangent plus the lookup weighted by the weights' tangent."""

    generate_vmap_rule = True

    @staticmethod
    def forward(weight, indices, offsets, mode, per_sample_weights, padding_idx, include_last_offset, sparse, grad_pad):
        with _below_autograd():
            return _ops.embedding_bag(
                weight, indices, offsets, mode, per_sample_weights, padding_idx, include_last_offset, sparse
            )

    @staticmethod
    def setup_context(ctx, inputs, output):
        _setup_context(ctx, inputs[:8], output)
        ctx.padding_idx = inputs[8]
        ctx.mark_non_differentiable(output[1])
        ctx.fw = (inputs[0], inputs[1], inputs[2], inputs[4], output[1])
        ctx.fw_pad = inputs[5]

    @staticmethod
    def backward(ctx, grad_out, grad_max_rows):
        return (*_backward(ctx, grad_out, grad_max_rows), None)

    @staticmethod
    def jvp(ctx, t_weight, _t_indices, _t_offsets, _t_mode, t_psw, *_rest):
        weight, indices, offsets, psw, max_rows = ctx.fw
        # The forward's padding index (embedding() passes -1: the padding row is returned as stored,
        # so its tangent passes through as in torch).
        mode, pad, ilo = ctx.mode, ctx.fw_pad, ctx.include_last_offset
        tangent = None
        if t_weight is not None:
            if mode == MODES["max"]:
                tangent = _gather_max(t_weight, max_rows)
            else:
                tangent = _lookup_plain(t_weight, indices, offsets, mode, psw, pad, ilo)
        if t_psw is not None and psw is not None:
            part = _lookup_plain(weight, indices, offsets, mode, t_psw, pad, ilo)
            tangent = part if tangent is None else tangent + part
        if tangent is None:
            tangent = torch.zeros(
                (_num_bags(indices, offsets, ilo), weight.shape[1]), dtype=weight.dtype, device=weight.device
            )
        return tangent.to(weight.dtype), None


class _PlainEmbeddingBag(torch.autograd.Function):
    """_EagerEmbeddingBag's formula for grad mode outside torch.func transforms and forward-mode AD,
    in the combined ``forward(ctx, ...)`` style. A Function with a separate ``setup_context`` has
    every ``apply`` bind its arguments to ``forward``'s signature first (inspect.signature, about
    10 us a call); one without skips that step. Transforms need ``setup_context``, so they (and
    dual tensors) keep taking _EagerEmbeddingBag."""

    @staticmethod
    def forward(
        ctx, weight, indices, offsets, mode, per_sample_weights, padding_idx, include_last_offset, sparse, grad_pad
    ):
        with _below_autograd():
            out = _ops_bag(weight, indices, offsets, mode, per_sample_weights, padding_idx, include_last_offset, sparse)
        _setup_context(
            ctx, (weight, indices, offsets, mode, per_sample_weights, padding_idx, include_last_offset, sparse), out
        )
        ctx.padding_idx = grad_pad
        return out

    @staticmethod
    def backward(ctx, grad_out, grad_max_rows):
        return (*_backward(ctx, grad_out, grad_max_rows), None)


def _lookup_plain(weight, indices, offsets, mode, psw, pad, include_last_offset):
    """The forward kernel alone (no autograd), for tangents."""
    with _below_autograd():
        return _ops.embedding_bag(weight.contiguous(), indices, offsets, mode, psw, pad, include_last_offset, False)[0]


def _dual_or_transformed(weight, per_sample_weights) -> bool:
    """True inside forward-mode AD or a torch.func transform (jvp, grad, vmap): take the Function path."""
    if torch._C._functorch.maybe_current_level() is not None:
        return True
    if _fwad._current_level >= 0:
        if _fwad.unpack_dual(weight).tangent is not None:
            return True
        return per_sample_weights is not None and _fwad.unpack_dual(per_sample_weights).tangent is not None
    return False


_ops_bag = _ops.embedding_bag.default
_is_compiling = torch.compiler.is_compiling
_grad_enabled = torch.is_grad_enabled


def _run(weight, indices, offsets, mode, per_sample_weights, pad, include_last_offset, sparse, grad_pad):
    """The op on validated inputs, eager fast paths first; tagged native errors become Python ones."""
    try:
        if _is_compiling():
            out = _ops.embedding_bag(
                weight, indices, offsets, mode, per_sample_weights, pad, include_last_offset, sparse
            )[0]
            if grad_pad != pad and out.requires_grad:
                # Forward returns the stored padding row; its gradient is masked out.
                out = torch.where((indices == grad_pad), out.detach(), out)
            return out
        if _dual_or_transformed(weight, per_sample_weights):
            return _EagerEmbeddingBag.apply(
                weight, indices, offsets, mode, per_sample_weights, pad, include_last_offset, sparse, grad_pad
            )[0]
        if _grad_enabled() and (
            weight.requires_grad or (per_sample_weights is not None and per_sample_weights.requires_grad)
        ):
            return _PlainEmbeddingBag.apply(
                weight, indices, offsets, mode, per_sample_weights, pad, include_last_offset, sparse, grad_pad
            )[0]
        with _below_autograd():
            return _ops_bag(weight, indices, offsets, mode, per_sample_weights, pad, include_last_offset, sparse)[0]
    except RuntimeError as exc:
        err = translated_error(exc)
        if err is exc:
            raise
        raise err from None


# ---- the user-facing wrapper -----------------------------------------------------------------
def _check_inputs(weight, indices, offsets, mode, per_sample_weights, padding_idx):
    if not isinstance(weight, torch.Tensor) or not isinstance(indices, torch.Tensor):
        raise TypeError("weight and indices must be tensors")
    if weight.dim() != 2:
        raise ValueError(f"weight must be 2-D [num_embeddings, embedding_dim], got shape {tuple(weight.shape)}")
    if weight.dtype not in _TABLE_DTYPES + _FALLBACK_DTYPES:
        raise TypeError(f"weight must be float32, bfloat16, float16 or float64, got {weight.dtype}")
    if indices.dtype not in _ID_DTYPES:
        raise TypeError(f"indices must be int32 or int64, got {indices.dtype}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode!r}")
    if offsets is not None:
        if not isinstance(offsets, torch.Tensor):
            raise TypeError("offsets must be a tensor or None")
        if offsets.dtype not in _ID_DTYPES:
            raise TypeError(f"offsets must be int32 or int64, got {offsets.dtype}")
        if indices.dim() != 1:
            raise ValueError(f"indices must be 1-D when offsets are given, got shape {tuple(indices.shape)}")
        if offsets.dim() != 1:
            raise ValueError(f"offsets must be 1-D, got shape {tuple(offsets.shape)}")
        if offsets.device != indices.device:
            raise ValueError(f"offsets ({offsets.device}) and indices ({indices.device}) must be on the same device")
    elif indices.dim() != 2:
        raise ValueError(
            f"indices must be 2-D [bags, ids per bag] when offsets is None, got shape {tuple(indices.shape)}"
        )
    if indices.device != weight.device:
        raise ValueError(f"indices ({indices.device}) and weight ({weight.device}) must be on the same device")
    if per_sample_weights is not None:
        if mode == "max":
            raise ValueError("per_sample_weights are only supported for mode='sum' and mode='mean', not 'max'")
        if not isinstance(per_sample_weights, torch.Tensor) or not per_sample_weights.is_floating_point():
            raise TypeError("per_sample_weights must be a floating-point tensor")
        if per_sample_weights.shape != indices.shape:
            raise ValueError(
                f"per_sample_weights must have the shape of indices {tuple(indices.shape)}, "
                f"got {tuple(per_sample_weights.shape)}"
            )
        if per_sample_weights.device != weight.device:
            raise ValueError("per_sample_weights must be on the device of weight")
    num_rows = weight.shape[0]
    if padding_idx is None:
        return -1
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, int):
        raise TypeError(f"padding_idx must be an int or None, got {type(padding_idx).__name__}")
    if not -num_rows <= padding_idx < num_rows:
        raise ValueError(f"padding_idx={padding_idx} is out of range for a table of {num_rows} rows")
    return padding_idx % num_rows


def _check_ids(indices: torch.Tensor, num_rows: int) -> None:
    """The native path's id check (same message and class) for the torch fallback."""
    bad = ((indices < 0) | (indices >= num_rows)).reshape(-1).nonzero()
    if bad.numel():
        j = int(bad[0])
        value = int(indices.reshape(-1)[j])
        rule = (
            "is negative; ids must lie in [0, " + f"{num_rows})"
            if value < 0
            else f"is out of range for a table of {num_rows} rows"
        )
        raise _native_kinds()["IndexError"](f"indices[{j}]={value} {rule}")


def _native_kinds():
    from .._native import _KINDS

    return _KINDS


def _torch_bag(weight, indices, offsets, mode, per_sample_weights, pad, include_last_offset, sparse):
    """float64 tables: torch's embedding_bag, after the checks the native kernels make."""
    _check_ids(indices, weight.shape[0])
    if offsets is not None:
        off = offsets.tolist()
        err = None
        if include_last_offset and not off:
            err = "offsets must hold at least one entry (the end of the last bag) when include_last_offset=True"
        elif off and off[0] != 0:
            err = f"offsets[0]={off[0]} must be 0"
        elif any(b < a for a, b in zip(off, off[1:])):
            i = next(i for i in range(1, len(off)) if off[i] < off[i - 1])
            err = f"offsets must be non-decreasing, but offsets[{i}]={off[i]} < offsets[{i - 1}]={off[i - 1]}"
        elif off and off[-1] > indices.numel():
            err = f"offsets[{len(off) - 1}]={off[-1]} is past the end of indices ({indices.numel()} ids)"
        elif include_last_offset and off[-1] != indices.numel():
            err = (
                f"offsets[{len(off) - 1}]={off[-1]} must equal the number of indices ({indices.numel()}) when "
                "include_last_offset=True"
            )
        if err is not None:
            raise _native_kinds()["ValueError"](err)
    psw = None if per_sample_weights is None else per_sample_weights.to(weight.dtype)
    if psw is not None and mode != "sum":
        raise NotImplementedError(
            f"embedding_bag: per_sample_weights with mode={mode!r} on a float64 table "
            "(float64 runs on torch's kernels, which weight only sums)"
        )
    return torch.nn.functional.embedding_bag(
        indices,
        weight,
        offsets,
        mode=mode,
        per_sample_weights=psw,
        include_last_offset=include_last_offset,
        sparse=sparse,
        padding_idx=None if pad < 0 else pad,
    )


def embedding_bag(
    weight: torch.Tensor,
    indices: torch.Tensor,
    offsets: Optional[torch.Tensor] = None,
    mode: str = "sum",
    per_sample_weights: Optional[torch.Tensor] = None,
    padding_idx: Optional[int] = None,
    include_last_offset: bool = False,
    sparse: bool = False,
) -> torch.Tensor:
    """Pooled lookup of bags of rows of ``weight`` in one pass: [V, D] table → [B, D].

    ``indices`` is 1-D with ``offsets`` (bag b is ``indices[offsets[b]:offsets[b+1]]``) or 2-D
    [B, L] without. ``mode`` is "sum", "mean" or "max"; ``per_sample_weights`` (shape of
    ``indices``) scale each row in sum and mean (mean divides the weighted sum by the number of
    non-padding ids). Ids equal to ``padding_idx`` are skipped and not counted; empty bags give
    zeros. The backward never forms a one-hot matrix: gradients are reduced per touched row,
    deterministically. ``sparse=True`` makes the table's gradient a sparse COO tensor: for sum and
    mean, torch's uncoalesced layout (one entry per non-padding id, rows repeating, ``is_coalesced()``
    False; ``.coalesce()`` sums them); for max, the touched rows, coalesced.

    >>> w = torch.randn(10, 3)
    >>> embedding_bag(w, torch.tensor([1, 2, 4, 5]), torch.tensor([0, 2]), mode="mean").shape
    torch.Size([2, 3])
    """
    pad = _check_inputs(weight, indices, offsets, mode, per_sample_weights, padding_idx)
    if offsets is not None and offsets.dtype != indices.dtype:
        indices, offsets = indices.long(), offsets.long()
    if weight.dtype in _FALLBACK_DTYPES:
        return _torch_bag(weight, indices, offsets, mode, per_sample_weights, pad, include_last_offset, sparse)
    return _run(weight, indices, offsets, MODES[mode], per_sample_weights, pad, include_last_offset, sparse, pad)


# ---- plain lookups ------------------------------------------------------------------------------
# A lookup (bags of one id) has nothing to pool or fuse in its forward: it is a gather, and for
# small inputs the call's fixed cost decides. torch's own gather (torch.embedding, a C++ op) costs
# about 3 us at 64 ids where ours, through the boxed stable-ABI op, costs 6-8 us, and it stays the
# faster of the two up to about 2^20 gathered elements (ids x dim; measured at 1 and 2 threads,
# V 1e3..1e6, D 16..256). Past that, our kernel is level or faster (3x at 131k ids into 1M x 16).
# The backward (the one-hot-free gradient) is ours at every size.
_TORCH_GATHER_MAX = 1 << 20


def _torch_gather(weight, indices):
    try:
        return torch.embedding(weight, indices)
    except (IndexError, RuntimeError):
        _check_ids(indices, weight.shape[0])  # raises the native path's message for bad ids
        raise


def _native_gather(weight, indices):
    """weight[indices] -> indices.shape + (D,) on our kernel, below autograd."""
    with translate_errors(), _below_autograd():
        out = _ops_bag(weight, indices.reshape(-1, 1), None, 0, None, -1, False, False)[0]
    return out.view(*indices.shape, weight.shape[1])


_NO_MAX_ROWS = torch.empty((0, 0), dtype=torch.int64)


class _Lookup(torch.autograd.Function):
    """Grad-mode CPU lookup: the faster gather forward, the registered formula's backward.

    ``forward(weight, indices, meta)``, meta = (num_rows, padding_idx, sparse, torch_gather): the
    fewest arguments and context fields, as each costs per call; the backward hands ``_backward``
    a view of the context in its layout."""

    @staticmethod
    def forward(ctx, weight, indices, meta):
        ctx.save_for_backward(indices)
        ctx.meta = meta
        return _torch_gather(weight, indices) if meta[3] else _native_gather(weight, indices)

    @staticmethod
    def backward(ctx, grad_out):
        lctx = _LookupCtx(ctx)
        flat_grad = grad_out.reshape(lctx.saved_tensors[0].shape[0], grad_out.shape[-1])
        grad_weight = _backward(lctx, flat_grad, None)[0]
        return grad_weight, None, None


class _LookupCtx:
    """A _Lookup context as ``_backward`` reads a _PlainEmbeddingBag one: bags of one id (ids
    [N, 1]), sum, no per-sample weights, no max rows."""

    mode, include_last_offset, psw_shape, psw_dtype = 0, False, None, None

    def __init__(self, ctx):
        (ids,) = ctx.saved_tensors
        self.saved_tensors = (ids.reshape(-1, 1), None, None, _NO_MAX_ROWS, None)
        self.num_rows, self.padding_idx, self.sparse, _ = ctx.meta
        self.needs_input_grad = ctx.needs_input_grad


# Function.apply's Python layer binds default arguments (not needed: forward(ctx, ...) style),
# and unwraps dead torch.func wrappers only when no transform is active; with the checks below
# (no transform active, neither tensor a functorch wrapper) the C++ apply is called directly,
# about 2 us less per call.
_lookup_apply = super(torch.autograd.Function, _Lookup).apply
_is_functorch_wrapped = getattr(torch._C._functorch, "is_functorch_wrapped_tensor", None)


def embedding(
    weight: torch.Tensor, indices: torch.Tensor, padding_idx: Optional[int] = None, sparse: bool = False
) -> torch.Tensor:
    """Plain lookup ``weight[indices]`` for ids of any shape → ``indices.shape + (D,)``.

    As ``torch.nn.functional.embedding``: the padding row is returned as stored but receives no
    gradient. The gradient is embedforge's (reduced once per touched row, deterministic); the
    forward gather is torch's or ours, whichever is faster for the input's size.
    """
    if not isinstance(indices, torch.Tensor):
        raise TypeError("indices must be a tensor")
    # Fast paths for CPU tables: every check of the generic path, in the fewest steps (each one
    # costs 30-100 ns, against a 3 us gather at 64 ids).
    if (
        isinstance(weight, torch.Tensor)
        and weight.is_cpu
        and indices.is_cpu
        and weight.dtype in _TABLE_DTYPES
        and indices.dtype in _ID_DTYPES
        and not _is_compiling()
    ):
        shape = weight.shape
        if len(shape) == 2:
            num_rows, dim = shape
            # A negative padding_idx (normalised) or an invalid one (refused) takes the generic path.
            if padding_idx is None:
                pad = -1
            elif type(padding_idx) is int and 0 <= padding_idx < num_rows:
                pad = padding_idx
            else:
                pad = None
            if pad is not None:
                if not (weight.requires_grad and _grad_enabled()):
                    if indices.numel() * dim <= _TORCH_GATHER_MAX:
                        # torch's op: forward-mode AD and torch.func transforms go through its own rules.
                        return _torch_gather(weight, indices)
                elif not (
                    _is_functorch_wrapped is None
                    or _dual_or_transformed(weight, None)
                    or _is_functorch_wrapped(weight)
                    or _is_functorch_wrapped(indices)
                ):
                    meta = (num_rows, pad, sparse, indices.numel() * dim <= _TORCH_GATHER_MAX)
                    return _lookup_apply(weight, indices, meta)
    flat = indices.reshape(-1, 1)
    pad = _check_inputs(weight, flat, None, "sum", None, padding_idx)
    if weight.dtype in _FALLBACK_DTYPES:
        _check_ids(flat, weight.shape[0])
        # 1-D ids: torch's sparse backward with a padding index fails on 0-d ids
        out = torch.nn.functional.embedding(flat.view(-1), weight, padding_idx=None if pad < 0 else pad, sparse=sparse)
        return out.view(*indices.shape, weight.shape[1])
    # Bags of one id with no padding in the forward (the stored row comes back); the backward
    # skips the padding index, so that row gets no gradient.
    out = _run(weight, flat, None, 0, None, -1, False, sparse, pad)
    return out.reshape(*indices.shape, weight.shape[1])
