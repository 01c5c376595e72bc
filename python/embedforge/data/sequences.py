"""Padding and the ways a token stream becomes training examples: pairs, blocks, sequence batches."""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import torch

__all__ = [
    "pad_sequences",
    "next_token_pairs",
    "block_contexts",
    "sequence_chunks",
    "sequence_batches",
]


def _as_ids(ids: Sequence[int] | np.ndarray | torch.Tensor, name: str = "ids") -> torch.Tensor:
    """A 1-D int64 tensor view of a token-id sequence, or a clear error."""
    t = torch.as_tensor(ids if not isinstance(ids, range) else list(ids))
    if t.dim() != 1:
        raise ValueError(f"{name} must be one flat sequence of token ids, got shape {tuple(t.shape)}")
    if t.numel() and (t.dtype.is_floating_point or t.dtype == torch.bool):
        raise TypeError(f"{name} must hold integer token ids, got dtype {t.dtype}")
    return t.to(torch.long)


def pad_sequences(
    sequences: Iterable[Sequence[int] | torch.Tensor],
    max_len: int | None = None,
    value: int = 0,
    padding: str = "post",
    truncating: str = "post",
    dtype: torch.dtype = torch.long,
) -> torch.Tensor:
    """Stack variable-length sequences into a (B, L) tensor, padding with ``value``.

    ``L`` is ``max_len`` when given (longer sequences are cut at the end for ``truncating="post"``,
    at the start for ``"pre"``), else the longest length. ``padding`` puts the fill after (``"post"``) or
    before (``"pre"``) the tokens.

    Example::

        >>> pad_sequences([[1, 2, 3], [4]]).tolist()
        [[1, 2, 3], [4, 0, 0]]
    """
    if padding not in ("post", "pre"):
        raise ValueError(f"padding must be 'post' or 'pre', got {padding!r}")
    if truncating not in ("post", "pre"):
        raise ValueError(f"truncating must be 'post' or 'pre', got {truncating!r}")
    if max_len is not None and max_len < 0:
        raise ValueError(f"max_len must be >= 0 or None, got {max_len}")
    seqs = [torch.as_tensor(s, dtype=dtype).reshape(-1) for s in sequences]
    length = max_len if max_len is not None else max((len(s) for s in seqs), default=0)
    out = torch.full((len(seqs), length), value, dtype=dtype)
    for row, s in enumerate(seqs):
        if len(s) > length:
            s = s[:length] if truncating == "post" else s[len(s) - length :]
        n = len(s)
        if n == 0:
            continue
        if padding == "post":
            out[row, :n] = s
        else:
            out[row, length - n :] = s
    return out


def next_token_pairs(ids: Sequence[int] | torch.Tensor, context: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Slide a window of ``context`` tokens over a stream: returns x (N, context) and next token y (N,).

    ``N = len(ids) - context``; every position of the stream is a target once it has a full window.

    Example::

        >>> x, y = next_token_pairs([5, 6, 7, 8], context=2)
        >>> x.tolist(), y.tolist()
        ([[5, 6], [6, 7]], [7, 8])
    """
    if context < 1:
        raise ValueError(f"context must be >= 1, got {context}")
    t = _as_ids(ids)
    n = max(t.numel() - context, 0)
    if n == 0:
        raise ValueError(
            f"a stream of {t.numel()} tokens gives no (context={context}, next token) pairs; "
            f"it needs at least {context + 1} tokens"
        )
    x = t.unfold(0, context, 1)[:n].contiguous()
    return x, t[context:].clone()


def block_contexts(
    sequences: Iterable[Sequence[int]], block_size: int, pad_id: int = 0, end_id: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each sequence, every token with the ``block_size`` tokens before it (left-padded with ``pad_id``).

    Returns x (N, block_size) and y (N,), N = total tokens (+1 per sequence when ``end_id`` is given,
    which is then appended as a final target so a model learns where sequences stop).

    Example::

        >>> x, y = block_contexts([[3, 4]], block_size=2)
        >>> x.tolist(), y.tolist()
        ([[0, 0], [0, 3]], [3, 4])
    """
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    xs: list[torch.Tensor] = []
    ys: list[torch.Tensor] = []
    for pos, seq in enumerate(sequences):
        t = _as_ids(seq, f"sequences[{pos}]")
        if end_id is not None:
            t = torch.cat([t, torch.tensor([end_id])])
        if t.numel() == 0:
            continue
        padded = torch.cat([torch.full((block_size,), pad_id, dtype=torch.long), t])
        xs.append(padded.unfold(0, block_size, 1)[: t.numel()])
        ys.append(t)
    if not xs:
        raise ValueError("block_contexts got no tokens: every sequence was empty")
    return torch.cat(xs).contiguous(), torch.cat(ys)


def sequence_chunks(ids: Sequence[int] | torch.Tensor, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut a stream into non-overlapping chunks: x (N, seq_len) and y (N, seq_len) = x shifted by one.

    ``N = (len(ids) - 1) // seq_len``; the tail that does not fill a chunk is dropped.

    Example::

        >>> x, y = sequence_chunks([1, 2, 3, 4, 5], seq_len=2)
        >>> x.tolist(), y.tolist()
        ([[1, 2], [3, 4]], [[2, 3], [4, 5]])
    """
    if seq_len < 1:
        raise ValueError(f"seq_len must be >= 1, got {seq_len}")
    t = _as_ids(ids)
    n = (t.numel() - 1) // seq_len if t.numel() else 0
    if n == 0:
        raise ValueError(f"a stream of {t.numel()} tokens is too short for one chunk of seq_len={seq_len}")
    x = t[: n * seq_len].view(n, seq_len)
    y = t[1 : n * seq_len + 1].view(n, seq_len)
    return x.clone(), y.clone()


def sequence_batches(
    ids: Sequence[int] | torch.Tensor, seq_len: int, batch_size: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Batches for stateful RNNs: row r of batch i+1 continues row r of batch i.

    The stream is split into ``batch_size`` equal parallel streams; batch i holds columns
    ``[i*seq_len, (i+1)*seq_len)`` of each, as x (B, seq_len) and y (B, seq_len) shifted by one.
    A last batch shorter than ``seq_len`` is kept.

    Example::

        >>> [(x.tolist(), y.tolist()) for x, y in sequence_batches(range(9), seq_len=2, batch_size=2)]
        [([[0, 1], [4, 5]], [[1, 2], [5, 6]]), ([[2], [6]], [[3], [7]])]
    """
    if seq_len < 1 or batch_size < 1:
        raise ValueError(f"seq_len and batch_size must be >= 1, got {seq_len} and {batch_size}")
    t = _as_ids(ids)
    per_stream = t.numel() // batch_size
    if per_stream < 2:
        raise ValueError(
            f"a stream of {t.numel()} tokens is too short for {batch_size} parallel streams of >= 2 tokens"
        )
    streams = t[: per_stream * batch_size].view(batch_size, per_stream)
    out = []
    for start in range(0, per_stream - 1, seq_len):
        stop = min(start + seq_len, per_stream - 1)
        out.append((streams[:, start:stop].clone(), streams[:, start + 1 : stop + 1].clone()))
    return out
