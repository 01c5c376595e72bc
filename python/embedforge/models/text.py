"""Text classifiers: a CNN over word embeddings (random or pretrained) and a bag of embeddings."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from .. import nn as enn
from ..data.vocab import Vocab

__all__ = ["pretrained_matrix", "TextCNN", "BagOfEmbeddingsClassifier"]


def pretrained_matrix(
    vocab: Vocab, vectors: Any, seed: int = 0, oov_std: float | None = None
) -> tuple[np.ndarray, float]:
    """A (len(vocab), D) float32 matrix of pretrained rows for ``vocab``, and the fraction of tokens found.

    ``vectors`` is a KeyedVectors-like object (``key in vectors``, ``vectors[key]``, ``vector_size``,
    e.g. :class:`embedforge.vectors.KeyedVectors`) or a numpy/torch matrix already aligned with ``vocab``
    (row i = ``vocab.itos[i]``). Tokens without a vector get small random rows (std ``oov_std``, by default
    the std of the found vectors); the ``<pad>`` row is zero.
    """
    if isinstance(vectors, (np.ndarray, torch.Tensor)):
        mat = np.array(vectors.detach().cpu() if isinstance(vectors, torch.Tensor) else vectors, dtype=np.float32)
        if mat.ndim != 2 or mat.shape[0] != len(vocab):
            raise ValueError(
                f"a pretrained matrix must have one row per vocabulary id: expected ({len(vocab)}, D), got {mat.shape}"
            )
        mat[vocab.pad_id] = 0.0
        return mat, 1.0
    if not (hasattr(vectors, "__contains__") and hasattr(vectors, "__getitem__")):
        raise TypeError(f"vectors must be a KeyedVectors-like object or a matrix, got {type(vectors).__name__}")
    dim = int(getattr(vectors, "vector_size", 0) or 0)
    found: dict[int, np.ndarray] = {}
    for i, tok in enumerate(vocab.itos[2:], start=2):
        if tok in vectors:
            row = np.asarray(vectors[tok], dtype=np.float32).reshape(-1)
            dim = dim or len(row)
            if len(row) != dim:
                raise ValueError(f"vector for {tok!r} has {len(row)} values, expected {dim}")
            found[i] = row
    if not found:
        raise ValueError("none of the vocabulary's tokens has a pretrained vector: check casing and tokenization")
    stack = np.stack(list(found.values()))
    std = float(stack.std()) if oov_std is None else oov_std
    rng = np.random.default_rng(seed)
    mat = rng.normal(0.0, std, (len(vocab), dim)).astype(np.float32)
    for i, row in found.items():
        mat[i] = row
    mat[vocab.pad_id] = 0.0
    return mat, len(found) / max(len(vocab) - 2, 1)


class TextCNN(nn.Module):
    """Word embeddings -> 1-D convolutions of several widths -> max over time -> MLP -> class logits.

    Shapes: B batch, L tokens (padded with ``padding_idx``), D embedding dim, F filters per width,
    C classes. ``forward(x (B, L)) -> logits (B, C)``; inputs shorter than the widest filter are padded.

    Example::

        >>> m = TextCNN(vocab_size=100, embedding_dim=16, n_classes=3, widths=(1, 2, 3), n_filters=8)
        >>> m(torch.randint(2, 100, (4, 7))).shape
        torch.Size([4, 3])
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        n_classes: int,
        widths: Sequence[int] = (1, 2, 3),
        n_filters: int = 64,
        hidden: int = 64,
        dropout: float = 0.3,
        padding_idx: int | None = 0,
        embedding: enn.Embedding | None = None,
    ) -> None:
        """Create ``embedding`` (or use the one given), ``convs`` and the ``classifier`` MLP."""
        super().__init__()
        if not widths or min(widths) < 1:
            raise ValueError(f"widths must be positive integers, got {tuple(widths)}")
        if n_classes < 2:
            raise ValueError(f"n_classes must be >= 2, got {n_classes}")
        self.padding_idx = padding_idx
        self.embedding = (
            embedding if embedding is not None else enn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
        )
        self.convs = nn.ModuleList(nn.Conv1d(embedding_dim, n_filters, w) for w in widths)
        self.max_width = max(widths)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(n_filters * len(widths), hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_classes),
        )

    @classmethod
    def from_pretrained(
        cls, vectors: Any, vocab: Vocab, n_classes: int, freeze: bool = True, **kwargs: Any
    ) -> "TextCNN":
        """A TextCNN whose table starts from pretrained vectors, frozen (``freeze=True``) or fine-tuned."""
        mat, coverage = pretrained_matrix(vocab, vectors, seed=kwargs.pop("seed", 0))
        table = enn.Embedding.from_pretrained(
            torch.from_numpy(mat), freeze=freeze, padding_idx=kwargs.get("padding_idx", vocab.pad_id)
        )
        model = cls(len(vocab), mat.shape[1], n_classes, embedding=table, **kwargs)
        model.coverage = coverage
        return model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits."""
        if x.dim() != 2:
            raise ValueError(f"TextCNN takes padded (B, L) token ids, got shape {tuple(x.shape)}")
        if x.shape[1] < self.max_width:
            x = nn.functional.pad(x, (0, self.max_width - x.shape[1]), value=self.padding_idx or 0)
        e = self.embedding(x).transpose(1, 2)  # (B, D, L)
        pooled = [torch.relu(conv(e)).amax(dim=2) for conv in self.convs]
        return self.classifier(torch.cat(pooled, dim=1))


class BagOfEmbeddingsClassifier(nn.Module):
    """Mean (or sum/max) of a text's word embeddings via ``EmbeddingBag`` -> linear -> class logits.

    Shapes: ``forward(x (B, L) padded)`` or ``forward(ids (N,), offsets (B,))`` -> logits (B, C);
    padding ids are left out of the pooling.

    Example::

        >>> m = BagOfEmbeddingsClassifier(vocab_size=100, embedding_dim=16, n_classes=2)
        >>> m(torch.tensor([[5, 6, 0], [7, 0, 0]])).shape
        torch.Size([2, 2])
    """

    def __init__(
        self, vocab_size: int, embedding_dim: int, n_classes: int, mode: str = "mean", padding_idx: int | None = 0
    ) -> None:
        """Create ``bag`` and ``fc``."""
        super().__init__()
        self.bag = enn.EmbeddingBag(vocab_size, embedding_dim, mode=mode, padding_idx=padding_idx)
        self.fc = nn.Linear(embedding_dim, n_classes)

    def forward(self, x: torch.Tensor, offsets: torch.Tensor | None = None) -> torch.Tensor:
        """Class logits."""
        return self.fc(self.bag(x, offsets))
