"""Fused sparse optimizers for embedding tables: configs that the backward applies in place.

Give a config to a table (``embedforge.nn.EmbeddingBag(..., optimizer=RowWiseAdagrad(lr=0.05))``)
and the table updates itself during ``backward()``: each touched row is updated right after its
gradient is reduced, no gradient tensor is formed and the weight never gets a ``.grad``. The rest
of the model keeps using any torch optimizer. ``LRAdapter`` lets torch LR schedulers drive the
learning rates of fused tables.

All updates touch only the rows a batch uses ("lazy" semantics, as torch's sparse optimizers and
FBGEMM's): weight decay (L2, added to the gradient) and moment decay apply to touched rows only.
"""

from __future__ import annotations

import dataclasses
import math
import struct
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

import torch

from .. import _huge_pages
from ..ops import fused_optim as _fused
from ..ops.fused_optim import BackwardTwiceError, Batch

__all__ = [
    "FusedOptimizer",
    "SGD",
    "Adagrad",
    "RowWiseAdagrad",
    "Adam",
    "LazyAdam",
    "FusedState",
    "LRAdapter",
    "FusedOptimizerError",
    "SharedTableError",
    "BackwardTwiceError",
]


class FusedOptimizerError(RuntimeError):
    """A fused-optimizer table was used in a way that would update it wrongly."""


class SharedTableError(FusedOptimizerError):
    """A table with a fused optimizer is also updated or differentiated through something else."""


_FLOAT32_MAX = 3.4028234663852886e38


def _check_number(
    name: str, value: Any, *, low: float = 0.0, low_open: bool = False, high: Optional[float] = None
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    v = float(value)
    ok = math.isfinite(v) and (v > low if low_open else v >= low) and (high is None or v < high)
    if not ok:
        rule = f"{'>' if low_open else '>='} {low:g}" + (f" and < {high:g}" if high is not None else "")
        raise ValueError(f"{name}={value!r} must be a finite number {rule}")
    # The kernels compute in float32: the value must keep its meaning there (lr=1e39 is inf,
    # eps=1e-50 is 0, betas of 0.999999999 are 1), so refuse it here, at construction.
    if abs(v) > _FLOAT32_MAX:
        raise ValueError(
            f"{name}={value!r} overflows float32 (largest {_FLOAT32_MAX:.6g}), which the kernels compute in"
        )
    v32 = struct.unpack("<f", struct.pack("<f", v))[0]
    if not ((v32 > low if low_open else v32 >= low) and (high is None or v32 < high)):
        raise ValueError(
            f"{name}={value!r} rounds to {v32!r} in float32, which the kernels compute in, and "
            f"breaks the rule {'>' if low_open else '>='} {low:g}" + (f" and < {high:g}" if high is not None else "")
        )
    return v


@dataclasses.dataclass(eq=False)
class FusedOptimizer:
    """Base of the fused optimizer configs: hyper-parameters, validated whenever they are set.

    ``stochastic_rounding`` (bfloat16/float16 tables) rounds updated rows stochastically, seeded by
    ``seed`` and the table's step count, so runs are reproducible.
    """

    lr: float

    def __setattr__(self, name: str, value: Any) -> None:
        value = self._validate(name, value)
        super().__setattr__(name, value)

    def _validate(self, name: str, value: Any) -> Any:
        if name in ("lr", "weight_decay"):
            return _check_number(name, value)
        if name == "eps":
            return _check_number(name, value, low_open=True)
        if name == "initial_accumulator_value":
            return _check_number(name, value)
        if name == "betas":
            if not isinstance(value, (tuple, list)) or len(value) != 2:
                raise ValueError(f"betas must be a pair (beta1, beta2), got {value!r}")
            return (_check_number("betas[0]", value[0], high=1.0), _check_number("betas[1]", value[1], high=1.0))
        if name == "seed":
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"seed must be an int, got {type(value).__name__}")
            return value
        return value

    # ---- what a table needs --------------------------------------------------------------
    def init_state(self, weight: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Fresh optimizer state for a [V, D] table (float32, on the table's device)."""
        return {}

    def apply(
        self, weight: torch.Tensor, state: Dict[str, torch.Tensor], grad: torch.Tensor, batch: Batch, seed: int
    ) -> None:
        """One fused step on the rows `batch` touches (called by the table's backward)."""
        raise NotImplementedError

    def hparams(self) -> Dict[str, Any]:
        """The hyper-parameters as plain values (for checkpoints)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def _zeros(weight: torch.Tensor, *shape: int, fill: float = 0.0) -> torch.Tensor:
    # State rows are read and written as scattered as the table's: large state goes on huge pages
    # too, advised before the fill touches it (so nothing is copied).
    t = torch.empty(shape, dtype=torch.float32, device=weight.device)
    _huge_pages.advise(t)
    return t.fill_(fill)


@dataclasses.dataclass(eq=False)
class SGD(FusedOptimizer):
    """Plain SGD on touched rows: ``w -= lr * (g + weight_decay * w)``. No state."""

    lr: float
    weight_decay: float = 0.0
    stochastic_rounding: bool = True
    seed: int = 0

    def apply(self, weight, state, grad, batch, seed):
        _fused.sgd_step(weight, grad, batch, self.lr, self.weight_decay, self.stochastic_rounding, seed)


@dataclasses.dataclass(eq=False)
class Adagrad(FusedOptimizer):
    """Adagrad with element-wise state, as ``torch.optim.Adagrad`` (lr_decay=0): ``s += g²;
    w -= lr * g / (sqrt(s) + eps)``. State: ``state_sum`` [V, D] float32."""

    lr: float
    eps: float = 1e-10
    initial_accumulator_value: float = 0.0
    weight_decay: float = 0.0
    stochastic_rounding: bool = True
    seed: int = 0

    def init_state(self, weight):
        return {"state_sum": _zeros(weight, *weight.shape, fill=self.initial_accumulator_value)}

    def apply(self, weight, state, grad, batch, seed):
        _fused.adagrad_step(
            weight,
            state["state_sum"],
            grad,
            batch,
            self.lr,
            self.eps,
            self.weight_decay,
            self.stochastic_rounding,
            seed,
        )


@dataclasses.dataclass(eq=False)
class RowWiseAdagrad(FusedOptimizer):
    """Adagrad with one accumulator per row: ``s_r += mean(g_r²); w_r -= lr * g_r / (sqrt(s_r) + eps)``.
    State: ``state_sum`` [V] float32 (4 bytes a row instead of 4·D)."""

    lr: float
    eps: float = 1e-10
    initial_accumulator_value: float = 0.0
    weight_decay: float = 0.0
    stochastic_rounding: bool = True
    seed: int = 0

    def init_state(self, weight):
        return {"state_sum": _zeros(weight, weight.shape[0], fill=self.initial_accumulator_value)}

    def apply(self, weight, state, grad, batch, seed):
        _fused.rowwise_adagrad_step(
            weight,
            state["state_sum"],
            grad,
            batch,
            self.lr,
            self.eps,
            self.weight_decay,
            self.stochastic_rounding,
            seed,
        )


@dataclasses.dataclass(eq=False)
class Adam(FusedOptimizer):
    """Adam on touched rows, as ``torch.optim.SparseAdam``: the table's step count t advances once per
    step and drives the bias correction of every row it updates; ``w -= lr/(1-β1^t) · m /
    (sqrt(v/(1-β2^t)) + eps)``. weight_decay adds ``weight_decay * w`` to touched rows' gradients.
    State: ``exp_avg``, ``exp_avg_sq`` [V, D] float32, ``step`` [1] int64."""

    lr: float = 1e-3
    betas: Tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    stochastic_rounding: bool = True
    seed: int = 0

    per_row_step = False

    def init_state(self, weight):
        V, D = weight.shape
        steps = V if self.per_row_step else 1
        return {
            "exp_avg": _zeros(weight, V, D),
            "exp_avg_sq": _zeros(weight, V, D),
            "step": torch.zeros(steps, dtype=torch.int64, device=weight.device),
        }

    def apply(self, weight, state, grad, batch, seed):
        _fused.adam_step(
            weight,
            state["exp_avg"],
            state["exp_avg_sq"],
            state["step"],
            grad,
            batch,
            self.lr,
            self.betas[0],
            self.betas[1],
            self.eps,
            self.weight_decay,
            self.per_row_step,
            self.stochastic_rounding,
            seed,
        )


@dataclasses.dataclass(eq=False)
class LazyAdam(Adam):
    """Adam where each row keeps its own step count: a row's moments, count and bias correction
    advance only when a batch touches it, so a rarely seen row gets the bias-corrected step of a
    fresh Adam rather than one damped by the table's global count. State: ``exp_avg``,
    ``exp_avg_sq`` [V, D] float32, ``step`` [V] int64."""

    per_row_step = True


# ---- the state a table carries ---------------------------------------------------------------
def _storage_key(t: torch.Tensor) -> Tuple[str, int]:
    return (str(t.device), t.untyped_storage().data_ptr())


class FusedState(torch.nn.Module):
    """A table's fused optimizer: its config, its state tensors (buffers, so ``state_dict()`` and
    ``.to(device)`` carry them; they stay float32 whatever the table dtype) and its step count
    (with the config, the module's extra state, so checkpoints round-trip)."""

    def __init__(self, optimizer: FusedOptimizer, weight: torch.Tensor) -> None:
        super().__init__()
        if not isinstance(optimizer, FusedOptimizer):
            raise TypeError(
                f"optimizer must be an embedforge.optim config (SGD, Adagrad, RowWiseAdagrad, Adam, LazyAdam), "
                f"got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.steps = 0
        for name, t in optimizer.init_state(weight.detach()).items():
            self.register_buffer(name, t)

    def state(self) -> Dict[str, torch.Tensor]:
        return dict(self._buffers)

    def seed(self) -> int:
        """The rounding seed of the next step: a mix of the config's seed and the step count."""
        return (self.optimizer.seed * 0x9E3779B1 + self.steps * 0x85EBCA77 + 1) & 0x7FFFFFFFFFFFFFFF

    def update(self, weight: torch.Tensor, grad: torch.Tensor, batch: Batch) -> None:
        with torch.no_grad():
            self.optimizer.apply(weight, self.state(), grad, batch, self.seed())
        self.steps += 1

    def _apply(self, fn, recurse=True):
        # .to(dtype) / .half() must not change optimizer state: it stays float32 (and int64).
        for name, buf in list(self._buffers.items()):
            if buf is not None:
                new = fn(buf)
                self._buffers[name] = new.to(buf.dtype) if new.dtype != buf.dtype else new
        return self

    def get_extra_state(self) -> Dict[str, Any]:
        return {"optimizer": type(self.optimizer).__name__, "hparams": self.optimizer.hparams(), "steps": self.steps}

    def set_extra_state(self, state: Dict[str, Any]) -> None:
        kind = state.get("optimizer")
        if kind != type(self.optimizer).__name__:
            raise ValueError(
                f"checkpoint holds {kind} optimizer state but this table uses {type(self.optimizer).__name__}"
            )
        for k, v in state["hparams"].items():
            setattr(self.optimizer, k, tuple(v) if k == "betas" else v)
        self.steps = int(state["steps"])

    def extra_repr(self) -> str:
        return repr(self.optimizer)


class _OwnedTables:
    """Which module owns the fused optimizer of each table storage (one per table)."""

    def __init__(self) -> None:
        import weakref

        self._owners: "weakref.WeakValueDictionary[Tuple[str, int], torch.nn.Module]" = weakref.WeakValueDictionary()

    def claim(self, weight: torch.Tensor, owner: torch.nn.Module) -> None:
        key = _storage_key(weight)
        current = self._owners.get(key)
        # An entry is stale when its owner's table has moved since (.to(), load, reassignment) and
        # the allocator has handed this address to another tensor.
        stale = current is not None and _storage_key(current.weight) != key
        if current is not None and current is not owner and not stale:
            raise SharedTableError(
                "this table's memory already belongs to another layer with a fused optimizer; two fused updates "
                "of one table per backward would apply every step twice. Give each layer its own weight "
                "(e.g. from_pretrained(w.clone())), or attach the optimizer to one of them only"
            )
        self._owners[key] = owner


owned_tables = _OwnedTables()


def check_table(weight: torch.Tensor, owner: torch.nn.Module) -> None:
    """Refuses a forward of a fused table that something else also trains (see SharedTableError)."""
    if weight.grad_fn is not None or not weight.is_leaf:
        raise SharedTableError("a table with a fused optimizer must be a leaf tensor, not the result of other ops")
    if not weight.requires_grad:
        raise SharedTableError(
            "a table with a fused optimizer must keep requires_grad=True (its updates are triggered by "
            "backward); freeze it by removing the optimizer instead"
        )
    if weight.grad is not None:
        raise SharedTableError(
            "a table with a fused optimizer received an autograd gradient (.grad is set): it is used by another "
            "op or layer as well, whose gradient would be lost or applied by a second optimizer. Use a separate "
            "table for that, or set weight.grad = None if it was left by an earlier plain training loop"
        )
    owned_tables.claim(weight, owner)


# ---- torch LR schedulers --------------------------------------------------------------------
class _LinkedGroup(dict):
    """A param group whose "lr" is the config's lr (reads and writes go through, validated)."""

    def __init__(self, base: dict, config: FusedOptimizer) -> None:
        super().__init__(base)
        self.config = config

    def __getitem__(self, key):
        if key == "lr":
            return self.config.lr
        return super().__getitem__(key)

    def __setitem__(self, key, value):
        if key == "lr":
            self.config.lr = float(value)
        super().__setitem__(key, value)

    def get(self, key, default=None):
        return self["lr"] if key == "lr" else super().get(key, default)


def _configs(targets: Iterable[Any]) -> List[FusedOptimizer]:
    out: List[FusedOptimizer] = []
    for t in targets:
        if isinstance(t, FusedOptimizer):
            out.append(t)
        elif isinstance(t, torch.nn.Module):
            found = [m.optimizer for m in t.modules() if isinstance(m, FusedState)]
            if not found:
                raise ValueError(f"{type(t).__name__} has no table with a fused optimizer")
            out.extend(found)
        else:
            raise TypeError(f"LRAdapter takes fused optimizer configs or modules, got {type(t).__name__}")
    unique: List[FusedOptimizer] = []
    for c in out:
        if not any(c is u for u in unique):
            unique.append(c)
    return unique


class LRAdapter(torch.optim.Optimizer):
    """Presents fused optimizer configs to torch LR schedulers as an optimizer with one param group
    each; a scheduler's ``group["lr"] = ...`` sets the config's lr, used by the next backward.

    >>> bag = embedforge.nn.EmbeddingBag(100, 8, optimizer=SGD(lr=0.1))     # doctest: +SKIP
    >>> sched = torch.optim.lr_scheduler.StepLR(LRAdapter([bag]), step_size=10)  # doctest: +SKIP

    ``step()`` does nothing (the update already happened in backward); call it before
    ``sched.step()`` as with any optimizer.
    """

    def __init__(self, targets: Union[Iterable[Any], FusedOptimizer, torch.nn.Module]) -> None:
        if isinstance(targets, (FusedOptimizer, torch.nn.Module)):
            targets = [targets]
        configs = _configs(targets)
        if not configs:
            raise ValueError("LRAdapter needs at least one fused optimizer config")
        # torch.optim.Optimizer needs a tensor per group; a placeholder keeps the real tables out of
        # zero_grad() and friends.
        groups = [{"params": [torch.zeros(0, requires_grad=True)], "lr": c.lr} for c in configs]
        super().__init__(groups, defaults={"lr": configs[0].lr})
        self.param_groups = [_LinkedGroup(g, c) for g, c in zip(self.param_groups, configs)]

    def load_state_dict(self, state_dict) -> None:
        """As torch's, keeping each group's lr linked to its config (and setting it)."""
        configs = [g.config for g in self.param_groups]
        super().load_state_dict(state_dict)
        self.param_groups = [_LinkedGroup(g, c) for g, c in zip(self.param_groups, configs)]
        for g in self.param_groups:
            g["lr"] = dict.__getitem__(g, "lr")

    def step(self, closure=None):  # noqa: D401 - torch's signature
        """No-op: fused tables updated themselves in backward."""
        return closure() if closure is not None else None
