"""Letter embeddings: the 2-D next-letter model beats the majority baseline; snapshots are well formed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from embedforge.data import next_token_pairs, stdlib_text
from embedforge.models import NextTokenModel, letter_stream, train_letter_embeddings


@pytest.fixture(scope="module")
def trained():
    text = stdlib_text(max_chars=20_000)
    return train_letter_embeddings(text, dim=2, epochs=2, snapshot_every=10, lr=0.05, return_model=True)


def test_next_letter_model_beats_majority_baseline_clearly(trained):
    vocab, _, model = trained
    held_out = letter_stream(stdlib_text(max_chars=35_000)[20_000:])
    x, y = next_token_pairs(vocab.encode(held_out))
    with torch.no_grad():
        acc = (model(x).argmax(1) == y).float().mean().item()
    majority = torch.bincount(y).max().item() / len(y)
    assert acc >= majority + 0.05, f"accuracy {acc:.3f} vs majority-class baseline {majority:.3f}"


def test_snapshots_start_at_init_and_end_at_the_trained_table(trained):
    vocab, snaps, model = trained
    assert len(snaps) >= 3
    assert all(s.shape == (len(vocab), 2) and s.dtype == np.float32 for s in snaps)
    np.testing.assert_array_equal(snaps[-1], model.embedding.weight.detach().numpy())
    assert not np.array_equal(snaps[0], snaps[-1])
    assert vocab.itos[:2] == ["<pad>", "<unk>"] and set(vocab.itos[2:]) <= set("abcdefghijklmnopqrstuvwxyz ")
    # the special rows never train
    np.testing.assert_array_equal(snaps[0][:2], snaps[-1][:2])


def test_snapshot_count_follows_snapshot_every():
    text = "the quick brown fox jumps over the lazy dog " * 20
    _, snaps = train_letter_embeddings(text, epochs=1, snapshot_every=2, batch_size=100)
    steps = -(-(len(letter_stream(text)) - 1) // 100)
    assert len(snaps) == 1 + steps // 2 + (steps % 2 != 0)


def test_letters_bad_inputs():
    with pytest.raises(ValueError, match="usable character"):
        train_letter_embeddings("123 !!", epochs=1)
    with pytest.raises(ValueError, match="snapshot_every"):
        train_letter_embeddings("abc", snapshot_every=0)
    model = NextTokenModel(10, 2, context=2)
    assert model(torch.tensor([[1, 2]])).shape == (1, 10)
    with pytest.raises(ValueError, match="2 context token"):
        model(torch.tensor([1, 2]))


def test_letter_stream_filters_and_squeezes():
    assert letter_stream("Hello,\n\n  World 42!") == "hello world"
