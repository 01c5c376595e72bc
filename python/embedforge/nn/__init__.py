"""Embedding layers on embedforge's fused kernels: drop-ins for torch.nn's classes."""

from .collection import EmbeddingBagCollection, EmbeddingBagConfig
from .embedding import Embedding, EmbeddingBag

__all__ = ["Embedding", "EmbeddingBag", "EmbeddingBagCollection", "EmbeddingBagConfig"]
