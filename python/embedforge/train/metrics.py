"""Metrics on tensors: accuracy, weighted precision/recall/F1, MSE and RMSE."""

from __future__ import annotations

from typing import Callable

import torch

__all__ = [
    "accuracy",
    "precision_recall_f1",
    "weighted_precision",
    "weighted_recall",
    "weighted_f1",
    "mse",
    "rmse",
    "METRICS",
    "get_metric",
]


def _labels(pred: torch.Tensor) -> torch.Tensor:
    """Class ids from logits (B, C) or ids (B,)."""
    return pred.argmax(dim=-1) if pred.dim() > 1 else pred.long()


def _check(pred: torch.Tensor, target: torch.Tensor) -> None:
    """Same number of examples, at least one."""
    if len(pred) != len(target):
        raise ValueError(f"predictions have {len(pred)} rows but targets have {len(target)}")
    if len(target) == 0:
        raise ValueError("metrics need at least one example")


def accuracy(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Fraction of rows whose argmax (or id) equals the target id."""
    _check(pred, target)
    return (_labels(pred) == target.long()).float().mean().item()


def precision_recall_f1(pred: torch.Tensor, target: torch.Tensor) -> tuple[float, float, float]:
    """Support-weighted precision, recall and F1 over the classes present in ``target``.

    Classes predicted but absent from the targets have zero support and weigh nothing; a class with
    no predictions has precision 0 (the sklearn ``zero_division=0`` convention).
    """
    _check(pred, target)
    p, t = _labels(pred).reshape(-1), target.long().reshape(-1)
    n_classes = int(max(p.max().item(), t.max().item())) + 1
    tp = torch.bincount(t[p == t], minlength=n_classes).double()
    pred_count = torch.bincount(p, minlength=n_classes).double()
    support = torch.bincount(t, minlength=n_classes).double()
    prec = torch.where(pred_count > 0, tp / pred_count.clamp(min=1), torch.zeros_like(tp))
    rec = torch.where(support > 0, tp / support.clamp(min=1), torch.zeros_like(tp))
    denom = prec + rec
    f1 = torch.where(denom > 0, 2 * prec * rec / denom.clamp(min=1e-300), torch.zeros_like(tp))
    w = support / support.sum()
    return (w @ prec).item(), (w @ rec).item(), (w @ f1).item()


def weighted_precision(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Support-weighted precision."""
    return precision_recall_f1(pred, target)[0]


def weighted_recall(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Support-weighted recall."""
    return precision_recall_f1(pred, target)[1]


def weighted_f1(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Support-weighted F1."""
    return precision_recall_f1(pred, target)[2]


def mse(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean squared error."""
    _check(pred, target)
    return torch.mean((pred.reshape(-1).double() - target.reshape(-1).double()) ** 2).item()


def rmse(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Root mean squared error."""
    return mse(pred, target) ** 0.5


METRICS: dict[str, Callable[[torch.Tensor, torch.Tensor], float]] = {
    "accuracy": accuracy,
    "precision": weighted_precision,
    "recall": weighted_recall,
    "f1": weighted_f1,
    "mse": mse,
    "rmse": rmse,
}


def get_metric(name_or_fn: str | Callable[[torch.Tensor, torch.Tensor], float]) -> tuple[str, Callable]:
    """``(name, fn)`` for a metric name from :data:`METRICS` or a callable."""
    if callable(name_or_fn):
        return getattr(name_or_fn, "__name__", "metric"), name_or_fn
    try:
        return name_or_fn, METRICS[name_or_fn]
    except KeyError:
        raise ValueError(f"unknown metric {name_or_fn!r}; choose from {sorted(METRICS)} or pass a callable") from None
