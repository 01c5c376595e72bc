"""Datasets of variable-length sequences and DataLoader helpers with a padding collate."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch.utils.data import DataLoader, Dataset

from .sequences import pad_sequences

__all__ = ["SequenceDataset", "PadCollate", "TensorLoader", "tensor_loader", "sequence_loader", "make_loader"]


class SequenceDataset(Dataset):
    """Variable-length token sequences with one label each.

    Shapes: item i is ``(ids (L_i,), label ())``; batch through :class:`PadCollate` to (B, L) and (B,).

    Example::

        >>> ds = SequenceDataset([[1, 2], [3]], [0, 1])
        >>> ds[1]
        (tensor([3]), tensor(1))
    """

    def __init__(self, sequences: Sequence[Sequence[int]], labels: Sequence[int] | torch.Tensor) -> None:
        """Hold sequences and labels of equal count."""
        if len(sequences) != len(labels):
            raise ValueError(f"got {len(sequences)} sequences but {len(labels)} labels; they must match")
        self.sequences = [torch.as_tensor(s, dtype=torch.long).reshape(-1) for s in sequences]
        self.labels = torch.as_tensor(labels)

    def __len__(self) -> int:
        """Number of examples."""
        return len(self.sequences)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One ``(ids, label)`` pair."""
        return self.sequences[i], self.labels[i]


class PadCollate:
    """Collate ``(ids, label)`` items into padded ``(x (B, L), y (B,))``; optionally lengths too.

    With ``return_lengths=True`` a batch is ``(x, lengths (B,), y)`` so a model gets ``model(x, lengths)``.
    ``max_len`` caps L (longer sequences truncated per ``truncating``).

    Example::

        >>> x, y = PadCollate()([(torch.tensor([1, 2]), torch.tensor(0)), (torch.tensor([3]), torch.tensor(1))])
        >>> x.tolist(), y.tolist()
        ([[1, 2], [3, 0]], [0, 1])
    """

    def __init__(
        self,
        pad_value: int = 0,
        max_len: int | None = None,
        padding: str = "post",
        truncating: str = "post",
        return_lengths: bool = False,
        min_len: int = 1,
    ) -> None:
        """Configure padding (``min_len`` keeps L >= widest convolution, for instance)."""
        self.pad_value = pad_value
        self.max_len = max_len
        self.padding = padding
        self.truncating = truncating
        self.return_lengths = return_lengths
        self.min_len = min_len

    def __call__(self, batch: Sequence[tuple[Any, Any]]) -> tuple[torch.Tensor, ...]:
        """Pad the sequences of a list of ``(ids, label)`` items."""
        if not batch:
            raise ValueError("cannot collate an empty batch")
        seqs = [torch.as_tensor(item[0], dtype=torch.long).reshape(-1) for item in batch]
        labels = torch.stack([torch.as_tensor(item[1]) for item in batch])
        longest = max(len(s) for s in seqs)
        length = self.max_len if self.max_len is not None else max(longest, self.min_len)
        x = pad_sequences(seqs, max_len=length, value=self.pad_value, padding=self.padding, truncating=self.truncating)
        if self.return_lengths:
            lengths = torch.tensor([min(len(s), length) for s in seqs], dtype=torch.long)
            return x, lengths, labels
        return x, labels


def _generator(seed: int | None) -> torch.Generator | None:
    """A seeded generator for reproducible shuffling (None keeps torch's global RNG)."""
    if seed is None:
        return None
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def make_loader(
    dataset: Dataset,
    batch_size: int = 64,
    shuffle: bool = False,
    seed: int | None = 0,
    collate_fn: Callable | None = None,
    drop_last: bool = False,
) -> DataLoader:
    """A single-process DataLoader, reproducibly shuffled with ``seed``; refuses empty datasets."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if len(dataset) == 0:  # type: ignore[arg-type]
        raise ValueError("dataset is empty: there is nothing to load")
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=_generator(seed),
        collate_fn=collate_fn,
        drop_last=drop_last,
    )


class TensorLoader:
    """Batches of aligned tensors sliced by index (no per-row ``__getitem__``), reproducibly shuffled.

    Shapes: each batch is a tuple of tensors with the same leading size B (the last batch may be smaller).
    Iterating twice with ``shuffle=True`` gives two different orders drawn from ``generator``.

    Example::

        >>> loader = TensorLoader(torch.arange(5), torch.arange(5) * 2, batch_size=2)
        >>> [b[1].tolist() for b in loader]
        [[0, 2], [4, 6], [8]]
    """

    def __init__(
        self,
        *tensors: torch.Tensor,
        batch_size: int = 64,
        shuffle: bool = False,
        seed: int | None = 0,
        drop_last: bool = False,
    ) -> None:
        """Hold the tensors; ``seed`` seeds the shuffling generator."""
        if not tensors:
            raise ValueError("TensorLoader needs at least one tensor")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        n = len(tensors[0])
        for pos, t in enumerate(tensors):
            if len(t) != n:
                raise ValueError(f"tensors[{pos}] has {len(t)} rows but tensors[0] has {n}; they must match")
        if n == 0:
            raise ValueError("dataset is empty: there is nothing to load")
        self.tensors = tuple(torch.as_tensor(t) for t in tensors)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.generator = _generator(seed) if seed is not None else torch.Generator()
        if seed is None:
            self.generator.seed()

    def __len__(self) -> int:
        """Number of batches per pass."""
        n = len(self.tensors[0])
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        """Yield tuples of batch slices."""
        n = len(self.tensors[0])
        order = torch.randperm(n, generator=self.generator) if self.shuffle else None
        for b in range(len(self)):
            lo, hi = b * self.batch_size, min((b + 1) * self.batch_size, n)
            if order is None:
                yield tuple(t[lo:hi] for t in self.tensors)
            else:
                idx = order[lo:hi]
                yield tuple(t[idx] for t in self.tensors)


def tensor_loader(
    *tensors: torch.Tensor, batch_size: int = 64, shuffle: bool = False, seed: int | None = 0, drop_last: bool = False
) -> TensorLoader:
    """Batches of aligned tensors (the last one is the target for :class:`~embedforge.train.Trainer`)."""
    return TensorLoader(*tensors, batch_size=batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)


def sequence_loader(
    sequences: Sequence[Sequence[int]],
    labels: Sequence[int] | torch.Tensor,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int | None = 0,
    pad_value: int = 0,
    max_len: int | None = None,
    min_len: int = 1,
) -> DataLoader:
    """Batches ``(x (B, L), y (B,))`` of variable-length sequences padded per batch."""
    return make_loader(
        SequenceDataset(sequences, labels),
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        collate_fn=PadCollate(pad_value=pad_value, max_len=max_len, min_len=min_len),
    )
