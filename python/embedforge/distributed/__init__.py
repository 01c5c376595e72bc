"""Past one machine: sharded embedding tables and distributed training on torch.distributed.

``ShardedEmbeddingBagCollection`` holds each table's rows on their owner ranks (a plan: whole tables
or row ranges), routes ids with ``all_to_all_single`` and updates shards with their fused optimizer
in the backward. Gloo on CPU, NCCL for CUDA tensors; launch with ``torchrun`` or, locally,
``spawn(fn, world_size)``.
"""

from .comm import RankFailedError, check_same_on_all_ranks, default_timeout, init_process_group
from .launch import SpawnError, spawn
from .parallel import data_parallel, sharded_parameter_names
from .plan import ShardingPlan, TablePlacement, plan_tables, table_bytes
from .sharded import ShardedEmbeddingBagCollection, TableConfig

__all__ = [
    "ShardedEmbeddingBagCollection",
    "TableConfig",
    "ShardingPlan",
    "TablePlacement",
    "plan_tables",
    "table_bytes",
    "data_parallel",
    "sharded_parameter_names",
    "spawn",
    "SpawnError",
    "init_process_group",
    "RankFailedError",
    "default_timeout",
    "check_same_on_all_ranks",
]
