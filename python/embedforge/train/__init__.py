"""Training: a Trainer with fit/evaluate/predict, callbacks, schedules and metrics."""

from __future__ import annotations

from .callbacks import Callback, Checkpoint, EarlyStopping
from .metrics import (
    METRICS,
    accuracy,
    get_metric,
    mse,
    precision_recall_f1,
    rmse,
    weighted_f1,
    weighted_precision,
    weighted_recall,
)
from .trainer import History, Trainer, TrainerConfig, flat_cross_entropy, one_cycle, reduce_on_plateau

__all__ = [
    "Trainer",
    "TrainerConfig",
    "History",
    "Callback",
    "EarlyStopping",
    "Checkpoint",
    "flat_cross_entropy",
    "one_cycle",
    "reduce_on_plateau",
    "METRICS",
    "get_metric",
    "accuracy",
    "precision_recall_f1",
    "weighted_precision",
    "weighted_recall",
    "weighted_f1",
    "mse",
    "rmse",
]
