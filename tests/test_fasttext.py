"""FastText: subword n-gram vectors give out-of-vocabulary words sensible vectors."""

from __future__ import annotations

import embedforge
import numpy as np
import pytest
from embedforge import _w2v as C

STEMS = ["scar", "bloom", "drift", "plant", "climb", "shout"]
SUFFIXES = ["", "s", "ed", "er", "ers", "y"]
TOPIC_WORDS = {  # each stem family shares a topic with a few unrelated words
    "scar": ["wound", "skin", "heal"],
    "bloom": ["petal", "garden", "spring"],
    "drift": ["boat", "current", "sea"],
    "plant": ["seed", "soil", "grow"],
    "climb": ["rope", "peak", "rock"],
    "shout": ["voice", "loud", "crowd"],
}


def family_corpus(n: int = 3000, seed: int = 0) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        stem = STEMS[int(rng.integers(len(STEMS)))]
        vocab = [stem + s for s in SUFFIXES] + TOPIC_WORDS[stem]
        out.append([vocab[j] for j in rng.integers(0, len(vocab), size=8)])
    return out


CORPUS = family_corpus()
KW = dict(vector_size=32, min_count=1, epochs=5, sample=0, progress=False, workers=2, bucket=50_000, seed=2)


def cos(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("sg", [1, 0], ids=["skipgram", "cbow"])
def test_oov_word_is_close_to_its_family(sg):
    # one worker: a deterministic run (with two, thread timing moves the margin by a few hundredths)
    model = embedforge.FastText(CORPUS, sg=sg, min_n=3, max_n=5, **dict(KW, workers=1))
    wv = model.wv
    assert "scarring" not in wv.key_to_index
    v = wv["scarring"]
    assert v.shape == (32,) and np.abs(v).sum() > 0
    own = np.mean([cos(v, wv[w]) for w in ["scar", "scars", "scarred", "scarer"]])
    for stem in STEMS[1:]:
        other = np.mean([cos(v, wv[stem + s]) for s in ["", "s", "ed", "er"]])
        assert own > other + 0.2, (stem, own, other)
    # the nearest in-vocabulary words of the OOV vector are scar-words or their topic's words
    top = [k for k, _ in wv.similar_by_vector(v, topn=6)]
    assert all(k.startswith("scar") or k in TOPIC_WORDS["scar"] for k in top), top


def test_in_vocab_vectors_are_mean_of_word_and_ngram_rows():
    model = embedforge.FastText(CORPUS, sg=1, min_n=3, max_n=4, **dict(KW, epochs=1))
    offs, rows = model._subwords()
    i = model.key_to_index["bloomed"]
    expect = model._in[rows[offs[i] : offs[i + 1]]].mean(axis=0)
    np.testing.assert_allclose(model.wv["bloomed"], expect, rtol=1e-6, atol=1e-7)
    assert rows[offs[i]] == i  # the word's own row first
    # n-grams of "<bloomed>" for n = 3, 4: 7 + 6
    assert offs[i + 1] - offs[i] == 1 + 7 + 6
    assert model.vectors_vocab.shape == (len(model.index_to_key), 32)
    assert model.vectors_ngrams.shape[0] == len(model.ngram_buckets) <= 50_000


def test_ngrams_count_code_points_not_bytes():
    offs, rows = C.w2v_ngram_rows(["é"], 1, 3, 1000, 0)
    # "<é>" has 3 code points: n=1 gives "é" only (lone brackets skipped), n=2 two, n=3 one
    assert offs[1] - offs[0] == 1 + 2 + 1
    offs2, _ = C.w2v_ngram_rows(["e"], 1, 3, 1000, 0)
    assert offs2[1] == offs[1]


def test_ngram_buckets_match_fasttext_hash_for_non_ascii_words():
    """Buckets are fastText's (and gensim's): FNV-1a over UTF-8 bytes xored as signed chars."""
    ft_inner = pytest.importorskip("gensim.models.fasttext_inner", reason="gensim is the reference")
    rng = np.random.default_rng()
    alphabet = list("abcxyz") + list("éïüßñ") + list("日本語ж") + ["\U0001f600"]
    words = ["".join(rng.choice(alphabet, size=rng.integers(1, 9))) for _ in range(40)] + ["naïve", "日本語"]
    bucket = int(rng.integers(1000, 2_000_000))
    offs, rows = C.w2v_ngram_rows(words, 3, 6, bucket, 0)
    for i, w in enumerate(words):
        expect = [ft_inner.ft_hash_bytes(g) % bucket for g in ft_inner.compute_ngrams_bytes(w, 3, 6)]
        assert list(rows[offs[i] : offs[i + 1]]) == expect, w


def test_fasttext_save_load_keeps_oov(tmp_path):
    model = embedforge.FastText(CORPUS, sg=1, **dict(KW, epochs=1))
    p = tmp_path / "ft.model"
    model.save(p)
    back = embedforge.FastText.load(p)
    assert type(back) is embedforge.FastText
    np.testing.assert_array_equal(back.wv["scarring"], model.wv["scarring"])
    np.testing.assert_array_equal(back.wv.vectors, model.wv.vectors)
    back.train(CORPUS, epochs=1)
    assert back.epochs_trained == 2


def test_fasttext_bad_arguments():
    with pytest.raises(ValueError, match="max_n"):
        embedforge.FastText(CORPUS, min_n=5, max_n=3, **KW)
    with pytest.raises(TypeError, match="bucket must be an int"):
        embedforge.FastText(CORPUS, **dict(KW, bucket="many"))


def test_fasttext_merges_more_often_by_default_than_word2vec():
    # distributed=True: FastText's measured default (params.py), Word2Vec's unchanged; explicit wins.
    from embedforge.word2vec.params import DEFAULT_SYNC_WORDS, FASTTEXT_SYNC_WORDS

    assert embedforge.FastText(**KW).params.sync_words == FASTTEXT_SYNC_WORDS < DEFAULT_SYNC_WORDS
    assert embedforge.Word2Vec(**{k: v for k, v in KW.items() if k != "bucket"}).params.sync_words == DEFAULT_SYNC_WORDS
    assert embedforge.FastText(sync_words=7, **KW).params.sync_words == 7
