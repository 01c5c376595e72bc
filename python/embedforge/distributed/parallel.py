"""Dense layers under DistributedDataParallel beside sharded tables."""

from __future__ import annotations

from typing import Any, List

import torch
from torch.nn.parallel import DistributedDataParallel

from .sharded import ShardedEmbeddingBagCollection

__all__ = ["data_parallel", "sharded_parameter_names"]


def sharded_parameter_names(model: torch.nn.Module) -> List[str]:
    """Names of the parameters and buffers of every sharded collection inside ``model``."""
    names = []
    for mname, m in model.named_modules():
        if isinstance(m, ShardedEmbeddingBagCollection):
            pre = f"{mname}." if mname else ""
            names += [pre + n for n, _ in m.named_parameters()] + [pre + n for n, _ in m.named_buffers()]
    return names


def data_parallel(model: torch.nn.Module, process_group=None, **ddp_kwargs: Any) -> DistributedDataParallel:
    """Wraps ``model`` in DDP with its sharded tables kept out of DDP's all-reduce and buffer
    broadcast: DDP averages the dense gradients, the tables' owners update their own rows."""
    DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, sharded_parameter_names(model))
    return DistributedDataParallel(model, process_group=process_group, **ddp_kwargs)
