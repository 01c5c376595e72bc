"""Text classifiers on a planted-topic task: good pretrained vectors generalise to unseen topic words."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from embedforge.data import Vocab, sequence_loader
from embedforge.models import BagOfEmbeddingsClassifier, TextCNN, pretrained_matrix
from embedforge.train import Trainer
from embedforge.vectors import KeyedVectors

N_TOPICS, TOPIC_WORDS, FILLER_WORDS, DIM = 3, 16, 60, 16


def _corpus(seed: int = 0):
    """Documents of 10 filler words with 3 topic words; train docs use the first half of each topic's words."""
    rng = np.random.default_rng(seed)
    topic_words = [[f"t{k}w{i}" for i in range(TOPIC_WORDS)] for k in range(N_TOPICS)]
    filler = [f"f{i}" for i in range(FILLER_WORDS)]

    def docs(n, half):
        out, labels = [], []
        lo, hi = (0, TOPIC_WORDS // 2) if half == 0 else (TOPIC_WORDS // 2, TOPIC_WORDS)
        for _ in range(n):
            k = int(rng.integers(N_TOPICS))
            words = [str(w) for w in rng.choice(filler, 10)] + [topic_words[k][i] for i in rng.integers(lo, hi, 3)]
            rng.shuffle(words)
            out.append(words)
            labels.append(k)
        return out, labels

    vocab = Vocab([w for ws in topic_words for w in ws] + filler)
    centroids = rng.normal(0, 1, (N_TOPICS, DIM))
    vecs = {w: centroids[k] + 0.3 * rng.normal(0, 1, DIM) for k, ws in enumerate(topic_words) for w in ws}
    vecs.update({w: rng.normal(0, 1, DIM) for w in filler})
    kv = KeyedVectors(list(vecs), np.stack(list(vecs.values())).astype(np.float32))
    return vocab, kv, docs(150, 0), docs(150, 1), docs(150, 0)


@pytest.fixture(scope="module")
def corpus():
    return _corpus()


def _fit_and_score(model, vocab, train, val, epochs=8, lr=0.01):
    torch.manual_seed(0)
    params = [p for p in model.parameters() if p.requires_grad]
    trainer = Trainer(model, torch.nn.functional.cross_entropy, torch.optim.Adam(params, lr=lr), metrics=["accuracy"])
    tl = sequence_loader(vocab.encode_batch(train[0]), train[1], batch_size=32, shuffle=True, min_len=3)
    vl = sequence_loader(vocab.encode_batch(val[0]), val[1], batch_size=256, min_len=3)
    trainer.fit(tl, epochs=epochs)
    return trainer.evaluate(vl)["accuracy"]


def test_text_cnn_with_good_frozen_vectors_generalises_to_unseen_topic_words(corpus):
    vocab, kv, train, unseen, _ = corpus
    torch.manual_seed(0)
    good = TextCNN.from_pretrained(kv, vocab, n_classes=N_TOPICS, freeze=True, n_filters=16, hidden=16, dropout=0.0)
    assert good.coverage == 1.0
    before = good.embedding.weight.detach().clone()
    acc_good = _fit_and_score(good, vocab, train, unseen)
    torch.manual_seed(0)
    rand = TextCNN(len(vocab), DIM, N_TOPICS, n_filters=16, hidden=16, dropout=0.0)
    acc_rand = _fit_and_score(rand, vocab, train, unseen)
    assert acc_good >= 0.8, acc_good  # chance is 1/3
    assert acc_good - acc_rand >= 0.3, (acc_good, acc_rand)
    assert torch.equal(good.embedding.weight, before)  # frozen table did not move


def test_fine_tuned_pretrained_table_moves_but_pad_row_stays_zero(corpus):
    vocab, kv, train, _, same = corpus
    mat, coverage = pretrained_matrix(vocab, kv)
    model = TextCNN.from_pretrained(mat, vocab, n_classes=N_TOPICS, freeze=False, n_filters=8, hidden=8, dropout=0.0)
    before = model.embedding.weight.detach().clone()
    acc = _fit_and_score(model, vocab, train, same, epochs=3)
    assert acc > 0.6
    assert not torch.equal(model.embedding.weight, before)
    assert torch.count_nonzero(model.embedding.weight[vocab.pad_id]) == 0


def test_pretrained_matrix_handles_missing_tokens_and_bad_shapes():
    vocab = Vocab(["a", "b", "zz"])
    kv = KeyedVectors(["a", "b"], np.ones((2, 4), dtype=np.float32))
    mat, coverage = pretrained_matrix(vocab, kv, oov_std=0.5)
    assert mat.shape == (5, 4) and coverage == pytest.approx(2 / 3)
    assert np.all(mat[vocab["a"]] == 1) and np.all(mat[0] == 0) and np.any(mat[vocab["zz"]] != 1)
    with pytest.raises(ValueError, match=r"one row per vocabulary id: expected \(5, D\)"):
        pretrained_matrix(vocab, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="none of the vocabulary's tokens"):
        pretrained_matrix(vocab, KeyedVectors(["q"], np.ones((1, 4), dtype=np.float32)))
    with pytest.raises(TypeError, match="KeyedVectors-like"):
        pretrained_matrix(vocab, 3.0)


def test_text_cnn_pads_short_inputs_and_validates():
    model = TextCNN(20, 4, 2, widths=(1, 2, 3), n_filters=2)
    assert model(torch.tensor([[5]])).shape == (1, 2)
    with pytest.raises(ValueError, match="n_classes"):
        TextCNN(20, 4, 1)
    with pytest.raises(ValueError, match=r"padded \(B, L\)"):
        model(torch.tensor([1, 2, 3]))


def test_bag_of_embeddings_learns_topics_and_ignores_padding(corpus):
    vocab, _, train, _, same = corpus
    torch.manual_seed(0)
    model = BagOfEmbeddingsClassifier(len(vocab), 16, N_TOPICS)
    assert _fit_and_score(model, vocab, train, same, epochs=6, lr=0.05) >= 0.9
    x = torch.tensor([[5, 6, 0, 0]])
    np.testing.assert_allclose(model(x).detach(), model(torch.tensor([[5, 6]])).detach(), rtol=1e-5, atol=1e-6)
    flat = model(torch.tensor([5, 6, 7]), torch.tensor([0, 2]))
    assert flat.shape == (2, N_TOPICS)
