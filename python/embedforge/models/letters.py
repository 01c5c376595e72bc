"""Letter embeddings: predict the next character from a small (e.g. 2-D) embedding of the current one."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import nn as enn
from ..data.sequences import next_token_pairs
from ..data.vocab import Vocab

__all__ = ["NextTokenModel", "letter_stream", "train_letter_embeddings"]


class NextTokenModel(nn.Module):
    """Embedding of the last ``context`` tokens -> linear -> logits over the vocabulary.

    Shapes: V ``vocab_size``, D ``embedding_dim``, B batch, C ``context``.
    ``forward(x (B,) or (B, C)) -> logits (B, V)``; the C embeddings are concatenated.

    Example::

        >>> m = NextTokenModel(vocab_size=28, embedding_dim=2)
        >>> m(torch.tensor([3, 4])).shape
        torch.Size([2, 28])
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 2, context: int = 1, hidden: int | None = None) -> None:
        """Build the table (``embedding``), an optional tanh hidden layer, and the output layer (``head``)."""
        super().__init__()
        if context < 1:
            raise ValueError(f"context must be >= 1, got {context}")
        self.context = context
        self.embedding = enn.Embedding(vocab_size, embedding_dim)
        width = embedding_dim * context
        self.hidden = nn.Sequential(nn.Linear(width, hidden), nn.Tanh()) if hidden else nn.Identity()
        self.head = nn.Linear(hidden or width, vocab_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the next token."""
        if x.dim() == 1:
            x = x.unsqueeze(1)
        if x.shape[1] != self.context:
            raise ValueError(f"expected {self.context} context token(s) per row, got input of shape {tuple(x.shape)}")
        e = self.embedding(x).flatten(1)
        return self.head(self.hidden(e))


def letter_stream(text: str, alphabet: str = "abcdefghijklmnopqrstuvwxyz ") -> str:
    """Lower-case ``text``, keep only ``alphabet`` characters, squeeze runs of spaces (newlines become spaces)."""
    text = text.lower().replace("\n", " ").replace("\t", " ")
    kept = "".join(ch for ch in text if ch in alphabet)
    return " ".join(kept.split()) if " " in alphabet else kept


def train_letter_embeddings(
    text: str,
    dim: int = 2,
    epochs: int = 5,
    snapshot_every: int = 20,
    batch_size: int = 512,
    lr: float = 0.02,
    seed: int = 0,
    alphabet: str = "abcdefghijklmnopqrstuvwxyz ",
    return_model: bool = False,
) -> tuple[Vocab, list[np.ndarray]] | tuple[Vocab, list[np.ndarray], NextTokenModel]:
    """Train a :class:`NextTokenModel` on next-letter pairs of ``text``; snapshot the table as it learns.

    Returns ``(vocab, snapshots)``: ``snapshots[0]`` is the initial table, then one copy every
    ``snapshot_every`` optimisation steps, and the final table last (never duplicated). Each snapshot is a
    float32 array (len(vocab), dim) whose row i is ``vocab.itos[i]``; rows 0 and 1 are ``<pad>``/``<unk>``,
    which never train, so plot ``vocab.itos[2:]`` against ``snap[2:]``. With ``return_model=True`` the
    trained model is returned third.
    """
    from ..data.loaders import tensor_loader
    from ..train import Callback, Trainer

    if snapshot_every < 1:
        raise ValueError(f"snapshot_every must be >= 1, got {snapshot_every}")
    stream = letter_stream(text, alphabet)
    if len(stream) < 2:
        raise ValueError(f"text has {len(stream)} usable character(s) from the alphabet {alphabet!r}; need at least 2")
    vocab = Vocab.build([stream])
    torch.manual_seed(seed)
    x, y = next_token_pairs(vocab.encode(stream), context=1)
    model = NextTokenModel(len(vocab), dim)
    snapshots: list[np.ndarray] = [model.embedding.weight.detach().numpy().copy()]

    class _Snap(Callback):
        def on_batch_end(self, trainer: Trainer, step: int, loss: float) -> None:
            if step % snapshot_every == 0:
                snapshots.append(model.embedding.weight.detach().numpy().copy())

    trainer = Trainer(
        model, nn.functional.cross_entropy, torch.optim.Adam(model.parameters(), lr=lr), callbacks=[_Snap()]
    )
    trainer.fit(tensor_loader(x, y, batch_size=batch_size, shuffle=True, seed=seed), epochs=epochs)
    if trainer.step % snapshot_every != 0:
        snapshots.append(model.embedding.weight.detach().numpy().copy())
    if return_model:
        return vocab, snapshots, model
    return vocab, snapshots
