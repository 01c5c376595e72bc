"""Trainer callbacks: early stopping that restores the best weights, periodic atomic checkpoints."""

from __future__ import annotations

import copy
import math
import os
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer

__all__ = ["Callback", "EarlyStopping", "Checkpoint"]


class Callback:
    """Hooks called by :class:`~embedforge.train.Trainer`; override the ones you need.

    Example::

        >>> class Count(Callback):
        ...     def on_epoch_end(self, trainer, epoch, logs):
        ...         self.last = epoch
    """

    def on_fit_start(self, trainer: "Trainer") -> None:
        """Before the first epoch of a ``fit`` call."""

    def on_epoch_start(self, trainer: "Trainer", epoch: int) -> None:
        """Before each epoch (``epoch`` counts from 1)."""

    def on_batch_end(self, trainer: "Trainer", step: int, loss: float) -> None:
        """After each optimisation step."""

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, float]) -> None:
        """After each epoch with its logged values; set ``trainer.stop_training = True`` to stop."""

    def on_fit_end(self, trainer: "Trainer") -> None:
        """After the last epoch (also when stopped early)."""

    def state_dict(self) -> dict[str, Any]:
        """State to save in checkpoints."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output."""


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs; restore the best weights.

    Example::

        >>> stopper = EarlyStopping(monitor="val_loss", patience=2)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 3,
        min_delta: float = 0.0,
        mode: str = "min",
        restore_best: bool = True,
    ) -> None:
        """Configure what to watch and how long to wait."""
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, min_delta, mode
        self.restore_best = restore_best
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = 0
        self.wait = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stopped_epoch: int | None = None

    def _improved(self, value: float) -> bool:
        """Whether ``value`` beats the best by more than ``min_delta``."""
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, float]) -> None:
        """Track the monitored value; snapshot weights on improvement; stop when patience runs out."""
        if self.monitor not in logs:
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r} but the epoch logged only {sorted(logs)}; "
                "pass validation data to fit() or monitor 'train_loss'"
            )
        value = float(logs[self.monitor])
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_state = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
        else:
            self.wait += 1
            if self.wait > self.patience:
                self.stopped_epoch = epoch
                trainer.stop_training = True

    def on_fit_end(self, trainer: "Trainer") -> None:
        """Load the best weights back into the model."""
        if self.restore_best and self.best_state is not None:
            trainer.model.load_state_dict(self.best_state)

    def state_dict(self) -> dict[str, Any]:
        """Best value, wait counter and best weights."""
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "best_state": copy.copy(self.best_state),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a saved state."""
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        self.best_state = state["best_state"]


class Checkpoint(Callback):
    """Save the trainer's full state atomically to ``path`` every ``every`` epochs (and at the end).

    Resume with ``trainer.fit(train, val, epochs, resume=path)``.

    Example::

        >>> ckpt = Checkpoint("/tmp/run.pt", every=1)
    """

    def __init__(self, path: str | os.PathLike, every: int = 1) -> None:
        """Where and how often to save."""
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.path, self.every = os.fspath(path), every

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, float]) -> None:
        """Save on every ``every``-th epoch."""
        if epoch % self.every == 0:
            trainer.save_checkpoint(self.path)

    def on_fit_end(self, trainer: "Trainer") -> None:
        """Save the final state."""
        trainer.save_checkpoint(self.path)
