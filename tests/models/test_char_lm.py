"""Character LMs: validation loss falls below the unigram entropy; every model trains and generates."""

from __future__ import annotations

import math

import pytest
import torch
from embedforge.data import Vocab, block_contexts, next_token_pairs, sequence_chunks, stdlib_text, tensor_loader
from embedforge.models import BengioMLP, Char3Model, LoopRNN, SequenceRNN, TorchRNNModel
from embedforge.train import Trainer, flat_cross_entropy


@pytest.fixture(scope="module")
def corpus():
    text = stdlib_text(max_chars=9000)
    train, val = text[:7000], text[7000:]
    vocab = Vocab.build([train])
    ids, vids = vocab.encode(train), vocab.encode(val)
    counts = torch.bincount(torch.tensor(ids), minlength=len(vocab)).double() + 0.5  # add-half smoothing
    p = counts / counts.sum()
    unigram = -p[torch.tensor(vids)].log().mean().item()  # cross-entropy of the best context-free model
    return vocab, ids, vids, unigram


def _fit(model, x, y, vx, vy, loss=torch.nn.functional.cross_entropy, epochs=2, bs=256):
    torch.manual_seed(0)
    trainer = Trainer(model, loss, torch.optim.Adam(model.parameters(), lr=0.02))
    trainer.fit(tensor_loader(x, y, batch_size=bs, shuffle=True), tensor_loader(vx, vy, batch_size=4096), epochs=epochs)
    return trainer.history.epochs[-1]["val_loss"]


def test_bengio_mlp_validation_loss_below_unigram_entropy(corpus):
    vocab, ids, vids, unigram = corpus
    assert 2.5 < unigram < math.log(len(vocab))
    torch.manual_seed(0)
    model = BengioMLP(len(vocab), block_size=4, emb_dim=10, n_hidden=128, vocab=vocab)
    x, y = block_contexts([ids], 4)
    vx, vy = block_contexts([vids], 4)
    val_loss = _fit(model, x, y, vx, vy)
    assert val_loss < unigram - 0.3, (val_loss, unigram)
    out = model.generate("The ", 40, temperature=0.8, seed=1)
    assert out.startswith("The ") and len(out) == 44
    assert set(out) <= set(vocab.itos[2:])
    assert model.generate("The ", 40, temperature=0.8, seed=1) == out  # seeded sampling repeats
    greedy = model.generate("The ", 10, temperature=0)
    assert greedy == model.generate("The ", 10, temperature=0)


def test_sequence_rnn_validation_loss_below_unigram_entropy(corpus):
    vocab, ids, vids, unigram = corpus
    torch.manual_seed(0)
    model = SequenceRNN(len(vocab), n_hidden=32, emb_dim=16, cell="rnn", vocab=vocab)
    x, y = sequence_chunks(ids, 16)
    vx, vy = sequence_chunks(vids, 16)
    val_loss = _fit(model, x, y, vx, vy, loss=flat_cross_entropy, bs=32)
    assert val_loss < unigram, (val_loss, unigram)
    assert len(model.generate("a", 5, seed=0)) == 6


@pytest.mark.parametrize(
    "make, context",
    [
        (lambda v: Char3Model(v, n_hidden=32), 3),
        (lambda v: LoopRNN(v, n_hidden=32, mode="add"), 5),
        (lambda v: LoopRNN(v, n_hidden=32, mode="concat"), 5),
        (lambda v: TorchRNNModel(v, n_hidden=32, cell="rnn"), 5),
    ],
    ids=["char3", "loop-add", "loop-concat", "nn-rnn"],
)
def test_next_char_models_learn_and_generate(corpus, make, context):
    vocab, ids, vids, unigram = corpus
    torch.manual_seed(0)
    model = make(len(vocab))
    x, y = next_token_pairs(ids[:4000], context)
    vx, vy = next_token_pairs(vids, context)
    val_loss = _fit(model, x, y, vx, vy, epochs=2)
    assert val_loss < unigram, (val_loss, unigram)
    with pytest.raises(ValueError, match="no vocab"):
        model.generate("ab", 3)
    model.vocab = vocab
    assert model.generate("ab", 3, seed=0).startswith("ab")


def test_generate_validates_inputs(corpus):
    vocab, *_ = corpus
    model = BengioMLP(len(vocab), block_size=3, vocab=vocab)
    with pytest.raises(KeyError, match="not in the model's vocabulary"):
        model.generate("\x00", 3)
    with pytest.raises(ValueError, match="temperature"):
        model.generate("a", 3, temperature=-1)
    assert model.generate("", 4, seed=0).__len__() == 4
    with pytest.raises(ValueError, match="mode"):
        LoopRNN(10, mode="mul")
    with pytest.raises(ValueError, match=r"\(B, 3\)"):
        Char3Model(10)(torch.tensor([[1, 2]]))


def test_stateful_sequence_rnn_carries_detached_state():
    model = SequenceRNN(12, n_hidden=8, stateful=True)
    x = torch.randint(2, 12, (3, 5))
    first = model(x)
    second = model(x)
    assert not torch.allclose(first, second)  # the carried state changed the output
    model.reset()
    torch.testing.assert_close(model(x), first)
    assert model._state is not None and not model._state.requires_grad
    assert model(torch.randint(2, 12, (2, 5))).shape == (2, 5, 12)  # a smaller batch starts fresh
