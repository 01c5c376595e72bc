"""Character language models: fixed 3-character, looped RNNs (add / concat), nn.RNN, sequence and Bengio MLP.

Every model here is a :class:`CharLM`: give it the :class:`~embedforge.data.Vocab` it was trained with
(``model.vocab = vocab`` or the ``vocab=`` argument) and call ``generate(prefix, n, temperature)``.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .. import nn as enn
from ..data.vocab import Vocab

__all__ = ["CharLM", "Char3Model", "LoopRNN", "TorchRNNModel", "SequenceRNN", "BengioMLP"]


class CharLM(nn.Module):
    """Base class: a character model with a ``vocab`` and sampling-based ``generate``.

    Subclasses implement ``next_logits(context (1, L)) -> (V,)``; ``context_size`` fixes L (left-padded
    with ``<pad>``) or is None for any length up to ``max_context``.
    """

    context_size: Optional[int] = None
    max_context: int = 64

    def __init__(self, vocab: Vocab | None = None) -> None:
        """Keep the vocabulary used to encode prefixes and decode samples."""
        super().__init__()
        self.vocab = vocab

    def next_logits(self, context: torch.Tensor) -> torch.Tensor:
        """Logits (V,) of the character following a (1, L) context."""
        raise NotImplementedError

    @torch.no_grad()
    def generate(self, prefix: str, n: int, temperature: float = 1.0, seed: int | None = None) -> str:
        """Extend ``prefix`` by ``n`` sampled characters (``temperature`` 0 = greedy); returns prefix + sample.

        ``<pad>`` and ``<unk>`` are never sampled; characters of ``prefix`` missing from the vocabulary
        raise ``KeyError`` so a typo cannot silently become ``<unk>``.
        """
        if self.vocab is None:
            raise ValueError("this model has no vocab: set model.vocab = vocab (the one used to train it)")
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        unknown = sorted({ch for ch in prefix if ch not in self.vocab})
        if unknown:
            raise KeyError(f"prefix has character(s) {unknown} that are not in the model's vocabulary")
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        was_training = self.training
        self.eval()
        ids = self.vocab.encode(prefix)
        device = next(self.parameters()).device
        out = []
        for _ in range(n):
            k = self.context_size or min(max(len(ids), 1), self.max_context)
            ctx = ids[-k:] if ids else []
            ctx = [0] * (k - len(ctx)) + ctx
            logits = self.next_logits(torch.tensor([ctx], device=device)).float().cpu()
            logits[:2] = -torch.inf  # never emit <pad> / <unk>
            if temperature == 0:
                nxt = int(logits.argmax())
            else:
                probs = torch.softmax(logits / temperature, dim=-1)
                nxt = int(torch.multinomial(probs, 1, generator=gen))
            ids.append(nxt)
            out.append(self.vocab.itos[nxt])
        self.train(was_training)
        return prefix + "".join(out)


class Char3Model(CharLM):
    """Three characters in, the fourth out: the same input and hidden layers applied three times.

    Shapes: V vocab, E ``emb_dim``, H ``n_hidden``. ``forward(x (B, 3)) -> logits (B, V)``.

    Example::

        >>> m = Char3Model(vocab_size=30, n_hidden=16)
        >>> m(torch.tensor([[2, 3, 4]])).shape
        torch.Size([1, 30])
    """

    context_size = 3

    def __init__(self, vocab_size: int, n_hidden: int = 64, emb_dim: int = 16, vocab: Vocab | None = None) -> None:
        """Create ``embedding``, ``input`` (E->H), ``hidden`` (H->H) and ``output`` (H->V)."""
        super().__init__(vocab)
        self.embedding = enn.Embedding(vocab_size, emb_dim)
        self.input = nn.Linear(emb_dim, n_hidden)
        self.hidden = nn.Linear(n_hidden, n_hidden)
        self.output = nn.Linear(n_hidden, vocab_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the 4th character."""
        if x.dim() != 2 or x.shape[1] != 3:
            raise ValueError(f"Char3Model takes (B, 3) character ids, got shape {tuple(x.shape)}")
        e = self.embedding(x)
        h = torch.tanh(self.input(e[:, 0]))
        h = torch.tanh(self.hidden(h) + self.input(e[:, 1]))
        h = torch.tanh(self.hidden(h) + self.input(e[:, 2]))
        return self.output(torch.tanh(self.hidden(h)))

    def next_logits(self, context: torch.Tensor) -> torch.Tensor:
        """Logits after a (1, 3) context."""
        return self(context)[0]


class LoopRNN(CharLM):
    """A hand-written RNN loop over any number of characters; ``mode`` says how input meets state.

    ``"add"``: ``h = tanh(W_h h + W_x e_t)``; ``"concat"``: ``h = tanh(W [h; e_t])``.
    Shapes: ``forward(x (B, L)) -> logits (B, V)`` for the character after the L inputs.

    Example::

        >>> m = LoopRNN(vocab_size=30, n_hidden=16, mode="concat")
        >>> m(torch.tensor([[2, 3, 4, 5, 6]])).shape
        torch.Size([1, 30])
    """

    def __init__(
        self, vocab_size: int, n_hidden: int = 64, emb_dim: int = 16, mode: str = "add", vocab: Vocab | None = None
    ) -> None:
        """Create ``embedding``, the recurrence and ``output``."""
        super().__init__(vocab)
        if mode not in ("add", "concat"):
            raise ValueError(f"mode must be 'add' or 'concat', got {mode!r}")
        self.mode, self.n_hidden = mode, n_hidden
        self.embedding = enn.Embedding(vocab_size, emb_dim)
        if mode == "add":
            self.input = nn.Linear(emb_dim, n_hidden)
            self.hidden = nn.Linear(n_hidden, n_hidden)
        else:
            self.cell = nn.Linear(n_hidden + emb_dim, n_hidden)
        self.output = nn.Linear(n_hidden, vocab_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the next character."""
        if x.dim() != 2 or x.shape[1] == 0:
            raise ValueError(f"LoopRNN takes (B, L>=1) character ids, got shape {tuple(x.shape)}")
        e = self.embedding(x)
        h = e.new_zeros(x.shape[0], self.n_hidden)
        for t in range(x.shape[1]):
            if self.mode == "add":
                h = torch.tanh(self.hidden(h) + self.input(e[:, t]))
            else:
                h = torch.tanh(self.cell(torch.cat([h, e[:, t]], dim=1)))
        return self.output(h)

    def next_logits(self, context: torch.Tensor) -> torch.Tensor:
        """Logits after a (1, L) context."""
        return self(context)[0]


class TorchRNNModel(CharLM):
    """Embedding -> ``torch.nn.RNN``/``GRU``/``LSTM`` -> last state -> logits.

    Shapes: ``forward(x (B, L)) -> logits (B, V)``.

    Example::

        >>> m = TorchRNNModel(vocab_size=30, n_hidden=16, cell="gru")
        >>> m(torch.tensor([[2, 3, 4]])).shape
        torch.Size([1, 30])
    """

    _CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}

    def __init__(
        self,
        vocab_size: int,
        n_hidden: int = 64,
        emb_dim: int = 16,
        num_layers: int = 1,
        cell: str = "rnn",
        vocab: Vocab | None = None,
    ) -> None:
        """Create ``embedding``, ``rnn`` and ``output``."""
        super().__init__(vocab)
        if cell not in self._CELLS:
            raise ValueError(f"cell must be one of {sorted(self._CELLS)}, got {cell!r}")
        self.embedding = enn.Embedding(vocab_size, emb_dim)
        self.rnn = self._CELLS[cell](emb_dim, n_hidden, num_layers=num_layers, batch_first=True)
        self.output = nn.Linear(n_hidden, vocab_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the next character."""
        out, _ = self.rnn(self.embedding(x))
        return self.output(out[:, -1])

    def next_logits(self, context: torch.Tensor) -> torch.Tensor:
        """Logits after a (1, L) context."""
        return self(context)[0]


class SequenceRNN(CharLM):
    """Predict every next character of a sequence; optionally carry the hidden state across batches.

    With ``stateful=True`` the final state of one batch (detached, so gradients stop there) starts the
    next, which suits :func:`~embedforge.data.sequence_batches`; call :meth:`reset` between epochs.
    Shapes: ``forward(x (B, L)) -> logits (B, L, V)``; train with ``flat_cross_entropy``.

    Example::

        >>> m = SequenceRNN(vocab_size=30, n_hidden=16)
        >>> m(torch.tensor([[2, 3, 4, 5]])).shape
        torch.Size([1, 4, 30])
    """

    def __init__(
        self,
        vocab_size: int,
        n_hidden: int = 64,
        emb_dim: int = 16,
        num_layers: int = 1,
        cell: str = "gru",
        dropout: float = 0.0,
        stateful: bool = False,
        vocab: Vocab | None = None,
    ) -> None:
        """Create ``embedding``, ``rnn``, ``dropout`` and ``output``."""
        super().__init__(vocab)
        cells = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
        if cell not in cells:
            raise ValueError(f"cell must be one of {sorted(cells)}, got {cell!r}")
        self.stateful = stateful
        self.embedding = enn.Embedding(vocab_size, emb_dim)
        self.rnn = cells[cell](emb_dim, n_hidden, num_layers=num_layers, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(n_hidden, vocab_size)
        self._state: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None

    def reset(self) -> None:
        """Forget the carried hidden state."""
        self._state = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the character after each position."""
        state = self._state if self.stateful else None
        if state is not None and _state_batch(state) != x.shape[0]:
            state = None  # a short last batch or a new loader: start fresh
        out, new_state = self.rnn(self.embedding(x), state)
        if self.stateful:
            self._state = tuple(s.detach() for s in new_state) if isinstance(new_state, tuple) else new_state.detach()
        return self.output(self.dropout(out))

    def next_logits(self, context: torch.Tensor) -> torch.Tensor:
        """Logits after a (1, L) context (runs without the carried state)."""
        out, _ = self.rnn(self.embedding(context))
        return self.output(out[0, -1])


def _state_batch(state: torch.Tensor | tuple[torch.Tensor, ...]) -> int:
    """Batch size of an RNN state."""
    return (state[0] if isinstance(state, tuple) else state).shape[1]


class BengioMLP(CharLM):
    """Bengio et al.'s neural LM: concatenate the embeddings of the last ``block_size`` characters -> tanh MLP.

    Shapes: K ``block_size``, E ``emb_dim``. ``forward(x (B, K)) -> logits (B, V)``; pair it with
    :func:`~embedforge.data.block_contexts`.

    Example::

        >>> m = BengioMLP(vocab_size=30, block_size=4, emb_dim=8, n_hidden=32)
        >>> m(torch.tensor([[0, 0, 2, 3]])).shape
        torch.Size([1, 30])
    """

    def __init__(
        self, vocab_size: int, block_size: int = 4, emb_dim: int = 10, n_hidden: int = 128, vocab: Vocab | None = None
    ) -> None:
        """Create ``embedding``, ``hidden`` and ``output``."""
        super().__init__(vocab)
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        self.context_size = block_size
        self.embedding = enn.Embedding(vocab_size, emb_dim)
        self.hidden = nn.Sequential(nn.Linear(block_size * emb_dim, n_hidden), nn.Tanh())
        self.output = nn.Linear(n_hidden, vocab_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the character after each block."""
        if x.dim() != 2 or x.shape[1] != self.context_size:
            raise ValueError(f"BengioMLP takes (B, {self.context_size}) ids, got shape {tuple(x.shape)}")
        return self.output(self.hidden(self.embedding(x).flatten(1)))

    def next_logits(self, context: torch.Tensor) -> torch.Tensor:
        """Logits after a (1, K) context."""
        return self(context)[0]
