"""Operators of the native core, as Python functions with autograd (torch.ops.embedforge.*)."""

from . import fused_optim
from .embedding_bag import MODES, embedding, embedding_bag
from .embedding_bag_collection import embedding_bag_collection
from .word2vec import sgns_step

__all__ = ["embedding_bag", "embedding", "MODES", "fused_optim", "embedding_bag_collection", "sgns_step"]
