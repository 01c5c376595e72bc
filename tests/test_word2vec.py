"""The native word2vec trainer: learning planted structure, agreement with a float64 reference update,
determinism, streaming, persistence, errors."""

from __future__ import annotations

import _thread
import os
import signal
import threading
import time

import embedforge
import numpy as np
import pytest
from embedforge import _w2v as C

N_TOPICS, TOPIC_WORDS = 5, 20


def topic_corpus(n_sentences: int = 2500, length: int = 10, seed: int = 0) -> list[list[str]]:
    """Each sentence draws all its words from one topic: same-topic words share contexts."""
    rng = np.random.default_rng(seed)
    topics = [[f"t{t}w{i}" for i in range(TOPIC_WORDS)] for t in range(N_TOPICS)]
    out = []
    for _ in range(n_sentences):
        t = int(rng.integers(N_TOPICS))
        out.append([topics[t][j] for j in rng.integers(0, TOPIC_WORDS, size=length)])
    return out


CORPUS = topic_corpus()
FAST = dict(vector_size=24, min_count=1, epochs=4, sample=0, progress=False, workers=2, seed=3)


def topic_precision(model, topn: int = 5) -> float:
    hits = total = 0
    for t in range(N_TOPICS):
        for i in range(0, TOPIC_WORDS, 4):
            w = f"t{t}w{i}"
            for k, _ in model.wv.most_similar(w, topn=topn):
                hits += k.startswith(f"t{t}w")
                total += 1
    return hits / total


@pytest.mark.parametrize("sg", [1, 0], ids=["skipgram", "cbow"])
@pytest.mark.parametrize("hs,negative", [(0, 5), (1, 0)], ids=["ns", "hs"])
def test_learns_planted_topics(sg, hs, negative):
    model = embedforge.Word2Vec(CORPUS, sg=sg, hs=hs, negative=negative, **FAST)
    assert len(model.wv.index_to_key) == N_TOPICS * TOPIC_WORDS
    assert topic_precision(model) == 1.0


def test_random_vectors_do_not_pass_the_topic_check():
    # The check above can fail: untrained vectors score near chance (1/5).
    model = embedforge.Word2Vec(**FAST)
    model.build_vocab(CORPUS)
    assert topic_precision(model) < 0.6


def test_cbow_sum_learns_and_wv_is_keyedvectors():
    from embedforge.vectors import KeyedVectors

    model = embedforge.Word2Vec(CORPUS, sg=0, cbow_mean=0, alpha=0.01, **FAST)
    assert isinstance(model.wv, KeyedVectors)
    assert model.wv.vectors.shape == (100, 24)
    assert topic_precision(model) == 1.0


# The update block itself is checked against a float64 reference (exact sigmoid and gensim's rule) by
# the native core tests (tests/cpp/core_tests.cpp, test_w2v_block_update).


# ---- determinism and streaming ----------------------------------------------------------------------
def test_deterministic_is_bit_identical_for_1_and_2_workers():
    kw = dict(FAST, deterministic=True, sample=1e-2)
    a = embedforge.Word2Vec(CORPUS, **dict(kw, workers=1))
    b = embedforge.Word2Vec(CORPUS, **dict(kw, workers=2))
    assert np.array_equal(a.wv.vectors, b.wv.vectors)
    assert np.array_equal(a.syn1neg, b.syn1neg)
    c = embedforge.Word2Vec(CORPUS, **dict(kw, workers=2, seed=4))
    assert not np.array_equal(a.wv.vectors, c.wv.vectors)


def write_corpus(path, sentences):
    with open(path, "w") as f:
        for s in sentences:
            f.write(" ".join(s) + "\n")


def test_corpus_file_equals_sentences_in_deterministic_mode(tmp_path):
    p = tmp_path / "c.txt"
    sents = CORPUS[:1500] + [["rare", "t0w1"]]
    write_corpus(p, sents)
    kw = dict(FAST, deterministic=True, min_count=2, sample=1e-2, hs=1)
    a = embedforge.Word2Vec(sents, **kw)
    b = embedforge.Word2Vec(corpus_file=str(p), **kw)
    assert a.index_to_key == b.index_to_key and "rare" not in a.key_to_index
    assert [e.words for e in a.epoch_history] == [e.words for e in b.epoch_history]
    assert np.array_equal(a.wv.vectors, b.wv.vectors)
    assert np.array_equal(a.syn1, b.syn1)


def test_long_lines_are_split_not_cut(tmp_path):
    rng = np.random.default_rng(0)
    line = [f"w{i}" for i in rng.integers(0, 50, size=25_003)]
    p = tmp_path / "long.txt"
    with open(p, "w") as f:
        f.write(" ".join(line))  # no trailing newline, longer than any job or read chunk? (chunk 1 MiB)
    m = embedforge.Word2Vec(corpus_file=p, **dict(FAST, epochs=2))
    assert m.corpus_total_words == 25_003
    assert [e.words for e in m.epoch_history] == [25_003, 25_003]
    m2 = embedforge.Word2Vec([line], **dict(FAST, epochs=1))
    assert m2.epoch_history[0].words == 25_003


def test_vocab_pruning_and_counts_from_file_match_python(tmp_path):
    p = tmp_path / "c.txt"
    write_corpus(p, CORPUS[:300])
    a = embedforge.Word2Vec(**FAST)
    a.build_vocab(CORPUS[:300])
    b = embedforge.Word2Vec(**FAST)
    b.build_vocab(corpus_file=str(p))
    assert a.index_to_key == b.index_to_key
    assert np.array_equal(a.counts, b.counts)
    c = embedforge.Word2Vec(**dict(FAST, max_vocab_size=30))
    c.build_vocab(CORPUS[:300])
    assert len(c.index_to_key) <= 100 and c.pruned_below >= 1


# ---- training loop behaviour ------------------------------------------------------------------------
def test_callbacks_get_words_float64_loss_and_elapsed():
    seen = []

    class Hooks:
        def __init__(self):
            self.calls = []

        def on_train_begin(self, model):
            self.calls.append("begin")

        def on_epoch_end(self, model):
            self.calls.append(model.get_latest_training_loss())

        def on_train_end(self, model):
            self.calls.append("end")

    hooks = Hooks()
    m = embedforge.Word2Vec(CORPUS, callbacks=[seen.append, hooks], compute_loss=True, **FAST)
    assert len(seen) == 4 and all(e.words == 25_000 for e in seen)
    assert all(isinstance(e.loss, float) and e.loss > 0 for e in seen)
    assert seen[-1].loss < seen[0].loss  # it learns
    assert [e.elapsed for e in seen] == sorted(e.elapsed for e in seen)
    assert hooks.calls[0] == "begin" and hooks.calls[-1] == "end" and len(hooks.calls) == 6
    # gensim's meaning: summed over the train() call so far (each epoch's figure in epoch_history)
    # (a running float64 sum and sum() may round the last bit apart)
    assert hooks.calls[1:-1] == pytest.approx([sum(e.loss for e in seen[: i + 1]) for i in range(4)], rel=1e-12)
    assert m.get_latest_training_loss() == pytest.approx(sum(e.loss for e in seen), rel=1e-12)


def test_progress_line_without_tqdm(monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import fails -> plain stderr line
    m = embedforge.Word2Vec(CORPUS, **dict(FAST, progress=True))
    assert m.epochs_trained == 4
    captured = capsys.readouterr()
    assert captured.out == ""


# A worker's exception reaching the caller is a native core test (test_w2v_worker_failure).


def test_ctrl_c_stops_training_with_keyboardinterrupt(tmp_path):
    p = tmp_path / "c.txt"
    write_corpus(p, CORPUS)
    # A process started in the background by a non-interactive shell ignores SIGINT, so
    # interrupt_main() would do nothing: install Python's own handler for the test's duration.
    # A callback bounds the run (30 s) should the interrupt never arrive.
    deadline = time.monotonic() + 30.0

    def watchdog(info):
        if time.monotonic() > deadline:
            raise TimeoutError("the simulated Ctrl-C did not stop training within 30 s")

    m = embedforge.Word2Vec(**dict(FAST, epochs=100_000, callbacks=[watchdog]))
    m.build_vocab(corpus_file=str(p))
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            m.train(corpus_file=str(p))
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert 0 < m.epochs_trained < 100_000


def test_gil_is_released_while_training():
    ticks = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks[0] += 1

    t = threading.Thread(target=spin)
    m = embedforge.Word2Vec(**dict(FAST, epochs=3))
    m.build_vocab(CORPUS)
    t.start()
    try:
        m.train(CORPUS)
    finally:
        stop.set()
        t.join()
    assert ticks[0] > 1000


# ---- persistence ----------------------------------------------------------------------------------------
def test_save_load_resume(tmp_path):
    m = embedforge.Word2Vec(CORPUS, **dict(FAST, hs=1))
    path = tmp_path / "m.w2v"
    m.save(path)
    assert sorted(os.listdir(tmp_path)) == ["m.w2v"]  # no temp files left
    r = embedforge.Word2Vec.load(path)
    assert type(r) is embedforge.Word2Vec
    assert r.index_to_key == m.index_to_key and r.epochs_trained == 4 and r.hs == 1
    assert np.array_equal(r.wv.vectors, m.wv.vectors)
    assert np.array_equal(r.syn1neg, m.syn1neg) and np.array_equal(r.syn1, m.syn1)
    before = r.wv.vectors.copy()
    r.train(CORPUS, epochs=1)
    assert r.epochs_trained == 5
    assert not np.array_equal(r.wv.vectors, before)
    assert topic_precision(r) == 1.0
    # save + load + train gives the same bits as training on without saving
    kw = dict(FAST, deterministic=True)
    x = embedforge.Word2Vec(CORPUS, **dict(kw, epochs=1))
    x.save(path)
    y = embedforge.Word2Vec.load(path)
    x.train(CORPUS, epochs=2)
    y.train(CORPUS, epochs=2)
    assert np.array_equal(x.wv.vectors, y.wv.vectors)


def test_load_rejects_garbage(tmp_path):
    p = tmp_path / "bad.npz"
    p.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a readable embedforge model"):
        embedforge.Word2Vec.load(p)
    good = tmp_path / "good.npz"
    embedforge.Word2Vec(CORPUS[:50], **FAST).save(good)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="not a readable embedforge model"):
        embedforge.Word2Vec.load(cut)
    with pytest.raises(ValueError, match="holds a word2vec model, not a FastText"):
        embedforge.FastText.load(good)


# ---- bad inputs -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(sentences=[]), ValueError, "corpus is empty"),
        (dict(sentences=[[], []]), ValueError, "corpus is empty"),
        (dict(sentences=[["a", "b"]], min_count=5), ValueError, "min_count=5 removed every word"),
        (dict(sentences=CORPUS, vector_size=-3), ValueError, "vector_size must be >= 1"),
        (dict(sentences=CORPUS, vector_size=2.5), TypeError, "vector_size must be an int"),
        (dict(sentences=CORPUS, window=0), ValueError, "window must be >= 1"),
        (dict(sentences=CORPUS, negative=-1), ValueError, "negative must be >= 0"),
        (dict(sentences=CORPUS, negative=0, hs=0), ValueError, "nothing to train"),
        (dict(sentences=CORPUS, workers=0), ValueError, "workers must be >= 1"),
        (dict(sentences=CORPUS, alpha="fast"), TypeError, "alpha must be a number"),
        (dict(sentences=CORPUS, sg=2), ValueError, "sg must be 0"),
        (dict(sentences="a b c"), TypeError, "not a string"),
        (dict(sentences=(s for s in CORPUS)), TypeError, "one-shot iterator"),
        (dict(sentences=[["a", "b"], "c d"]), TypeError, "sentence 1 must be a list"),
        (dict(sentences=[[1, 2, 3]]), TypeError, "tokens must be str"),
        (dict(sentences=CORPUS, corpus_file="x.txt"), ValueError, "not both"),
        (dict(corpus_file="/nonexistent/corpus.txt"), ValueError, "does not exist"),
        (dict(corpus_file=123), TypeError, "corpus_file must be a path"),
    ],
)
def test_bad_inputs_raise_clear_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        embedforge.Word2Vec(**{**dict(min_count=1, progress=False, epochs=1), **kwargs})


def test_empty_corpus_file(tmp_path):
    p = tmp_path / "empty.txt"
    p.write_text("\n\n   \n")
    with pytest.raises(ValueError, match="corpus is empty"):
        embedforge.Word2Vec(corpus_file=p, min_count=1, progress=False)


def test_native_trainer_checks_ids_and_tables():
    m = embedforge.Word2Vec(**FAST)
    m.build_vocab(CORPUS)
    cfg = m._config(1000, 0.025, 0.0001)
    tr = C.Word2VecTrainer(m._in, m.syn1neg, None, m.counts, None, None, None, cfg)
    tr.begin_epoch(0)
    with pytest.raises(ValueError, match=r"ids\[1\]=100 is out of range for a vocabulary of 100"):
        tr.push(np.array([0, 100], np.int32), np.array([2], np.int64))
    tr.abort()
    with pytest.raises(TypeError, match="in_table must be float32"):
        C.Word2VecTrainer(m._in.astype(np.float64), m.syn1neg, None, m.counts, None, None, None, cfg)
    cfg.vector_size = 25
    with pytest.raises(ValueError, match="out_neg has 24 columns, expected 25"):
        C.Word2VecTrainer(np.zeros((100, 25), np.float32), m.syn1neg, None, m.counts, None, None, None, cfg)


# ---- the op path (what device="cuda" runs), exercised here with the CPU kernel --------------------------
def test_op_path_learns_planted_topics_on_cpu_kernel():
    m = embedforge.Word2Vec(**dict(FAST, sg=1, epochs=4))
    m.build_vocab(CORPUS)
    m._train_op("cpu", CORPUS, None, 4, 0.025, 0.0001, batch=64)
    assert m.epochs_trained == 4 and m.epoch_history[-1].words == 25_000
    assert topic_precision(m) >= 0.9


def test_op_path_reads_a_corpus_file_natively(tmp_path):
    p = tmp_path / "c.txt"
    write_corpus(p, CORPUS)
    m = embedforge.Word2Vec(**dict(FAST, sg=1, epochs=4))
    m.build_vocab(corpus_file=str(p))
    m._train_op("cpu", None, str(p), 4, 0.025, 0.0001, batch=64)
    assert m.epochs_trained == 4 and m.epoch_history[-1].words == 25_000
    assert topic_precision(m) >= 0.9


def _pair_stream(counts, words=None, **cfg):
    c = C.TrainConfig()
    for k, v in dict(dict(sg=True, negative=5, window=2, sample=0.0, seed=7), **cfg).items():
        setattr(c, k, v)
    return C.Word2VecPairStream(np.asarray(counts, np.int64), words, c)


def _drain(stream):
    out = []
    while (job := stream.next()) is not None:
        out.append(job)
    return out


def test_pair_stream_gives_the_skipgram_pairs_of_each_window():
    # No subsampling, fixed windows: exactly the (center, context) pairs within `window` positions.
    st = _pair_stream([5] * 8, window=2, shrink_windows=False, alpha=0.025, min_alpha=0.0001, schedule_words=100)
    st.begin_epoch(0)
    ids = np.array([0, 1, 2, 3, 4, -1, 5, 6, 7], np.int32)  # -1: out of vocabulary, dropped
    st.push(ids, np.array([6, 9], np.int64))  # sentences [0 1 2 3 4 -1] and [5 6 7]
    assert _drain(st) == []  # under a job's worth of words: nothing yet
    st.end_input()
    (centers, contexts, lr, words), *rest = _drain(st)
    assert rest == [] and words == 8 and lr == pytest.approx(0.025)
    expected = []
    for sent in ([0, 1, 2, 3, 4], [5, 6, 7]):
        for i in range(len(sent)):
            for j in range(max(0, i - 2), min(len(sent), i + 3)):
                if j != i:
                    expected.append((sent[i], sent[j]))
    assert sorted(zip(centers.tolist(), contexts.tolist())) == sorted(expected)
    assert list(zip(centers.tolist(), contexts.tolist())) != expected  # shuffled
    assert st.words_done == 8 and st.lr == pytest.approx(0.025 - (0.025 - 0.0001) * 8 / 100, rel=1e-5)


def test_pair_stream_shrinks_windows_and_subsamples_as_word2vec():
    rng = np.random.default_rng(0)
    V, n = 50, 200_000
    counts = np.zeros(V, np.int64)
    ids = rng.integers(0, V, n).astype(np.int32)
    ids[rng.random(n) < 0.5] = 0  # word 0 is frequent: subsampled
    np.add.at(counts, ids, 1)
    sample, window = 1e-2, 4
    st = _pair_stream(counts, window=window, sample=sample, shrink_windows=True)
    st.begin_epoch(0)
    ends = np.arange(100, n + 1, 100, dtype=np.int64)  # sentences of 100 words
    st.push(ids, ends)
    st.end_input()
    jobs = _drain(st)
    assert sum(j[3] for j in jobs) == n and len(jobs) == n // 10_000
    centers = np.concatenate([j[0] for j in jobs])
    # word2vec's keep probability (sqrt(c / T) + 1) T / c with T = sample * total, in float64
    thr = sample * n
    keep = np.minimum(1.0, (np.sqrt(counts / thr) + 1) * thr / counts)
    kept = keep * counts
    expected_share = kept[0] / kept.sum()
    assert 0.1 < keep[0] < 0.6 and keep[1:].min() == 1.0
    # a center's share of the pairs: its share of the kept words (windows do not depend on the word)
    assert np.mean(centers == 0) == pytest.approx(expected_share, rel=0.03)
    # shrunk windows: reach uniform in 1..window, so about (window + 1) pairs per kept position
    # (less at sentence edges), never more than 2 * window
    per_position = centers.shape[0] / kept.sum()
    assert 0.85 * (window + 1) < per_position < window + 1
    fixed = _pair_stream(counts, window=window, sample=sample, shrink_windows=False)
    fixed.begin_epoch(0)
    fixed.push(ids, ends)
    fixed.end_input()
    per_position_fixed = sum(j[0].shape[0] for j in _drain(fixed)) / kept.sum()
    assert 0.9 * 2 * window < per_position_fixed <= 2 * window


def test_pair_stream_reads_a_file_into_the_same_pairs_as_pushed_sentences(tmp_path):
    words = sorted({w for s in CORPUS for w in s})
    index = {w: i for i, w in enumerate(words)}
    counts = np.zeros(len(words), np.int64)
    for s in CORPUS:
        for w in s:
            counts[index[w]] += 1
    p = tmp_path / "c.txt"
    write_corpus(p, CORPUS)
    a = _pair_stream(counts, words, window=5, sample=1e-3, shrink_windows=True)
    a.begin_file_epoch(1, str(p))
    from_file = _drain(a)
    b = _pair_stream(counts, None, window=5, sample=1e-3, shrink_windows=True)
    b.begin_epoch(1)
    ids = np.array([index[w] for s in CORPUS for w in s], np.int32)
    b.push(ids, np.cumsum([len(s) for s in CORPUS]).astype(np.int64))
    b.end_input()
    pushed = _drain(b)
    assert len(from_file) == len(pushed) == 3
    for (c1, x1, lr1, w1), (c2, x2, lr2, w2) in zip(from_file, pushed):
        np.testing.assert_array_equal(c1, c2)
        np.testing.assert_array_equal(x1, x2)
        assert lr1 == lr2 and w1 == w2
    # the next epoch continues the schedule and draws other windows
    b.begin_epoch(2)
    b.push(ids, np.cumsum([len(s) for s in CORPUS]).astype(np.int64))
    b.end_input()
    again = _drain(b)
    assert b.words_before == 25_000 and not np.array_equal(again[0][0], pushed[0][0])


def test_pair_stream_negatives_follow_the_unigram_power():
    counts = np.array([1000, 100, 10, 1, 500], np.int64)
    st = _pair_stream(counts)
    st.begin_epoch(0)
    neg = st.negatives(400_000)
    assert neg.dtype == np.int64 and neg.min() >= 0 and neg.max() < 5
    p = counts**0.75 / (counts**0.75).sum()
    np.testing.assert_allclose(np.bincount(neg, minlength=5) / neg.shape[0], p, rtol=0.05, atol=2e-4)


def test_pair_stream_checks_its_input(tmp_path):
    with pytest.raises(ValueError, match="skip-gram with negative sampling"):
        _pair_stream([3, 4], sg=False)
    with pytest.raises(ValueError, match="skip-gram with negative sampling"):
        _pair_stream([3, 4], hs=True)
    with pytest.raises(ValueError, match="counts"):
        _pair_stream([])
    st = _pair_stream([3, 4])
    with pytest.raises(RuntimeError, match="before begin_epoch"):
        st.push(np.array([0, 1], np.int32), np.array([2], np.int64))
    st.begin_epoch(0)
    with pytest.raises(ValueError, match=r"ids\[1\]=2 is out of range"):
        st.push(np.array([0, 2], np.int32), np.array([2], np.int64))
    with pytest.raises(ValueError, match="ends"):
        st.push(np.array([0, 1], np.int32), np.array([3], np.int64))
    with pytest.raises(ValueError, match="without words"):
        st.begin_file_epoch(0, "x.txt")
    with pytest.raises(ValueError, match="k must be"):
        st.negatives(-1)
    named = _pair_stream([3, 4], ["a", "b"])
    named.begin_file_epoch(0, str(tmp_path / "missing.txt"))
    with pytest.raises(RuntimeError, match="cannot open corpus file"):
        named.next()
    named.begin_epoch(1)  # usable after the failure
    assert named.next() is None


def test_device_cuda_needs_skipgram_ns_and_a_gpu():
    with pytest.raises(ValueError, match="skip-gram with negative sampling only"):
        embedforge.Word2Vec(device="cuda", sg=0)
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            embedforge.Word2Vec(device="cuda", sg=1)


# ---- corpora of token ids ---------------------------------------------------------------------------
def _as_ids(corpus, keys):
    index = {k: i for i, k in enumerate(keys)}
    return [np.array([index[w] for w in sent], dtype=np.int64) for sent in corpus]


# ids numbered by first appearance, so that ties in frequency rank alike (by first appearance for
# tokens, by id for ids)
ID_KEYS = list(dict.fromkeys(w for s in CORPUS for w in s)) + ["never_used"]
ID_CORPUS = _as_ids(CORPUS, ID_KEYS)


def test_id_corpus_trains_exactly_like_the_same_tokens():
    det = dict(FAST, deterministic=True)
    by_tokens = embedforge.Word2Vec(CORPUS, **det)
    by_ids = embedforge.Word2Vec(ID_CORPUS, id_to_key=ID_KEYS, **det)
    assert by_ids.wv.index_to_key == by_tokens.wv.index_to_key
    assert "never_used" not in by_ids.wv.key_to_index
    np.testing.assert_array_equal(by_ids.counts, by_tokens.counts)
    np.testing.assert_array_equal(by_ids.wv.vectors, by_tokens.wv.vectors)


def test_id_corpus_without_names_uses_the_ids_as_keys_and_learns():
    ids = [a.astype(np.int32) for a in ID_CORPUS]
    model = embedforge.Word2Vec(ids, **FAST)
    name = {str(i): k for i, k in enumerate(ID_KEYS)}
    hits = total = 0
    for key in model.wv.index_to_key[:20]:
        for other, _ in model.wv.most_similar(key, topn=5):
            hits += name[other].split("w")[0] == name[key].split("w")[0]
            total += 1
    assert hits / total == 1.0


def test_id_corpus_max_vocab_size_keeps_the_most_frequent():
    ids = [np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 3])] * 20
    model = embedforge.Word2Vec(ids, min_count=1, max_vocab_size=2, epochs=1, progress=False)
    assert model.wv.index_to_key == ["3", "0"]


def test_id_corpus_save_load_resume(tmp_path):
    model = embedforge.Word2Vec(ID_CORPUS, id_to_key=ID_KEYS, **dict(FAST, epochs=1))
    model.save(tmp_path / "m.w2v")
    back = embedforge.Word2Vec.load(tmp_path / "m.w2v")
    np.testing.assert_array_equal(back._id_remap, model._id_remap)
    back.train(ID_CORPUS, epochs=1)
    assert back.epochs_trained == 2
    assert not np.array_equal(back.wv.vectors, model.wv.vectors)


@pytest.mark.parametrize(
    "bad,message",
    [
        ([np.array([1, 2]), np.array([3, -1, 2])], "sentence 1: token id -1 at position 1 is negative"),
        (
            [np.array([1, 2]), np.array([0, 7])],
            "sentence 1: token id 7 at position 1 is out of range for id_to_key of 5 keys",
        ),
    ],
)
def test_id_corpus_bad_ids_are_named(bad, message):
    with pytest.raises(ValueError, match=message):
        embedforge.Word2Vec(bad, id_to_key=list("abcde"), min_count=1, progress=False)


def test_id_corpus_mixed_with_tokens_is_a_type_error():
    with pytest.raises(TypeError, match="sentence 1 must be a 1-D integer numpy array"):
        embedforge.Word2Vec([np.array([1, 2]), ["a", "b"]], min_count=1, progress=False)
    model = embedforge.Word2Vec(CORPUS, **dict(FAST, epochs=1))
    with pytest.raises(TypeError, match="sentence 0 is an array of token ids"):
        model.train([np.array([1, 2])])
    with pytest.raises(ValueError, match="duplicate"):
        embedforge.Word2Vec(id_to_key=["a", "a"])


def test_fasttext_id_corpus_needs_names():
    with pytest.raises(ValueError, match="id_to_key"):
        embedforge.FastText(ID_CORPUS, **FAST)
    ft = embedforge.FastText(ID_CORPUS, id_to_key=ID_KEYS, bucket=5000, **dict(FAST, epochs=1))
    assert ft.wv["t0w1x"].shape == (24,)


def test_op_path_reports_callbacks_and_epochs_like_the_native_path():
    seen = []

    class Recorder:
        def on_train_begin(self, model):
            seen.append("begin")

        def on_epoch_end(self, model):
            seen.append(model.epochs_trained)

        def on_train_end(self, model):
            seen.append("end")

    m = embedforge.Word2Vec(**dict(FAST, sg=1, epochs=2, compute_loss=True, callbacks=[Recorder()]))
    m.build_vocab(CORPUS)
    examples, words = m._train_op("cpu", CORPUS, None, 2, 0.025, 0.0001, batch=64)
    assert seen == ["begin", 1, 2, "end"]
    assert words == 2 * 25_000 and examples == sum(e.examples for e in m.epoch_history) > 0
    assert m.get_latest_training_loss() == sum(e.loss for e in m.epoch_history) > 0


@pytest.mark.parametrize("sample", [0.0, 1e-3])
def test_no_training_example_warning_names_the_real_cause(sample):
    sentences = [["solo"], ["alone"], ["solo"]] if sample == 0 else [["a", "b"]] * 3
    with pytest.warns(RuntimeWarning, match="no training example") as seen:
        embedforge.Word2Vec(sentences, vector_size=4, min_count=1, epochs=1, workers=1, sample=sample)
    text = str(seen[0].message)
    if sample == 0:
        assert "fewer than 2 words" in text and "subsampling" not in text
    else:
        assert "subsampling (sample=0.001)" in text
