"""Checks shared by the fake (meta) kernels: what the native adapters check that a fake can check too.

A fake kernel runs under torch.compile's tracing, on meta tensors, and whenever the dispatcher picks
the Meta kernel because one argument is a meta tensor. Without these checks a call mixing a meta
tensor with CPU tables returned an uninitialised CPU tensor (and the in-place steps did nothing):
garbage instead of the error the CPU kernel raises. The messages name the argument as the schema does.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

__all__ = ["check_same_device", "check_width"]


def _tensors(value: Any, name: str):
    if isinstance(value, torch.Tensor):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            if isinstance(v, torch.Tensor):
                yield f"{name}[{i}]", v


def check_same_device(op: str, args: Sequence[Any], kwargs: dict | None = None) -> None:
    """Every tensor argument of `op` (optional ones when given, list elements too) on one device."""
    schema = getattr(torch.ops.embedforge, op).default._schema
    names = [a.name for a in schema.arguments]
    bound = dict(zip(names, args))
    bound.update(kwargs or {})
    first = None
    for name in names:
        for label, t in _tensors(bound.get(name), name):
            if first is None:
                first = (label, t.device)
            elif t.device != first[1]:
                raise ValueError(
                    f"embedforge.{op}: {label} is on {t.device} but {first[0]} is on {first[1]}: "
                    "all tensors must be on the same device"
                )


def check_width(op: str, name: str, t: torch.Tensor, other: str, width: int) -> None:
    """A 2-D tensor `name` of `width` columns (the width of `other`)."""
    torch._check(t.dim() == 2, lambda: f"embedforge.{op}: {name} must be 2-D, got {t.dim()}-D")
    torch._check(t.shape[1] == width, lambda: f"embedforge.{op}: {name} has {t.shape[1]} columns, {other} has {width}")
