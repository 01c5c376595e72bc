"""gensim-named methods called as gensim users call them, side by side with gensim (issue 14, §1)."""

import numpy as np
import pytest
from embedforge.vectors import KeyedVectors

gensim_models = pytest.importorskip("gensim.models", reason="gensim is the reference these tests compare with")


def _pair(seed=0, n=30, dim=8):
    rng = np.random.default_rng(seed)
    keys = [f"w{i}" for i in range(n)]
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    counts = rng.integers(1, 1000, n)
    ours = KeyedVectors(keys, vectors)
    ours.set_vecattr(keys, "count", counts)
    theirs = gensim_models.KeyedVectors(dim)
    theirs.add_vectors(keys, vectors)
    for k, c in zip(keys, counts):
        theirs.set_vecattr(k, "count", int(c))
    return ours, theirs, keys, counts


@pytest.mark.parametrize("binary", [False, True])
def test_fvocab_both_ways_with_gensim_positional_order(tmp_path, binary):
    ours, theirs, keys, counts = _pair(1)
    # gensim writes (sorted by count, as it does) and we read with gensim's positional call.
    theirs.save_word2vec_format(str(tmp_path / "g.vec"), str(tmp_path / "g.vocab"), binary)
    mine = KeyedVectors.load_word2vec_format(tmp_path / "g.vec", tmp_path / "g.vocab", binary)
    ref = gensim_models.KeyedVectors.load_word2vec_format(str(tmp_path / "g.vec"), str(tmp_path / "g.vocab"), binary)
    assert mine.index_to_key == ref.index_to_key != keys  # reordered by count
    np.testing.assert_array_equal(mine.vectors, ref.vectors)
    assert [int(mine.get_vecattr(k, "count")) for k in keys] == [ref.get_vecattr(k, "count") for k in keys]
    # and the other way round: our files, gensim reads them with its fvocab.
    ours.save_word2vec_format(tmp_path / "o.vec", tmp_path / "o.vocab", binary)
    back = gensim_models.KeyedVectors.load_word2vec_format(str(tmp_path / "o.vec"), str(tmp_path / "o.vocab"), binary)
    assert back.index_to_key == ref.index_to_key
    np.testing.assert_array_equal(back.vectors, ref.vectors)
    assert [back.get_vecattr(k, "count") for k in keys] == [int(c) for c in counts]
    assert (tmp_path / "o.vocab").read_bytes() == (tmp_path / "g.vocab").read_bytes()


def test_counts_without_fvocab_follow_gensim(tmp_path):
    ours, theirs, keys, _ = _pair(2)
    theirs.save_word2vec_format(str(tmp_path / "g.txt"))
    mine = KeyedVectors.load_word2vec_format(tmp_path / "g.txt", limit=10)
    ref = gensim_models.KeyedVectors.load_word2vec_format(str(tmp_path / "g.txt"), limit=10)
    assert [int(mine.get_vecattr(k, "count")) for k in ref.index_to_key] == [
        ref.get_vecattr(k, "count") for k in ref.index_to_key
    ]


def test_fvocab_errors_and_unsupported_options(tmp_path):
    ours, _, keys, _ = _pair(3)
    ours.save_word2vec_format(tmp_path / "o.vec", tmp_path / "o.vocab")
    (tmp_path / "short.vocab").write_text("w0 5\n")
    with pytest.raises(ValueError, match="no count for"):
        KeyedVectors.load_word2vec_format(tmp_path / "o.vec", tmp_path / "short.vocab")
    (tmp_path / "bad.vocab").write_text("w0 five\n")
    with pytest.raises(ValueError, match="line 1"):
        KeyedVectors.load_word2vec_format(tmp_path / "o.vec", tmp_path / "bad.vocab")
    with pytest.raises(NotImplementedError, match="datatype"):
        KeyedVectors.load_word2vec_format(tmp_path / "o.vec", datatype=np.float16)
    with pytest.raises(NotImplementedError, match="append"):
        ours.save_word2vec_format(tmp_path / "x.vec", append=True)
    with pytest.raises(NotImplementedError, match="total_vec"):
        ours.save_word2vec_format(tmp_path / "x.vec", total_vec=len(keys) + 1)
    plain = KeyedVectors(keys, ours.vectors)
    with pytest.raises(ValueError, match="count"):
        plain.save_word2vec_format(tmp_path / "x.vec", tmp_path / "x.vocab")
    assert not (tmp_path / "x.vec").exists()


def test_prefix_matches_gensim(tmp_path):
    ours, theirs, _, _ = _pair(4)
    theirs.save_word2vec_format(str(tmp_path / "g.txt"), prefix="p_")
    ours.save_word2vec_format(tmp_path / "o.txt", prefix="p_")
    a = KeyedVectors.load_word2vec_format(tmp_path / "o.txt")
    b = gensim_models.KeyedVectors.load_word2vec_format(str(tmp_path / "g.txt"))
    assert a.index_to_key == b.index_to_key and a.index_to_key[0].startswith("p_")
    np.testing.assert_array_equal(a.vectors, b.vectors)


def test_most_similar_clip_positional_matches_gensim():
    ours, theirs, keys, _ = _pair(5, n=60)
    for args in [("w3", None, 5, 10, 40), ("w3", None, 5, 20), (["w1", "w2"], ["w7"], 4, 0, 30, 15)]:
        got = ours.most_similar(*args)
        ref = theirs.most_similar(*args)
        assert [k for k, _ in got] == [k for k, _ in ref]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in ref], rtol=1e-5, atol=1e-6)
    with pytest.raises(NotImplementedError, match="indexer"):
        ours.most_similar("w1", indexer=object())


def test_add_vectors_extras_positional():
    # gensim 4.4's own add_vectors(extras=...) iterates the dict as pairs and raises, so the
    # reference here is its documented meaning: extras set on new keys (existing ones too with
    # replace), vectors as gensim adds them (checked against gensim without extras).
    ours, theirs, keys, counts = _pair(6, n=5)
    new = np.random.default_rng(7).standard_normal((3, 8)).astype(np.float32)
    ours.add_vectors(["w0", "n1", "n2"], new, {"count": np.array([11, 12, 13])})
    theirs.add_vectors(["w0", "n1", "n2"], new)
    assert ours.index_to_key == theirs.index_to_key
    np.testing.assert_array_equal(ours.vectors, theirs.vectors)
    assert [int(ours.get_vecattr(k, "count")) for k in ("w0", "n1", "n2")] == [int(counts[0]), 12, 13]
    ours.add_vectors(["w0"], new[:1], {"count": np.array([99])}, True)
    assert int(ours.get_vecattr("w0", "count")) == 99
    np.testing.assert_array_equal(ours["w0"], new[0])


def test_relative_cosine_similarity_and_unit_normalize_all_match_gensim():
    ours, theirs, keys, _ = _pair(8, n=40)
    for a, b in (("w1", "w2"), ("w5", "w30")):
        assert ours.relative_cosine_similarity(a, b, 7) == pytest.approx(
            theirs.relative_cosine_similarity(a, b, 7), rel=1e-5
        )
    ours.unit_normalize_all()
    theirs.unit_normalize_all()
    np.testing.assert_allclose(ours.vectors, theirs.vectors, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(ours.vectors, axis=1), 1.0, rtol=1e-6)


def test_gensim_methods_not_offered_raise_not_implemented_naming_them():
    import embedforge

    ours, theirs, _, _ = _pair(9)
    model = embedforge.Word2Vec([["a", "b", "c"]] * 5, vector_size=4, min_count=1, epochs=1, progress=False)
    for obj, name in (
        (ours, "wmdistance"),
        (ours, "intersect_word2vec_format"),
        (model, "estimate_memory"),
        (model, "score"),
        (model.wv, "rank_by_centrality"),
    ):
        with pytest.raises(NotImplementedError, match=name):
            getattr(obj, name)
        assert not hasattr(obj, name)  # hasattr still answers (the error is also an AttributeError)
    # gensim 3 names: gensim 4 itself raises AttributeError; so do we, naming the replacement
    with pytest.raises(AttributeError, match="index_to_key"):
        ours.index2word
    with pytest.raises(AttributeError):
        theirs.index2word
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        ours.nonsense


def test_empty_keyedvectors_filled_by_setitem_like_gensim():
    rng = np.random.default_rng(10)
    vecs = rng.standard_normal((4, 5)).astype(np.float32)
    ours, theirs = KeyedVectors(5), gensim_models.KeyedVectors(5)
    assert len(ours) == len(theirs) == 0 and ours.vector_size == theirs.vector_size == 5
    for kv in (ours, theirs):
        kv["a"] = vecs[0]
        kv[["b", "c"]] = vecs[1:3]
        kv["a"] = vecs[3]  # replaces, as gensim
    assert ours.index_to_key == theirs.index_to_key == ["a", "b", "c"]
    np.testing.assert_array_equal(ours.vectors, theirs.vectors)
    assert ours.most_similar("b", topn=2)[0][0] == theirs.most_similar("b", topn=2)[0][0]
    with pytest.raises(ValueError, match="vector_size=0"):
        KeyedVectors(0)
    with pytest.raises(ValueError, match="shape"):
        ours["d"] = np.ones(3)
