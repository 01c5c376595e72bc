"""Embedding layers on embedforge's fused kernels: drop-ins for torch.nn's classes."""

from .embedding import Embedding, EmbeddingBag
from .collection import EmbeddingBagCollection, EmbeddingBagConfig

__all__ = ["Embedding", "EmbeddingBag", "EmbeddingBagCollection", "EmbeddingBagConfig"]
