"""KeyedVectors: agreement with a float64 numpy reference and with gensim, plus the value-object API."""

from __future__ import annotations

import numpy as np
import pytest
from embedforge.vectors import KeyedVectors

# gensim calls its own deprecated init_sims() inside most_similar_cosmul
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated:DeprecationWarning")

N, D = 200, 16


def make_kv(seed: int = 0, n: int = N, d: int = D) -> KeyedVectors:
    """Fresh random vectors with keys w0..w{n-1}."""
    rng = np.random.default_rng(seed)
    return KeyedVectors([f"w{i}" for i in range(n)], rng.standard_normal((n, d)).astype(np.float32))


def gensim_kv(kv: KeyedVectors):
    """The same vectors in a gensim KeyedVectors."""
    gensim_models = pytest.importorskip("gensim.models", reason="gensim is a test extra")
    g = gensim_models.KeyedVectors(kv.vector_size)
    g.add_vectors(list(kv.index_to_key), np.array(kv.vectors))
    return g


# ----------------------------------------------------------------------------- float64 references
def unit64(a: np.ndarray) -> np.ndarray:
    """Row-normalise in float64."""
    a = np.asarray(a, dtype=np.float64)
    norms = np.linalg.norm(a, axis=-1, keepdims=True)
    return a / np.where(norms > 0, norms, 1)


def ref_most_similar(kv: KeyedVectors, positive, negative, restrict=None) -> dict[str, float]:
    """Cosine of every (non-input) key to the normalised mean of unit positive minus negative."""
    vecs = np.asarray(kv.vectors, dtype=np.float64)
    units = unit64(vecs)
    terms = [(p, 1.0) for p in positive] + [(q, -1.0) for q in negative]
    mean = sum(w * (units[kv.key_to_index[t]] if isinstance(t, str) else unit64(t)) for t, w in terms)
    mean = unit64(mean / len(terms))
    limit = len(kv) if restrict is None else restrict
    scores = units[:limit] @ mean
    skip = {t for t, _ in terms if isinstance(t, str)}
    return {kv.index_to_key[i]: float(scores[i]) for i in range(limit) if kv.index_to_key[i] not in skip}


def ref_cosmul(kv: KeyedVectors, positive, negative) -> dict[str, float]:
    """Levy & Goldberg 3CosMul in float64."""
    units = unit64(kv.vectors)
    score = np.ones(len(kv))
    for p in positive:
        score *= (1 + units @ units[kv.key_to_index[p]]) / 2
    den = np.ones(len(kv))
    for q in negative:
        den *= (1 + units @ units[kv.key_to_index[q]]) / 2
    score = score / (den + 1e-6)
    skip = set(positive) | set(negative)
    return {k: float(score[i]) for i, k in enumerate(kv.index_to_key) if k not in skip}


def assert_ranking(result, reference: dict[str, float], topn: int, tol: float = 1e-5) -> None:
    """``result`` holds the reference's top ``topn`` keys, best first, scores within ``tol``.

    Keys whose reference scores are within ``tol`` of each other may swap places.
    """
    assert len(result) == min(topn, len(reference))
    expected = sorted(reference.items(), key=lambda kv: -kv[1])[:topn]
    for (key, score), (ref_key, ref_score) in zip(result, expected):
        assert score == pytest.approx(reference[key], abs=tol)
        assert key == ref_key or abs(reference[key] - ref_score) <= 2 * tol
    scores = [s for _, s in result]
    assert scores == sorted(scores, reverse=True)


# ----------------------------------------------------------------------------- construction
def test_constructor_basics_and_validation():
    kv = make_kv()
    assert len(kv) == N and kv.vector_size == D and kv.vectors.dtype == np.float32
    assert kv.index_to_key[5] == "w5" and kv.key_to_index["w5"] == 5
    assert list(kv)[:3] == ["w0", "w1", "w2"]
    assert "w7" in kv and "nope" not in kv and kv.has_index_for(3) and not kv.has_index_for(N)
    assert kv.get_index("w9") == 9 and kv.get_index(9) == 9 and kv.get_index("zz", default=-1) == -1
    # float64 input is converted; float32 input is used as is
    f32 = np.zeros((2, 3), dtype=np.float32)
    assert KeyedVectors(["a", "b"], f32).vectors is f32
    assert KeyedVectors(["a", "b"], np.ones((2, 3))).vectors.dtype == np.float32
    with pytest.raises(ValueError, match="got 3 keys but 2 vectors"):
        KeyedVectors(["a", "b", "c"], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="2-D"):
        KeyedVectors(["a"], np.zeros(3))
    with pytest.raises(ValueError, match=r"keys\[2\]='a' duplicates keys\[0\]"):
        KeyedVectors(["a", "b", "a"], np.zeros((3, 2)))
    with pytest.raises(TypeError, match=r"keys\[1\]=7 is a int"):
        KeyedVectors(["a", 7], np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"vectors\[1, 0\]=nan is not finite"):
        KeyedVectors(["a", "b"], np.array([[0.0, 1.0], [np.nan, 0.0]]))
    with pytest.raises(ValueError, match="not finite"):
        KeyedVectors(["a"], np.array([[1e300, 0.0]]))  # overflows float32
    with pytest.raises(ValueError, match="at least one dimension"):
        KeyedVectors(["a"], np.zeros((1, 0)))
    empty = KeyedVectors([], np.zeros((0, 4)))
    assert len(empty) == 0 and empty.vector_size == 4


def test_lookup_and_unknown_keys():
    kv = make_kv()
    np.testing.assert_array_equal(kv["w3"], kv.vectors[3])
    np.testing.assert_array_equal(kv[["w3", "w1"]], kv.vectors[[3, 1]])
    assert kv[[]].shape == (0, D)
    np.testing.assert_allclose(kv.get_vector("w3", norm=True), unit64(kv.vectors[3]), atol=1e-6)
    for call in (
        lambda: kv["foo"],
        lambda: kv.get_vector("foo"),
        lambda: kv.similarity("w1", "foo"),
        lambda: kv.most_similar("foo"),
        lambda: kv.most_similar("w1", negative="foo"),
        lambda: kv[["w1", "foo"]],
        lambda: kv.rank("w1", "foo"),
    ):
        with pytest.raises(KeyError, match="word 'foo' not in vocabulary"):
            call()


# ----------------------------------------------------------------------------- vs float64 reference
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_most_similar_matches_float64_reference(seed):
    kv = make_kv(seed)
    rng = np.random.default_rng(100 + seed)
    a, b, c = (f"w{i}" for i in rng.choice(N, 3, replace=False))
    assert_ranking(kv.most_similar(a, topn=10), ref_most_similar(kv, [a], []), 10)
    assert_ranking(kv.most_similar(positive=[b, c], negative=[a], topn=7), ref_most_similar(kv, [b, c], [a]), 7)
    assert_ranking(
        kv.most_similar(positive=[b], negative=[a, c], topn=5, restrict_vocab=50),
        ref_most_similar(kv, [b], [a, c], restrict=50),
        5,
    )
    raw = rng.standard_normal(D).astype(np.float32)
    assert_ranking(kv.similar_by_vector(raw, topn=12), ref_most_similar(kv, [raw], []), 12)
    assert_ranking(kv.most_similar_cosmul(positive=[b, c], negative=[a], topn=8), ref_cosmul(kv, [b, c], [a]), 8)
    assert kv.similarity(a, b) == pytest.approx(float(unit64(kv[a]) @ unit64(kv[b])), abs=1e-6)
    assert kv.distance(a, b) == pytest.approx(1 - float(unit64(kv[a]) @ unit64(kv[b])), abs=1e-6)
    all_sims = kv.most_similar(a, topn=None)
    assert isinstance(all_sims, np.ndarray) and all_sims.shape == (N,)
    np.testing.assert_allclose(all_sims, unit64(kv.vectors) @ unit64(kv[a]), atol=1e-5)
    assert kv.most_similar(a, topn=None, restrict_vocab=30).shape == (30,)
    # everything ranked: input key excluded, others all present
    everything = kv.most_similar(a, topn=N)
    assert len(everything) == N - 1 and a not in dict(everything)


def test_input_keys_excluded_and_weights():
    kv = make_kv(3)
    result = kv.most_similar(positive=["w1", "w2"], negative=["w3"], topn=N)
    assert {"w1", "w2", "w3"}.isdisjoint(k for k, _ in result)
    assert len(result) == N - 3
    # a weighted positive term is a scaled term; weight 2 on w1 equals listing w1 twice
    weighted = kv.most_similar(positive=[("w1", 2.0), "w2"], topn=5)
    twice = kv.most_similar(positive=["w1", "w1", "w2"], topn=5)
    assert [k for k, _ in weighted] == [k for k, _ in twice]
    # a vector query excludes nothing, so the key itself comes first
    assert kv.most_similar(positive=[kv["w4"]], topn=1)[0][0] == "w4"
    assert kv.most_similar("w1", topn=0) == []
    with pytest.raises(ValueError, match="no input"):
        kv.most_similar()
    with pytest.raises(ValueError, match="shape"):
        kv.most_similar(positive=[np.zeros(D + 1)])
    with pytest.raises(ValueError, match="non-finite"):
        kv.similar_by_vector(np.full(D, np.nan))
    # gensim's positional shorthand: most_similar(positive, negative)
    assert kv.most_similar("w1", "w2", topn=4) == kv.most_similar(positive=["w1"], negative=["w2"], topn=4)
    assert kv.most_similar("w1", topn=4, restrict_vocab=0) == []


def test_n_similarity_doesnt_match_rank_distances():
    kv = make_kv(4)
    ref = float(
        unit64(kv[["w1", "w2"]].astype(np.float64).mean(0)) @ unit64(kv[["w3", "w4", "w5"]].astype(np.float64).mean(0))
    )
    assert kv.n_similarity(["w1", "w2"], ["w3", "w4", "w5"]) == pytest.approx(ref, abs=1e-6)
    with pytest.raises(ValueError):
        kv.n_similarity([], ["w1"])
    # doesnt_match: the key least similar to the mean of the unit vectors
    words = ["w1", "w2", "w3", "w4"]
    units = unit64(kv[words])
    expected = words[int(np.argmin(units @ unit64(units.mean(0))))]
    assert kv.doesnt_match(words + ["unknown"]) == expected
    with pytest.raises(ValueError, match="empty"):
        kv.doesnt_match(["unknown"])
    dists = kv.distances("w1")
    np.testing.assert_allclose(dists, 1 - unit64(kv.vectors) @ unit64(kv["w1"]), atol=1e-5)
    np.testing.assert_allclose(kv.distances("w1", ["w2", "w3"]), dists[[2, 3]], atol=1e-6)
    order = np.argsort(dists, kind="stable")
    order = order[order != 1]
    assert kv.rank("w1", kv.index_to_key[order[0]]) == 1
    assert kv.rank("w1", kv.index_to_key[order[9]]) == 10
    assert set(kv.closer_than("w1", kv.index_to_key[order[3]])) == {kv.index_to_key[i] for i in order[:3]}
    assert kv.most_similar_to_given("w1", ["w2", "w3", kv.index_to_key[order[0]]]) == kv.index_to_key[order[0]]
    np.testing.assert_allclose(
        kv.cosine_similarities(kv["w1"], kv.vectors[:5]), unit64(kv.vectors[:5]) @ unit64(kv["w1"]), atol=1e-6
    )


def test_zero_vector_is_harmless():
    kv = KeyedVectors(["a", "b", "zero"], np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 0.0]]))
    assert np.isfinite(kv.get_normed_vectors()).all()
    assert kv.most_similar("a", topn=2) == [("b", pytest.approx(0.6)), ("zero", 0.0)]
    assert kv.similarity("a", "zero") == 0.0


# ----------------------------------------------------------------------------- vs gensim
def test_agrees_with_gensim():
    kv = make_kv(7)
    g = gensim_kv(kv)
    for pos, neg, restrict in ((["w1"], [], None), (["w2", "w3"], ["w4"], None), (["w5"], ["w6", "w7"], 80)):
        ours = kv.most_similar(positive=pos, negative=neg, topn=15, restrict_vocab=restrict)
        theirs = g.most_similar(positive=pos, negative=neg, topn=15, restrict_vocab=restrict)
        assert [k for k, _ in ours] == [k for k, _ in theirs]
        np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)
        ours = kv.most_similar_cosmul(positive=pos, negative=neg, topn=15)
        theirs = g.most_similar_cosmul(positive=pos, negative=neg, topn=15)
        assert [k for k, _ in ours] == [k for k, _ in theirs]
        np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)
    np.testing.assert_allclose(kv.most_similar("w9", topn=None), g.most_similar("w9", topn=None), atol=1e-5)
    vec = np.random.default_rng(1).standard_normal(D).astype(np.float32)
    assert [k for k, _ in kv.similar_by_vector(vec, topn=10)] == [k for k, _ in g.similar_by_vector(vec, topn=10)]
    assert kv.similarity("w1", "w2") == pytest.approx(float(g.similarity("w1", "w2")), abs=1e-6)
    assert kv.n_similarity(["w1", "w2"], ["w3"]) == pytest.approx(float(g.n_similarity(["w1", "w2"], ["w3"])), abs=1e-6)
    assert kv.doesnt_match(["w1", "w2", "w3", "w4", "w5"]) == g.doesnt_match(["w1", "w2", "w3", "w4", "w5"])
    assert kv.rank("w1", "w50") == g.rank("w1", "w50")
    np.testing.assert_allclose(kv.distances("w3", ["w1", "w8"]), g.distances("w3", ["w1", "w8"]), atol=1e-6)
    np.testing.assert_allclose(kv.get_vector("w3", norm=True), g.get_vector("w3", norm=True), atol=1e-7)


# ----------------------------------------------------------------------------- caches and mutation
def test_unit_cache_invalidated_on_change():
    kv = make_kv(5)
    assert kv.most_similar("w0", topn=1)[0][1] < 0.99
    new = kv.to_numpy()
    new[7] = new[0] * 3  # w7 becomes parallel to w0
    kv.vectors = new
    assert kv.most_similar("w0", topn=1) == [("w7", pytest.approx(1.0, abs=1e-6))]
    with pytest.raises(ValueError):
        kv.vectors = np.zeros((N + 1, D))
    # add_vectors appends keys and refreshes norms; replace=False keeps existing rows
    kv.add_vectors(["new", "w1"], np.stack([kv["w0"] * 2, np.zeros(D, dtype=np.float32)]))
    assert len(kv) == N + 1 and kv.index_to_key[-1] == "new" and kv.get_index("new") == N
    assert np.any(kv["w1"] != 0)
    top = {k for k, _ in kv.most_similar("w0", topn=2)}
    assert top == {"w7", "new"}
    kv.add_vectors(["w1"], np.ones((1, D)), replace=True)
    np.testing.assert_array_equal(kv["w1"], np.ones(D))
    np.testing.assert_allclose(kv.get_vector("w1", norm=True), np.full(D, 1 / np.sqrt(D)), atol=1e-6)
    assert kv.add_vector("another", np.ones(D)) == N + 1
    with pytest.raises(ValueError, match="shape"):
        kv.add_vectors(["x", "y"], np.ones((3, D)))
    with pytest.raises(ValueError, match="duplicate"):
        kv.add_vectors(["x", "x"], np.ones((2, D)))
    # in-place edits of .vectors need fill_norms(force=True), as in gensim
    kv.vectors[2] = kv.vectors[0]
    kv.fill_norms(force=True)
    assert kv.similarity("w0", "w2") == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(kv.norms, np.linalg.norm(kv.vectors, axis=1), rtol=1e-6)


# ----------------------------------------------------------------------------- value-object habits
def test_filter_subset_and_exits():
    kv = make_kv(6, n=20, d=4)
    odd = kv.filter(lambda key: int(key[1:]) % 2 == 1)
    assert odd.index_to_key == [f"w{i}" for i in range(1, 20, 2)]
    np.testing.assert_array_equal(odd.vectors, kv.vectors[1::2])
    picked = kv.filter(["w5", "w2", "missing"])
    assert picked.index_to_key == ["w2", "w5"]  # this set's order, unknown keys ignored
    sub = kv.subset(["w5", "w2"])
    assert sub.index_to_key == ["w5", "w2"]
    np.testing.assert_array_equal(sub.vectors, kv.vectors[[5, 2]])
    with pytest.raises(KeyError, match="missing"):
        kv.subset(["w1", "missing"])
    with pytest.raises(ValueError, match=r"keys\[2\]='w1' duplicates keys\[0\]"):
        kv.subset(["w1", "w2", "w1"])
    assert len(kv.subset([])) == 0
    # derived sets are independent copies
    sub.vectors[0, 0] = 123.0
    assert kv["w5"][0] != 123.0
    array = kv.to_numpy()
    array[0, 0] = 99.0
    assert kv.vectors[0, 0] != 99.0
    again = KeyedVectors.from_numpy(kv.index_to_key, kv.to_numpy())
    np.testing.assert_array_equal(again.vectors, kv.vectors)
    tensor = kv.to_torch()
    import torch

    assert tensor.dtype == torch.float32 and tuple(tensor.shape) == (20, 4)
    np.testing.assert_array_equal(tensor.numpy(), kv.vectors)
    assert KeyedVectors(["a"], torch.ones(1, 3)).vectors.shape == (1, 3)
    half = KeyedVectors(["a"], torch.full((1, 3), 0.5, dtype=torch.bfloat16, requires_grad=True))
    np.testing.assert_array_equal(half.vectors, [[0.5, 0.5, 0.5]])
    norm = kv.normalized()
    np.testing.assert_allclose(np.linalg.norm(norm.vectors, axis=1), 1.0, atol=1e-6)
    projected = kv.transform(lambda m: m[:, :2])
    assert projected.vector_size == 2 and projected.index_to_key == kv.index_to_key
    copy = kv.copy()
    copy.vectors[0, 0] = -5.0
    assert kv.vectors[0, 0] != -5.0


def test_arithmetic():
    kv = make_kv(8, n=10, d=3)
    shift = np.array([1.0, -2.0, 0.5], dtype=np.float32)
    np.testing.assert_allclose((kv + shift).vectors, kv.vectors + shift)
    np.testing.assert_allclose((kv - shift).vectors, kv.vectors - shift)
    np.testing.assert_allclose((shift - kv).vectors, shift - kv.vectors)
    np.testing.assert_allclose((kv * 2).vectors, kv.vectors * 2)
    np.testing.assert_allclose((2 * kv).vectors, kv.vectors * 2)
    np.testing.assert_allclose((kv / 4).vectors, kv.vectors / 4)
    np.testing.assert_allclose((-kv).vectors, -kv.vectors)
    # two sets align by key, not by position
    reordered = kv.subset(list(reversed(kv.index_to_key)))
    np.testing.assert_allclose((kv + reordered).vectors, kv.vectors * 2)
    np.testing.assert_allclose((kv - reordered).vectors, 0.0)
    with pytest.raises(ValueError, match="same keys"):
        kv + kv.subset(["w1", "w2"])
    with pytest.raises(ValueError, match="shape"):
        kv + np.ones(4)
    before = kv.to_numpy()
    _ = kv * 3
    np.testing.assert_array_equal(kv.vectors, before)


def test_get_mean_vector():
    kv = make_kv(9)
    mean = kv.get_mean_vector(["w1", "w2", "unknown"], post_normalize=True)
    np.testing.assert_allclose(mean, unit64(unit64(kv["w1"]) + unit64(kv["w2"])), atol=1e-6)
    with pytest.raises(KeyError):
        kv.get_mean_vector(["w1", "unknown"], ignore_missing=False)
    with pytest.raises(ValueError, match="none of the keys"):
        kv.get_mean_vector(["unknown"])


def test_per_key_attributes():
    kv = make_kv(10, n=6, d=3)
    kv.set_vecattr("w2", "count", 7)
    kv.set_vecattr(["w0", "w5"], "count", [100, 3])
    assert kv.get_vecattr("w2", "count") == 7 and kv.get_vecattr("w0", "count") == 100
    assert kv.get_vecattr("w1", "count") == 0 and kv.expandos["count"].dtype.kind == "i"
    kv.set_vecattr("w1", "count", 2.5)  # widens the column instead of truncating
    assert kv.get_vecattr("w1", "count") == 2.5 and kv.get_vecattr("w2", "count") == 7
    with pytest.raises(KeyError, match="no attribute 'freq'"):
        kv.get_vecattr("w1", "freq")
    with pytest.raises(KeyError, match="word 'nope' not in vocabulary"):
        kv.set_vecattr("nope", "count", 1)
    # derived sets carry the attributes of their rows, as copies
    assert kv.subset(["w5", "w0"]).expandos["count"].tolist() == [3, 100]
    assert kv.filter(["w0", "w2"]).expandos["count"].tolist() == [100, 7]
    doubled = kv * 2
    assert doubled.get_vecattr("w2", "count") == 7
    doubled.set_vecattr("w2", "count", 1)
    assert kv.get_vecattr("w2", "count") == 7
    kv.add_vectors(["new"], np.ones((1, 3)))
    assert kv.get_vecattr("new", "count") == 0 and kv.expandos["count"].shape == (7,)
