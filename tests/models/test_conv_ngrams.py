"""conv_ngrams: the TextCNN's own activations, and the deciding token found on planted data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from embedforge.data import Vocab
from embedforge.models import TextCNN, conv_ngrams

FILLER = [f"w{i}" for i in range(40)]


def _planted(n: int, rng: np.random.Generator, vocab: Vocab) -> tuple[torch.Tensor, torch.Tensor]:
    """Texts of 9 filler tokens; class 1 iff the token 'key' replaces one of them (one token decides)."""
    xs, ys = [], []
    for k in range(n):
        toks = list(rng.choice(FILLER, 9))
        if k % 2:
            toks[rng.integers(9)] = "key"
        xs.append(vocab.encode(toks))
        ys.append(k % 2)
    return torch.tensor(xs), torch.tensor(ys)


@pytest.fixture(scope="module")
def trained() -> tuple[TextCNN, Vocab, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    vocab = Vocab(FILLER + ["key"])
    x, y = _planted(600, rng, vocab)
    model = TextCNN(len(vocab), 16, 2, widths=(1, 2, 3), n_filters=16, hidden=16, dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(15):
        for i in range(0, len(x), 50):
            loss = torch.nn.functional.cross_entropy(model(x[i : i + 50]), y[i : i + 50])
            opt.zero_grad()
            loss.backward()
            opt.step()
    xt, yt = _planted(60, rng, vocab)
    with torch.no_grad():
        assert (model(xt).argmax(1) == yt).float().mean() > 0.95  # the planted rule was learned
    return model, vocab, xt, yt


def test_the_deciding_token_is_the_top_1gram(trained) -> None:
    model, vocab, xt, yt = trained
    wider = []
    for x in xt[yt == 1]:
        r = conv_ngrams(model, x, vocab)
        assert r.predicted == 1
        assert r.top[1][1] == ("key",), (r.tokens, r.top)
        wider += ["key" in r.top[w][1] for w in (2, 3)]
    assert np.mean(wider) > 0.75  # mostly the wider winners contain it too (filters of those widths share the work)


def test_activations_are_the_models_own(trained) -> None:
    model, vocab, xt, _ = trained
    x = xt[1]
    r = conv_ngrams(model, x.tolist(), vocab)
    with torch.no_grad():
        e = model.embedding(x[None]).transpose(1, 2).double()
        for w, conv in zip((1, 2, 3), model.convs):
            ref = torch.relu(torch.nn.functional.conv1d(e, conv.weight.double(), conv.bias.double()))[0].numpy()
            np.testing.assert_allclose(r.activations[w], ref, rtol=1e-5, atol=1e-5)
            assert r.activations[w].shape == (16, 9 - w + 1)
            live = r.activations[w].max(axis=1) > 0
            np.testing.assert_array_equal(r.picks[w][live], r.activations[w][live].argmax(axis=1))
            assert (r.picks[w][~live] == -1).all()
            assert r.votes[w].sum() == live.sum()
        probs = torch.softmax(model(x[None]), dim=1)[0].numpy()
    np.testing.assert_allclose(r.probs, probs, rtol=1e-5, atol=1e-6)
    assert r.tokens == vocab.decode(x.tolist())


def test_influence_shares_add_up_to_the_logit_of_a_linear_head() -> None:
    torch.manual_seed(1)
    model = TextCNN(30, 8, 3, widths=(2, 3), n_filters=5, hidden=4, dropout=0.0)
    model.classifier = torch.nn.Sequential(torch.nn.Linear(10, 3))  # linear head: shares are exact
    r = conv_ngrams(model, [4, 5, 6, 7, 8])
    pooled = np.concatenate([r.activations[w].max(axis=1) for w in (2, 3)])
    head = model.classifier[0]
    logit = pooled @ head.weight.detach().double().numpy()[r.predicted] + float(head.bias.detach()[r.predicted])
    total = sum(r.influence[w].sum() for w in (2, 3)) + float(head.bias.detach()[r.predicted])
    assert total == pytest.approx(logit, rel=1e-5, abs=1e-5)


def test_votes_rank_counts_filters(trained) -> None:
    model, vocab, xt, _ = trained
    r = conv_ngrams(model, xt[3], vocab, rank="votes")
    for w in (1, 2, 3):
        start, ngram = r.top[w]
        assert r.votes[w][start] == r.votes[w].max()
        assert ngram == r.ngram(w, start)


def test_short_text_is_padded_and_bad_input_raises(trained) -> None:
    model, vocab, _, _ = trained
    r = conv_ngrams(model, ["key"], vocab)
    assert r.tokens == ["key", "<pad>", "<pad>"] and r.activations[3].shape == (16, 1)
    with pytest.raises(ValueError, match="vocab="):
        conv_ngrams(model, ["key", "w1"])
    with pytest.raises(ValueError, match="empty"):
        conv_ngrams(model, [])
    with pytest.raises(ValueError, match="rank="):
        conv_ngrams(model, [2, 3, 4], rank="max")
    with pytest.raises(TypeError, match="TextCNN-like"):
        conv_ngrams(torch.nn.Linear(3, 3), [2, 3, 4])
    model.train()
    conv_ngrams(model, [2, 3, 4])
    assert model.training
