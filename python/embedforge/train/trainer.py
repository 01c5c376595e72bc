"""A small training loop: fit / evaluate / predict, schedules, callbacks, history and resumable checkpoints."""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import torch
from torch import nn

from .._atomic import atomic_write
from .callbacks import Callback, Checkpoint
from .metrics import get_metric

__all__ = ["TrainerConfig", "History", "Trainer", "flat_cross_entropy", "one_cycle", "reduce_on_plateau"]

_PER_BATCH_SCHEDULERS = (torch.optim.lr_scheduler.OneCycleLR, torch.optim.lr_scheduler.CyclicLR)
_CHECKPOINT_FORMAT = 1


def flat_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for logits (..., V) and targets (...): flattens sequence dimensions first."""
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))


def one_cycle(
    optimizer: torch.optim.Optimizer, max_lr: float, epochs: int, steps_per_epoch: int, **kwargs: Any
) -> torch.optim.lr_scheduler.OneCycleLR:
    """A OneCycle schedule (stepped per batch by the Trainer)."""
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=max_lr, epochs=epochs, steps_per_epoch=steps_per_epoch, **kwargs
    )


def reduce_on_plateau(
    optimizer: torch.optim.Optimizer, factor: float = 0.5, patience: int = 1, **kwargs: Any
) -> torch.optim.lr_scheduler.ReduceLROnPlateau:
    """Reduce the learning rate when the validation loss stalls (stepped per epoch by the Trainer)."""
    return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=factor, patience=patience, **kwargs)


@dataclass
class TrainerConfig:
    """Loop options: metrics by name or callable, progress bar, gradient clipping (dense grads only),
    and ``distributed`` (one Trainer per rank under torch.distributed: loaders get a
    ``DistributedSampler``, epoch losses and metrics are averaged over ranks, the progress bar and
    checkpoint files belong to rank 0)."""

    metrics: Sequence[str | Callable[[torch.Tensor, torch.Tensor], float]] = ()
    progress: bool = False
    grad_clip: float | None = None
    distributed: bool = False


@dataclass
class History:
    """Per-step records ``{step, epoch, loss, lr}`` and per-epoch records ``{epoch, train_loss, val_loss, ...}``."""

    steps: list[dict[str, float]] = field(default_factory=list)
    epochs: list[dict[str, float]] = field(default_factory=list)

    def column(self, key: str, per: str = "epoch") -> list[float]:
        """All values of ``key`` from the per-epoch (default) or per-step records."""
        rows = self.epochs if per == "epoch" else self.steps
        if rows and key not in rows[-1]:
            raise KeyError(f"history has no {key!r}; recorded keys: {sorted(rows[-1])}")
        return [r[key] for r in rows if key in r]


def _to_device(obj: Any, device: torch.device) -> Any:
    """Move tensors (possibly nested in tuples/lists) to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(o, device) for o in obj)
    return obj


def _split(batch: Any) -> tuple[tuple[Any, ...], Any]:
    """A batch ``(*inputs, target)`` as ``(inputs, target)``."""
    if not isinstance(batch, (list, tuple)) or len(batch) < 2:
        raise ValueError(
            "training batches must be tuples (*inputs, target); got "
            f"{type(batch).__name__}{'' if not isinstance(batch, (list, tuple)) else f' of length {len(batch)}'}"
        )
    return tuple(batch[:-1]), batch[-1]


class Trainer:
    """Train a model with a torch optimizer (or self-updating fused tables), with callbacks and history.

    Batches are tuples ``(*inputs, target)``: the model is called as ``model(*inputs)`` and the loss as
    ``loss_fn(output, target)``. Parameters without a ``.grad`` after backward (tables whose fused
    optimizer updated them in place) are simply left alone.

    Example::

        >>> import torch
        >>> from embedforge.data import tensor_loader
        >>> model = torch.nn.Linear(3, 1)
        >>> x = torch.randn(64, 3); y = x.sum(1, keepdim=True)
        >>> t = Trainer(model, torch.nn.functional.mse_loss, torch.optim.SGD(model.parameters(), lr=0.1))
        >>> h = t.fit(tensor_loader(x, y, batch_size=16), epochs=3)
        >>> h.epochs[-1]["train_loss"] < h.epochs[0]["train_loss"]
        True
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable[[Any, Any], torch.Tensor],
        optimizer: torch.optim.Optimizer | None = None,
        scheduler: Any = None,
        callbacks: Iterable[Callback] = (),
        device: str | torch.device = "cpu",
        config: TrainerConfig | None = None,
        **config_overrides: Any,
    ) -> None:
        """Set up the loop; ``config_overrides`` (``metrics=``, ``progress=``, ``grad_clip=``) patch ``config``."""
        cfg = config or TrainerConfig()
        for key, value in config_overrides.items():
            if not hasattr(cfg, key):
                raise TypeError(f"unknown Trainer option {key!r}; options: metrics, progress, grad_clip, distributed")
            setattr(cfg, key, value)
        self.config = cfg
        self.rank = 0
        if cfg.distributed:
            import torch.distributed as dist

            if not dist.is_initialized():
                raise RuntimeError(
                    "Trainer(distributed=True) needs torch.distributed initialised "
                    "(embedforge.distributed.init_process_group or spawn)"
                )
            self.rank = dist.get_rank()
            if self.rank != 0:
                cfg.progress = False
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.scheduler = scheduler
        cbs = list(callbacks)
        # checkpoints run last so they save the state every other callback has already updated
        self.callbacks = [c for c in cbs if not isinstance(c, Checkpoint)] + [
            c for c in cbs if isinstance(c, Checkpoint)
        ]
        self.metrics = [get_metric(m) for m in cfg.metrics]
        self.history = History()
        self.epoch = 0
        self.step = 0
        self.stop_training = False
        self._target_epoch = 0
        self._train_loader: Any = None

    # ------------------------------------------------------------------ training
    def _lr(self) -> float:
        """Current learning rate of the first parameter group (NaN without an optimizer)."""
        return float(self.optimizer.param_groups[0]["lr"]) if self.optimizer is not None else math.nan

    def _clip(self) -> None:
        """Clip the norm of the dense gradients that exist."""
        grads = [p for p in self.model.parameters() if p.grad is not None and not p.grad.is_sparse]
        if grads and self.config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(grads, self.config.grad_clip)

    def train_step(self, batch: Any) -> float:
        """One optimisation step on one batch; returns the loss."""
        inputs, target = _split(_to_device(batch, self.device))
        self.model.train()
        if self.optimizer is not None:
            self.optimizer.zero_grad(set_to_none=True)
        self.model.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(*inputs), target)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"loss became {loss.item()} at step {self.step + 1} (epoch {self.epoch + 1}); "
                "lower the learning rate or check the inputs"
            )
        loss.backward()
        self._clip()
        if self.optimizer is not None:
            self.optimizer.step()
        if isinstance(self.scheduler, _PER_BATCH_SCHEDULERS):
            self.scheduler.step()
        return float(loss.detach())

    def _progress(self, iterable: Iterable, total: int | None, desc: str) -> Iterable:
        """Wrap in a tqdm bar when enabled and available."""
        if not self.config.progress:
            return iterable
        try:
            from tqdm.auto import tqdm
        except ImportError:
            warnings.warn("progress=True needs tqdm (pip install tqdm); training without a bar", stacklevel=3)
            self.config.progress = False
            return iterable
        return tqdm(iterable, total=total, desc=desc, leave=False)

    def fit(
        self, train: Iterable, val: Iterable | None = None, epochs: int = 1, resume: str | os.PathLike | None = None
    ) -> History:
        """Train for ``epochs`` epochs; with ``resume`` (an existing checkpoint) continue that run up to ``epochs`` total.

        Returns the :class:`History` (also kept as ``self.history``).
        """
        if epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {epochs}")
        if _is_empty(train):
            raise ValueError("training data is empty: there is nothing to fit")
        if val is not None and _is_empty(val):
            raise ValueError("validation data is empty; pass val=None to train without validation")
        if self.config.distributed:
            train = _distributed_loader(train, shuffle_default=True)
            val = _distributed_loader(val, shuffle_default=False) if val is not None else None
        self._train_loader = train
        if resume is not None and os.path.exists(resume):
            self.load_checkpoint(resume)
            self._target_epoch = max(epochs, self.epoch)
        else:
            self._target_epoch = self.epoch + epochs
        self.stop_training = False
        for cb in self.callbacks:
            cb.on_fit_start(self)
        try:
            while self.epoch < self._target_epoch and not self.stop_training:
                self._run_epoch(train, val)
        finally:
            for cb in self.callbacks:
                cb.on_fit_end(self)
        return self.history

    def _run_epoch(self, train: Iterable, val: Iterable | None) -> None:
        """One pass over ``train``, validation, scheduling, callbacks."""
        epoch = self.epoch + 1
        for cb in self.callbacks:
            cb.on_epoch_start(self, epoch)
        total_loss, total_n = 0.0, 0
        sampler = getattr(train, "sampler", None)
        if self.config.distributed and hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        bar = self._progress(train, _len(train), f"epoch {epoch}")
        for batch in bar:
            loss = self.train_step(batch)
            self.step += 1
            n = _batch_size(batch)
            total_loss += loss * n
            total_n += n
            self.history.steps.append({"step": self.step, "epoch": epoch, "loss": loss, "lr": self._lr()})
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{loss:.4f}")
            for cb in self.callbacks:
                cb.on_batch_end(self, self.step, loss)
        if self.config.distributed:
            total_loss, total_n = _sum_over_ranks(total_loss, total_n)
        if total_n == 0:
            raise ValueError("training data yielded no batches: there is nothing to fit")
        logs: dict[str, float] = {"epoch": epoch, "train_loss": total_loss / max(total_n, 1), "lr": self._lr()}
        if val is not None:
            for key, value in self.evaluate(val).items():
                logs[f"val_{key}"] = value
        if self.scheduler is not None and not isinstance(self.scheduler, _PER_BATCH_SCHEDULERS):
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(logs.get("val_loss", logs["train_loss"]))
            else:
                self.scheduler.step()
        self.epoch = epoch
        self.history.epochs.append(logs)
        for cb in self.callbacks:
            cb.on_epoch_end(self, epoch, logs)

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def evaluate(self, data: Iterable) -> dict[str, float]:
        """Mean loss and the configured metrics over ``data`` (batches ``(*inputs, target)``)."""
        outputs, targets, loss_sum, n = [], [], 0.0, 0
        self.model.eval()
        for batch in data:
            inputs, target = _split(_to_device(batch, self.device))
            out = self.model(*inputs)
            k = _batch_size(batch)
            loss_sum += float(self.loss_fn(out, target)) * k
            n += k
            if self.metrics:
                outputs.append(out.detach().cpu())
                targets.append(target.detach().cpu())
        local_n = n
        if self.config.distributed:
            loss_sum, n = _sum_over_ranks(loss_sum, n)
        if n == 0:
            raise ValueError("evaluation data is empty")
        result = {"loss": loss_sum / n}
        if self.metrics:
            pred, tgt = (torch.cat(outputs), torch.cat(targets)) if outputs else (None, None)
            for name, fn in self.metrics:
                value = fn(pred, tgt) if local_n else 0.0
                if self.config.distributed:  # each rank's metric weighted by its samples
                    value = _sum_over_ranks(value * local_n, 0)[0] / n
                result[name] = value
        return result

    @torch.no_grad()
    def predict(self, data: Any, has_target: bool | None = None, batch_size: int = 1024) -> torch.Tensor:
        """Model outputs concatenated over ``data``.

        ``data`` is a loader of batches, or a tensor / tuple of tensors (all inputs, batched here).
        For loader batches, ``has_target`` says whether the last element is a target to drop; by default
        tuples of two or more elements are taken to end with a target, as in :meth:`fit`.
        """
        self.model.eval()
        if isinstance(data, torch.Tensor):
            data = (data,)
        if isinstance(data, tuple) and all(isinstance(t, torch.Tensor) for t in data):
            n = len(data[0])
            if n == 0:
                raise ValueError("nothing to predict: the inputs have zero rows")
            batches: Iterable = (tuple(t[i : i + batch_size] for t in data) for i in range(0, n, batch_size))
            has_target = False
        else:
            batches = data
        outs = []
        for batch in batches:
            batch = _to_device(batch, self.device)
            if isinstance(batch, torch.Tensor):
                inputs: tuple = (batch,)
            elif has_target is False or (has_target is None and len(batch) < 2):
                inputs = tuple(batch)
            else:
                inputs = tuple(batch[:-1])
            outs.append(self.model(*inputs).detach().cpu())
        if not outs:
            raise ValueError("nothing to predict: the data yielded no batches")
        return torch.cat(outs)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: weights, optimizer, scheduler, history, counters, RNG and callbacks."""
        state: dict[str, Any] = {
            "format": _CHECKPOINT_FORMAT,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else None,
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "history": {"steps": self.history.steps, "epochs": self.history.epochs},
            "epoch": self.epoch,
            "step": self.step,
            "target_epoch": self._target_epoch,
            "torch_rng": torch.get_rng_state(),
            "callbacks": [cb.state_dict() for cb in self.callbacks],
        }
        gen = getattr(self._train_loader, "generator", None)
        if isinstance(gen, torch.Generator):
            state["loader_rng"] = gen.get_state()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output."""
        if state.get("format") != _CHECKPOINT_FORMAT:
            raise ValueError(f"not an embedforge trainer checkpoint (format {state.get('format')!r})")
        self.model.load_state_dict(state["model"])
        if self.optimizer is not None and state["optimizer"] is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.history = History(list(state["history"]["steps"]), list(state["history"]["epochs"]))
        self.epoch, self.step, self._target_epoch = state["epoch"], state["step"], state["target_epoch"]
        torch.set_rng_state(state["torch_rng"])
        saved_cbs = state["callbacks"]
        if len(saved_cbs) != len(self.callbacks):
            raise ValueError(
                f"checkpoint has state for {len(saved_cbs)} callbacks but this trainer has {len(self.callbacks)}; "
                "resume with the same callbacks"
            )
        for cb, cb_state in zip(self.callbacks, saved_cbs):
            cb.load_state_dict(cb_state)
        gen = getattr(self._train_loader, "generator", None)
        if "loader_rng" in state and isinstance(gen, torch.Generator):
            gen.set_state(state["loader_rng"])

    def save_checkpoint(self, path: str | os.PathLike) -> None:
        """Write :meth:`state_dict` atomically (temporary file in the same folder, then rename).

        Distributed: rank 0 writes (the dense model is the same on every rank); models with sharded
        tables save those with ``ShardedEmbeddingBagCollection.save`` instead."""
        if self.config.distributed:
            from ..distributed import ShardedEmbeddingBagCollection

            if any(isinstance(m, ShardedEmbeddingBagCollection) for m in self.model.modules()):
                raise NotImplementedError(
                    "Trainer checkpoints of a model with sharded tables: save the tables with "
                    "ShardedEmbeddingBagCollection.save(directory) (per-rank shards + manifest)"
                )
            if self.rank != 0:
                return
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        atomic_write(path, lambda fh: torch.save(self.state_dict(), fh))

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Read a checkpoint written by :meth:`save_checkpoint` into this trainer."""
        if not os.path.exists(path):
            raise FileNotFoundError(f"no checkpoint at {os.fspath(path)!r}")
        self.load_state_dict(torch.load(path, map_location=self.device, weights_only=True))


def _distributed_loader(loader: Any, shuffle_default: bool) -> Any:
    """A DataLoader over the same dataset whose sampler gives this rank its share (DistributedSampler);
    loaders that already have one, and other iterables (already split by the caller), pass through."""
    from torch.utils.data import DataLoader, RandomSampler
    from torch.utils.data.distributed import DistributedSampler

    if (
        not isinstance(loader, DataLoader)
        or isinstance(loader.sampler, DistributedSampler)
        or isinstance(loader.batch_sampler, DistributedSampler)
        or loader.batch_size is None
    ):
        return loader
    shuffle = isinstance(loader.sampler, RandomSampler) if loader.sampler is not None else shuffle_default
    sampler = DistributedSampler(loader.dataset, shuffle=shuffle, drop_last=loader.drop_last)
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=sampler,
        collate_fn=loader.collate_fn,
        num_workers=loader.num_workers,
        drop_last=loader.drop_last,
        generator=loader.generator,
    )


def _sum_over_ranks(a: float, b: float) -> tuple[float, float]:
    """(a, b) summed over the ranks of the default group (float64)."""
    import torch.distributed as dist

    t = torch.tensor([float(a), float(b)], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t[0]), float(t[1])


def _len(data: Any) -> int | None:
    """``len(data)`` when defined."""
    try:
        return len(data)
    except TypeError:
        return None


def _is_empty(data: Any) -> bool:
    """Whether a sized iterable has no batches (unsized ones are checked while iterating)."""
    n = _len(data)
    return n == 0


def _batch_size(batch: Any) -> int:
    """Rows in a batch (length of its last element, the target)."""
    last = batch[-1] if isinstance(batch, (list, tuple)) else batch
    return len(last) if hasattr(last, "__len__") else 1
