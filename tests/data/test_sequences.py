"""Padding, next-token pairs, block contexts and sequence batches (property-based where it fits)."""

from __future__ import annotations

import pytest
import torch
from embedforge.data import block_contexts, next_token_pairs, pad_sequences, sequence_batches, sequence_chunks
from hypothesis import given, settings
from hypothesis import strategies as st

ids_lists = st.lists(st.lists(st.integers(1, 50), max_size=9), max_size=7)


@settings(max_examples=60, deadline=None)
@given(ids_lists, st.none() | st.integers(0, 12), st.sampled_from(["post", "pre"]), st.sampled_from(["post", "pre"]))
def test_pad_sequences_properties(seqs, max_len, padding, truncating):
    out = pad_sequences(seqs, max_len=max_len, value=0, padding=padding, truncating=truncating)
    length = max_len if max_len is not None else max((len(s) for s in seqs), default=0)
    assert out.shape == (len(seqs), length) and out.dtype == torch.long
    for row, s in zip(out.tolist(), seqs):
        kept = s[:length] if truncating == "post" else s[len(s) - min(len(s), length) :]
        tokens = [t for t in row if t != 0]
        assert tokens == kept  # ids are >= 1, so non-zero entries are exactly the kept tokens
        if padding == "post":
            assert row[: len(kept)] == kept
        else:
            assert row[length - len(kept) :] == kept


def test_pad_sequences_values_and_errors():
    assert pad_sequences([[1, 2, 3], [4]], value=-1).tolist() == [[1, 2, 3], [4, -1, -1]]
    assert pad_sequences([]).shape == (0, 0)
    assert pad_sequences([[1.5]], dtype=torch.float32).dtype == torch.float32
    with pytest.raises(ValueError, match="padding"):
        pad_sequences([[1]], padding="left")
    with pytest.raises(ValueError, match="max_len"):
        pad_sequences([[1]], max_len=-1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=2, max_size=40), st.integers(1, 5))
def test_next_token_pairs_properties(stream, context):
    if len(stream) <= context:
        with pytest.raises(ValueError, match="needs at least"):
            next_token_pairs(stream, context)
        return
    x, y = next_token_pairs(stream, context)
    assert x.shape == (len(stream) - context, context) and y.shape == (len(stream) - context,)
    for i in range(len(y)):
        assert x[i].tolist() == stream[i : i + context] and y[i].item() == stream[i + context]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(2, 30), max_size=8), min_size=1, max_size=5), st.integers(1, 4))
def test_block_contexts_properties(seqs, k):
    if not any(seqs):
        with pytest.raises(ValueError, match="empty"):
            block_contexts(seqs, k)
        return
    x, y = block_contexts(seqs, k, pad_id=0, end_id=1)
    assert len(x) == len(y) == sum(len(s) + 1 for s in seqs)
    row = 0
    for s in seqs:
        full = [0] * k + s + [1]
        for j in range(len(s) + 1):
            assert x[row].tolist() == full[j : j + k] and y[row].item() == full[j + k]
            row += 1


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 60), st.integers(1, 7), st.integers(1, 4))
def test_sequence_batches_continue_rows_and_cover_streams(n, seq_len, batch_size):
    stream = list(range(100, 100 + n))
    if n // batch_size < 2:
        with pytest.raises(ValueError, match="too short"):
            sequence_batches(stream, seq_len, batch_size)
        return
    batches = sequence_batches(stream, seq_len, batch_size)
    xs = torch.cat([x for x, _ in batches], dim=1)
    ys = torch.cat([y for _, y in batches], dim=1)
    per = n // batch_size
    expected = torch.tensor(stream[: per * batch_size]).view(batch_size, per)
    assert torch.equal(xs, expected[:, :-1]) and torch.equal(ys, expected[:, 1:])
    assert all(x.shape[1] <= seq_len and x.shape == y.shape for x, y in batches)


def test_sequence_chunks_and_errors():
    x, y = sequence_chunks(list(range(10)), 3)
    assert x.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]] and y.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    with pytest.raises(ValueError, match="too short"):
        sequence_chunks([1, 2], 5)
    with pytest.raises(ValueError, match="one flat sequence"):
        next_token_pairs([[1, 2], [3, 4]])
    with pytest.raises(TypeError, match="integer token ids"):
        next_token_pairs([1.5, 2.5])
    with pytest.raises(ValueError, match="context"):
        next_token_pairs([1, 2, 3], context=0)
