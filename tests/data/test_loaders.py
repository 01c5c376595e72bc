"""Loaders: padding collate, tensor slicing loader, reproducible shuffles, empty-data errors."""

from __future__ import annotations

import pytest
import torch
from embedforge.data import PadCollate, SequenceDataset, TensorLoader, make_loader, sequence_loader, tensor_loader
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(1, 9), max_size=6), min_size=1, max_size=20), st.integers(1, 7), st.booleans())
def test_sequence_loader_yields_every_example_once_padded(seqs, batch_size, shuffle):
    labels = list(range(len(seqs)))
    loader = sequence_loader(seqs, labels, batch_size=batch_size, shuffle=shuffle, seed=3)
    seen = []
    for x, y in loader:
        assert x.dim() == 2 and x.shape[0] == y.shape[0] <= batch_size and x.shape[1] >= 1
        for row, lab in zip(x.tolist(), y.tolist()):
            assert [t for t in row if t != 0] == seqs[lab]
            seen.append(lab)
    assert sorted(seen) == labels
    assert len(loader) == -(-len(seqs) // batch_size)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 50), st.integers(1, 16), st.booleans(), st.booleans())
def test_tensor_loader_partitions_rows(n, batch_size, shuffle, drop_last):
    a, b = torch.arange(n), torch.arange(n) * 10
    loader = tensor_loader(a, b, batch_size=batch_size, shuffle=shuffle, seed=1, drop_last=drop_last)
    rows = []
    for xa, xb in loader:
        assert torch.equal(xb, xa * 10) and len(xa) <= batch_size
        rows += xa.tolist()
    expected = (n // batch_size) * batch_size if drop_last else n
    assert len(rows) == expected == len(set(rows)) and len(list(loader)) == len(loader)
    if not shuffle:
        assert rows == list(range(expected))


def test_shuffles_are_reproducible_and_differ_between_epochs():
    first = [b[0].tolist() for b in tensor_loader(torch.arange(20), batch_size=5, shuffle=True, seed=7)]
    again = [b[0].tolist() for b in tensor_loader(torch.arange(20), batch_size=5, shuffle=True, seed=7)]
    assert first == again
    loader = TensorLoader(torch.arange(20), batch_size=20, shuffle=True, seed=7)
    assert next(iter(loader))[0].tolist() != next(iter(loader))[0].tolist()


def test_pad_collate_options():
    batch = [(torch.tensor([1, 2, 3]), torch.tensor(0)), (torch.tensor([4]), torch.tensor(1))]
    x, lengths, y = PadCollate(return_lengths=True, max_len=2)(batch)
    assert x.tolist() == [[1, 2], [4, 0]] and lengths.tolist() == [2, 1] and y.tolist() == [0, 1]
    x, _ = PadCollate(pad_value=9, padding="pre", min_len=4)(batch)
    assert x.tolist() == [[9, 1, 2, 3], [9, 9, 9, 4]]
    with pytest.raises(ValueError, match="empty batch"):
        PadCollate()([])


def test_empty_and_mismatched_inputs_raise():
    with pytest.raises(ValueError, match="empty"):
        tensor_loader(torch.zeros(0))
    with pytest.raises(ValueError, match=r"tensors\[1\] has 2 rows but tensors\[0\] has 3"):
        tensor_loader(torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match="2 sequences but 1 labels"):
        SequenceDataset([[1], [2]], [0])
    with pytest.raises(ValueError, match="empty"):
        make_loader(SequenceDataset([], []))
    with pytest.raises(ValueError, match="batch_size"):
        tensor_loader(torch.zeros(3), batch_size=0)
