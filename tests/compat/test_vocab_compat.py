"""gensim's vocabulary options side by side with gensim (issue 14, §4): constructor arguments,
build_vocab(update=True), build_vocab_from_freq, predict_output_word, vectors_for_all, and token-id
corpora whose ids are huge."""

import inspect
import tracemalloc
import warnings

import embedforge
import numpy as np
import pytest

gensim_models = pytest.importorskip("gensim.models", reason="gensim is the reference these tests compare with")
FAST = dict(vector_size=12, workers=1, seed=5)
OURS = dict(progress=False)


def _zipf_corpus(seed: int, sentences: int = 120, vocab: int = 60) -> list:
    """Fresh random sentences of Zipf-distributed words (many ties among the rare ones)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(sentences):
        ids = np.minimum(rng.zipf(1.4, size=rng.integers(3, 12)), vocab)
        out.append([f"w{i}" for i in ids])
    return out


def _counts(model) -> dict:
    return {w: int(model.wv.get_vecattr(w, "count")) for w in model.wv.index_to_key}


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny corpora: the "no training example" warning is expected
        return fn(*args, **kwargs)


@pytest.mark.parametrize("ours,theirs", [("Word2Vec", "Word2Vec"), ("FastText", "FastText")])
def test_constructor_follows_gensims_positional_order(ours, theirs):
    mine = list(inspect.signature(getattr(embedforge, ours).__init__).parameters)[1:]
    ref = list(inspect.signature(getattr(gensim_models, theirs).__init__).parameters)[1:]
    assert mine[: len(ref)] == ref  # embedforge's own options come after, keyword-only
    kinds = inspect.signature(getattr(embedforge, ours).__init__).parameters
    extra = [kinds[name].kind for name in mine[len(ref) :]]
    assert all(k in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD) for k in extra)


@pytest.mark.parametrize(
    "options",
    [
        dict(min_count=1, max_final_vocab=7),
        dict(min_count=3, max_final_vocab=40),
        dict(min_count=1, sorted_vocab=0),
        dict(min_count=2, null_word=1),
        dict(min_count=2, trim_rule=lambda w, c, m: 2 if w == "w40" else (1 if w == "w1" else 0)),
    ],
    ids=["max_final_vocab", "max_final_vocab_above", "sorted_vocab0", "null_word", "trim_rule"],
)
@pytest.mark.parametrize("cls", ["Word2Vec", "FastText"])
def test_vocabulary_options_keep_what_gensim_keeps(cls, options):
    corpus = _zipf_corpus(len(options) * 7 + len(cls))
    ours = _quiet(getattr(embedforge, cls), corpus, epochs=1, **FAST, **OURS, **options)
    theirs = getattr(gensim_models, cls)(corpus, epochs=1, **FAST, **options)
    assert ours.effective_min_count == theirs.effective_min_count
    assert _counts(ours) == _counts(theirs)  # the same words, the same counts
    if options.get("sorted_vocab") == 0:
        assert ours.wv.index_to_key == theirs.wv.index_to_key  # first-occurrence order, as gensim
    else:  # most frequent first (ties: gensim reverses first-occurrence order, we keep it; see the note)
        assert [ours.wv.get_vecattr(w, "count") for w in ours.wv.index_to_key] == sorted(
            _counts(theirs).values(), reverse=True
        )
    if "max_final_vocab" in options:
        assert len(ours.wv) <= options["max_final_vocab"]
    if options.get("null_word"):
        assert ours.wv.get_vecattr("\0", "count") == 1


def test_trim_rule_answers_are_checked_and_combinations_refused():
    corpus = _zipf_corpus(1)
    with pytest.raises(ValueError, match="RULE_DISCARD"):
        embedforge.Word2Vec(corpus, min_count=1, trim_rule=lambda w, c, m: 7, **FAST, **OURS)
    with pytest.raises(TypeError, match="callable"):
        embedforge.Word2Vec(min_count=1, **FAST, **OURS).build_vocab(corpus, trim_rule=3)
    with pytest.raises(NotImplementedError, match="max_vocab_size"):
        embedforge.Word2Vec(corpus, max_vocab_size=10, trim_rule=lambda *a: 0, **FAST, **OURS)
    with pytest.raises(ValueError, match="trim_rule"):  # gensim warns and ignores it; we never ignore one
        embedforge.Word2Vec(trim_rule=lambda *a: 0, **FAST, **OURS)
    for name, value in (("max_final_vocab", 0), ("batch_words", 0), ("sorted_vocab", 2), ("null_word", "x")):
        with pytest.raises((ValueError, TypeError), match=name):
            embedforge.Word2Vec(**{name: value}, **FAST, **OURS)


def test_gensim_arguments_without_a_counterpart_raise():
    with pytest.raises(NotImplementedError, match="hashfxn"):
        embedforge.Word2Vec(hashfxn=lambda s: 1, **FAST, **OURS)
    with pytest.raises(NotImplementedError, match="word_ngrams"):  # gensim raises the same way
        embedforge.FastText(word_ngrams=2, **FAST, **OURS)
    with pytest.raises(NotImplementedError):
        gensim_models.FastText(word_ngrams=2)
    m = embedforge.Word2Vec(comment="run 3", **FAST, **OURS)
    assert m.comment == "run 3"


def test_batch_words_cuts_the_jobs():
    corpus = [s * 3 for s in _zipf_corpus(2, sentences=300)]
    kw = dict(min_count=1, epochs=2, sample=0, deterministic=True, **FAST, **OURS)
    a = embedforge.Word2Vec(corpus, batch_words=50, **kw)
    b = embedforge.Word2Vec(corpus, batch_words=50, **kw)
    c = embedforge.Word2Vec(corpus, **kw)  # 10,000 words: one job per epoch here
    np.testing.assert_array_equal(a.wv.vectors, b.wv.vectors)  # reproducible
    assert not np.array_equal(a.wv.vectors, c.wv.vectors)  # jobs seed the random streams: it took effect
    assert a.batch_words == 50 and c.batch_words == 10_000
    assert a._config(1, 0.025, 0.0001).batch_words == 50


@pytest.mark.parametrize("cls", ["Word2Vec", "FastText"])
def test_build_vocab_update_grows_the_vocabulary_as_gensim(cls):
    first, second = _zipf_corpus(3), _zipf_corpus(4, vocab=90)
    second = [s + ["brandnew"] for s in second[:30]] + second[30:]
    ours = getattr(embedforge, cls)(first, min_count=2, epochs=1, sample=0, **FAST, **OURS)
    theirs = getattr(gensim_models, cls)(first, min_count=2, epochs=1, sample=0, **FAST)
    before_in, before_wv = ours._in.copy(), ours.wv.vectors.copy()
    before_neg, old_v, old_keys = ours.syn1neg.copy(), len(ours.wv), list(ours.wv.index_to_key)
    ours.build_vocab(second, update=True)
    theirs.build_vocab(second, update=True)
    assert _counts(ours) == _counts(theirs)
    assert ours.wv.index_to_key[:old_v] == old_keys  # known words keep their rows
    assert ours.wv.index_to_key[old_v:] == theirs.wv.index_to_key[old_v:]  # new words appended in scan order
    assert "brandnew" in ours.wv.key_to_index
    assert ours.corpus_count == len(second)
    np.testing.assert_array_equal(ours.syn1neg[:old_v], before_neg)
    assert not ours.syn1neg[old_v:].any()
    np.testing.assert_array_equal(ours.wv.vectors[:old_v], before_wv)  # nothing trained is lost
    if cls == "Word2Vec":
        np.testing.assert_array_equal(ours._in[:old_v], before_in)
    fresh = ours.wv["brandnew"].copy()
    ours.train(second, total_examples=len(second), epochs=1)
    assert np.isfinite(ours.wv.vectors).all()
    assert not np.allclose(ours.wv["brandnew"], fresh)  # new words train


def test_fasttext_update_keeps_trained_ngram_rows(tmp_path):
    first = _zipf_corpus(5)
    m = embedforge.FastText(first, min_count=1, epochs=1, **FAST, **OURS)
    old_buckets, old_rows = m.ngram_buckets.copy(), m.vectors_ngrams.copy()
    oov_before = m.wv["w3xyz"].copy()
    m.build_vocab([["zebra", "w3xyz", "w1"]] * 4, update=True)
    pos = np.searchsorted(m.ngram_buckets, old_buckets)
    assert np.array_equal(m.ngram_buckets[pos], old_buckets) and len(m.ngram_buckets) > len(old_buckets)
    np.testing.assert_array_equal(m.vectors_ngrams[pos], old_rows)
    assert m.wv.has_index_for("w3xyz") and not np.array_equal(m.wv["w3xyz"], oov_before)
    _quiet(m.train, [["zebra", "w3xyz", "w1"]] * 4, total_examples=4, epochs=1)
    m.save(tmp_path / "ft.npz")  # the grown tables stay consistent with the vocabulary
    r = embedforge.FastText.load(tmp_path / "ft.npz")
    np.testing.assert_array_equal(r.wv["zebra"], m.wv["zebra"])
    np.testing.assert_array_equal(r.wv["unseen"], m.wv["unseen"])


def test_update_errors_like_gensim():
    m = embedforge.Word2Vec(min_count=1, **FAST, **OURS)
    with pytest.raises(RuntimeError, match="build one first"):
        m.build_vocab(_zipf_corpus(6), update=True)
    with pytest.raises(RuntimeError):
        gensim_models.Word2Vec(min_count=1).build_vocab(_zipf_corpus(6), update=True)
    ids = embedforge.Word2Vec([np.arange(5)] * 4, min_count=1, epochs=1, **FAST, **OURS)
    with pytest.raises(TypeError, match="token ids"):
        ids.build_vocab([["a", "b"]], update=True)


def test_update_of_an_id_model_maps_new_ids(tmp_path):
    rng = np.random.default_rng(7)
    first = [rng.integers(0, 20, size=8) for _ in range(40)]
    second = [rng.integers(10, 35, size=8) for _ in range(40)]
    m = _quiet(embedforge.Word2Vec, first, min_count=1, epochs=1, **FAST, **OURS)
    m.build_vocab(second, update=True)
    counts = np.bincount(np.concatenate(first + second), minlength=35)
    for i in np.flatnonzero(counts):
        assert m.wv.get_vecattr(str(i), "count") == counts[i]
    _quiet(m.train, second, total_examples=len(second), epochs=1)
    m.save(tmp_path / "m.npz")
    r = embedforge.Word2Vec.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(r.wv.vectors, m.wv.vectors)


@pytest.mark.parametrize("cls", ["Word2Vec", "FastText"])
def test_build_vocab_from_freq_matches_gensim(cls):
    rng = np.random.default_rng(8)
    freq = {f"t{i}": int(c) for i, c in enumerate(rng.integers(1, 30, size=50))}
    ours = getattr(embedforge, cls)(min_count=4, **FAST, **OURS)
    theirs = getattr(gensim_models, cls)(min_count=4, **FAST)
    ours.build_vocab_from_freq(freq, corpus_count=17)
    theirs.build_vocab_from_freq(freq, corpus_count=17)
    assert _counts(ours) == _counts(theirs) and ours.corpus_count == theirs.corpus_count == 17
    ours.build_vocab_from_freq({"t0": 5, "fresh": 9}, update=True)
    theirs.build_vocab_from_freq({"t0": 5, "fresh": 9}, update=True)
    assert _counts(ours) == _counts(theirs)
    with pytest.raises(TypeError, match="dict"):
        ours.build_vocab_from_freq([("a", 1)])
    with pytest.raises(ValueError, match="word_freq"):
        ours.build_vocab_from_freq({"a": -1})


@pytest.mark.parametrize("sg,cbow_mean", [(0, 1), (0, 0), (1, 1)])
def test_predict_output_word_matches_gensim_on_the_same_tables(sg, cbow_mean):
    corpus = _zipf_corpus(9)
    ours = embedforge.Word2Vec(corpus, min_count=1, epochs=2, sg=sg, cbow_mean=cbow_mean, **FAST, **OURS)
    theirs = gensim_models.Word2Vec(corpus, min_count=1, epochs=1, sg=sg, cbow_mean=cbow_mean, **FAST)
    rows = [ours.wv.key_to_index[w] for w in theirs.wv.index_to_key]
    theirs.wv.vectors[:] = ours.wv.vectors[rows]  # the same trained tables, in gensim's word order
    theirs.syn1neg[:] = ours.syn1neg[rows]
    context = ["w1", "w2", "not-a-word", "w5"]
    mine, ref = ours.predict_output_word(context, topn=8), theirs.predict_output_word(context, topn=8)
    assert [w for w, _ in mine] == [w for w, _ in ref]
    np.testing.assert_allclose([p for _, p in mine], [p for _, p in ref], rtol=1e-4)
    with pytest.warns(UserWarning, match="out of the vocabulary"):
        assert ours.predict_output_word(["nope"]) is None
    hs_only = embedforge.Word2Vec(corpus, min_count=1, epochs=1, hs=1, negative=0, **FAST, **OURS)
    with pytest.raises(RuntimeError, match="negative"):
        hs_only.predict_output_word(["w1"])


def test_vectors_for_all_matches_gensim():
    corpus = _zipf_corpus(10)
    ours = embedforge.FastText(corpus, min_count=2, epochs=1, **FAST, **OURS)
    theirs = gensim_models.KeyedVectors(ours.wv.vector_size)
    theirs.add_vectors(ours.wv.index_to_key, ours.wv.vectors)
    keys = ["w3", "w1", "w3", "unseen-word", "w2"]
    plain = embedforge.KeyedVectors(list(ours.wv.index_to_key), ours.wv.vectors.copy())
    a, b = plain.vectors_for_all(keys), theirs.vectors_for_all(keys)
    assert a.index_to_key == b.index_to_key == ["w3", "w1", "w2"]
    np.testing.assert_array_equal(a.vectors, b.vectors)
    inferred = ours.wv.vectors_for_all(keys, copy_vecattrs=True)
    assert inferred.index_to_key == ["w3", "w1", "unseen-word", "w2"]
    np.testing.assert_array_equal(inferred["unseen-word"], ours.wv["unseen-word"])
    assert inferred.get_vecattr("unseen-word", "count") == 0
    assert inferred.get_vecattr("w1", "count") == ours.wv.get_vecattr("w1", "count")
    assert ours.wv.vectors_for_all(keys, allow_inference=False).index_to_key == ["w3", "w1", "w2"]
    with pytest.raises(TypeError, match="string"):
        ours.wv.vectors_for_all("w1")


def test_huge_token_ids_allocate_by_distinct_ids_not_by_the_largest(tmp_path):
    rng = np.random.default_rng(11)
    small = [rng.integers(0, 30, size=10) for _ in range(60)]
    big_ids = np.sort(rng.choice(2**31 - 1, size=30, replace=False))  # 30 distinct ids up to 2^31 - 2
    big = [big_ids[s] for s in small]
    kw = dict(min_count=1, epochs=1, sample=0, deterministic=True, **FAST, **OURS)
    a = embedforge.Word2Vec(small, **kw)
    tracemalloc.start()
    try:
        b = embedforge.Word2Vec(big, **kw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20  # a dense array indexed by id would take 8 GiB (counts) or 8 GiB (map)
    # the same corpus relabelled: the same vocabulary order and the same trained vectors
    assert [big_ids[int(k)] for k in a.wv.index_to_key] == [int(k) for k in b.wv.index_to_key]
    np.testing.assert_array_equal(a.wv.vectors, b.wv.vectors)
    b.save(tmp_path / "big.npz")
    r = embedforge.Word2Vec.load(tmp_path / "big.npz")
    _quiet(r.train, big, total_examples=len(big), epochs=1)
    _quiet(b.train, big, total_examples=len(big), epochs=1)
    np.testing.assert_array_equal(r.wv.vectors, b.wv.vectors)


def test_damaged_id_map_in_a_model_file_is_refused(tmp_path):
    m = embedforge.Word2Vec([np.array([3, 1, 2, 3])] * 5, min_count=1, epochs=1, **FAST, **OURS)
    m._id_remap = np.array([[1, 1, 3], [0, 1, 2]])  # ids not increasing
    m.save(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="token-id map"):
        embedforge.Word2Vec.load(tmp_path / "bad.npz")
    m._id_remap = np.array([7, -1, 0, 1], dtype=np.int32)  # index 7 past the vocabulary
    m.save(tmp_path / "bad2.npz")
    with pytest.raises(ValueError, match="token-id map"):
        embedforge.Word2Vec.load(tmp_path / "bad2.npz")


def test_model_files_from_before_the_new_parameters_still_load(tmp_path):
    import json

    m = embedforge.Word2Vec(_zipf_corpus(12), min_count=1, epochs=1, **FAST, **OURS)
    m.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as z:
        data = {k: z[k] for k in z.files}
    meta = json.loads(bytes(data["meta"]).decode())
    for name in ("sorted_vocab", "max_final_vocab", "null_word", "batch_words"):
        del meta["params"][name]
    data["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(tmp_path / "old.npz", **data)
    r = embedforge.Word2Vec.load(tmp_path / "old.npz")
    assert r.batch_words == 10_000 and r.sorted_vocab == 1 and r.null_word == 0 and r.max_final_vocab is None
    np.testing.assert_array_equal(r.wv.vectors, m.wv.vectors)
