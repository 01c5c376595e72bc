"""Fused optimizer steps: the embedding-bag backward and an optimizer update in one native pass.

Shapes: V table rows, D embedding dim, N ids, B bags. Each ``*_step`` op takes the gradient of a
pooled lookup's output (grad [B, D]) and the batch that produced it, reduces the gradient of every
touched row deterministically (no one-hot matrix, no V×D gradient) and updates that row of
``weight`` and of the optimizer state in place. A step that raises changes nothing.

``embedding_bag_with_update`` is the forward that hands its backward to such a step: the table
updates itself during ``backward()`` and never gets a ``.grad``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import torch

from .._native import translate_errors
from ._fake_checks import check_same_device
from .embedding_bag import MODES, _check_inputs

__all__ = [
    "Batch",
    "sgd_step",
    "adagrad_step",
    "rowwise_adagrad_step",
    "adam_step",
    "embedding_bag_with_update",
    "BackwardTwiceError",
]

_ops = torch.ops.embedforge


class BackwardTwiceError(RuntimeError):
    """The backward of a lookup whose table updates itself ran a second time."""


class Batch(NamedTuple):
    """A validated lookup batch, in the argument order of the native step ops."""

    indices: torch.Tensor
    offsets: Optional[torch.Tensor]
    mode: int  # 0 sum, 1 mean, 2 max
    per_sample_weights: Optional[torch.Tensor]
    max_rows: torch.Tensor  # from the forward (max mode), else empty
    padding_idx: int  # -1 for none
    include_last_offset: bool


# ---- fake kernels: the steps mutate their inputs and return nothing -------------------------
def _step_fake(name: str):
    def fake(*args, **kwargs):
        check_same_device(name, args, kwargs)

    return fake


for _name in ("fused_sgd_step", "fused_adagrad_step", "fused_rowwise_adagrad_step", "fused_adam_step"):
    torch.library.register_fake(f"embedforge::{_name}")(_step_fake(_name))


def _grad(grad: torch.Tensor) -> torch.Tensor:
    return grad.contiguous()


def sgd_step(
    weight, grad, batch: Batch, lr: float, weight_decay: float = 0.0, stochastic_rounding: bool = True, seed: int = 0
) -> None:
    """``weight[r] -= lr * (g_r + weight_decay * weight[r])`` for every touched row r."""
    with translate_errors():
        _ops.fused_sgd_step(
            weight, _grad(grad), *batch, float(lr), float(weight_decay), bool(stochastic_rounding), int(seed)
        )


def adagrad_step(
    weight,
    state_sum,
    grad,
    batch: Batch,
    lr: float,
    eps: float,
    weight_decay: float = 0.0,
    stochastic_rounding: bool = True,
    seed: int = 0,
) -> None:
    """Element-wise Adagrad on touched rows: ``s += g²; w -= lr * g / (sqrt(s) + eps)``; s [V, D]."""
    with translate_errors():
        _ops.fused_adagrad_step(
            weight,
            state_sum,
            _grad(grad),
            *batch,
            float(lr),
            float(eps),
            float(weight_decay),
            bool(stochastic_rounding),
            int(seed),
        )


def rowwise_adagrad_step(
    weight,
    state_sum,
    grad,
    batch: Batch,
    lr: float,
    eps: float,
    weight_decay: float = 0.0,
    stochastic_rounding: bool = True,
    seed: int = 0,
) -> None:
    """Row-wise Adagrad on touched rows: ``s_r += mean(g_r²); w_r -= lr * g_r / (sqrt(s_r) + eps)``; s [V]."""
    with translate_errors():
        _ops.fused_rowwise_adagrad_step(
            weight,
            state_sum,
            _grad(grad),
            *batch,
            float(lr),
            float(eps),
            float(weight_decay),
            bool(stochastic_rounding),
            int(seed),
        )


def adam_step(
    weight,
    exp_avg,
    exp_avg_sq,
    step,
    grad,
    batch: Batch,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float = 0.0,
    per_row_step: bool = False,
    stochastic_rounding: bool = True,
    seed: int = 0,
) -> None:
    """Adam on touched rows; ``step`` is [1] (table count) or [V] with ``per_row_step`` (lazy Adam)."""
    with translate_errors():
        _ops.fused_adam_step(
            weight,
            exp_avg,
            exp_avg_sq,
            step,
            _grad(grad),
            *batch,
            float(lr),
            float(beta1),
            float(beta2),
            float(eps),
            float(weight_decay),
            bool(per_row_step),
            bool(stochastic_rounding),
            int(seed),
        )


# ---- the forward whose backward is an update -------------------------------------------------
class _LookupWithUpdate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weight, per_sample_weights, indices, offsets, mode, padding_idx, include_last_offset, update):
        with translate_errors():
            out, max_rows = _ops.embedding_bag(
                weight, indices, offsets, mode, per_sample_weights, padding_idx, include_last_offset, False
            )
        # Kept on ctx, not saved tensors: the step mutates `weight`, and a second backward must
        # reach our own check (BackwardTwiceError) rather than a freed-buffer error.
        ctx.weight = weight
        ctx.batch = Batch(indices, offsets, mode, per_sample_weights, max_rows, padding_idx, include_last_offset)
        ctx.update = update
        ctx.done = False
        return out

    @staticmethod
    def backward(ctx, grad_out):
        if ctx.done:
            raise BackwardTwiceError(
                "backward ran twice through a lookup whose table updates itself during backward; the update was "
                "applied once and is not repeated (run a new forward for a new step)"
            )
        if torch.is_grad_enabled():
            raise NotImplementedError(
                "double backward (create_graph=True) through a table with a fused optimizer is not supported: the "
                "table is updated in place during backward; use optimizer=None and a torch optimizer"
            )
        grad_out = grad_out.contiguous()
        b = ctx.batch
        grad_psw = None
        if b.per_sample_weights is not None and ctx.needs_input_grad[1]:
            # Needs the rows as the forward saw them, so it runs before the update.
            with translate_errors():
                g = _ops.embedding_bag_backward_psw(
                    grad_out, ctx.weight, b.indices, b.offsets, b.mode, b.padding_idx, b.include_last_offset
                )
            grad_psw = g.reshape(b.per_sample_weights.shape).to(b.per_sample_weights.dtype)
        ctx.update(ctx.weight, grad_out, b)
        ctx.done = True
        ctx.weight = ctx.batch = ctx.update = None
        return None, grad_psw, None, None, None, None, None, None


def embedding_bag_with_update(
    weight: torch.Tensor,
    indices: torch.Tensor,
    update: Callable[[torch.Tensor, torch.Tensor, Batch], None],
    offsets: Optional[torch.Tensor] = None,
    mode: str = "sum",
    per_sample_weights: Optional[torch.Tensor] = None,
    padding_idx: Optional[int] = None,
    include_last_offset: bool = False,
) -> torch.Tensor:
    """``embedding_bag`` whose backward calls ``update(weight, grad_out, batch)`` instead of producing a
    gradient for ``weight`` (which keeps ``.grad`` None). ``per_sample_weights`` still get theirs.

    The update is one of the ``*_step`` functions above bound to a table's optimizer state; it runs
    once per forward: a second backward through the same graph raises ``BackwardTwiceError``.
    """
    pad = _check_inputs(weight, indices, offsets, mode, per_sample_weights, padding_idx)
    if offsets is not None and offsets.dtype != indices.dtype:
        indices, offsets = indices.long(), offsets.long()
    return _LookupWithUpdate.apply(
        weight, per_sample_weights, indices, offsets, MODES[mode], pad, include_last_offset, update
    )
