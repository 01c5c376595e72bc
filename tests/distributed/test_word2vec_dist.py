"""Word2Vec / FastText(distributed=True) on 2 real ranks (gloo, 127.0.0.1): the vocabulary one process
builds, identical vectors on every rank, single-process quality on a planted-topic corpus, faults."""

from __future__ import annotations

import os

import numpy as np
import pytest
from embedforge import FastText, Word2Vec
from embedforge.distributed import SpawnError, spawn
from embedforge.word2vec.distributed import _range_lines, file_range

RUN = dict(timeout=60, join_timeout=150)
TOPICS, PER_TOPIC = 6, 15


def planted(seed: int, n: int = 2400, length: int = 10) -> list:
    """Sentences drawn from one of TOPICS disjoint word groups each, plus a shared filler word."""
    rng = np.random.default_rng(seed)
    groups = [[f"t{t}w{i}" for i in range(PER_TOPIC)] for t in range(TOPICS)]
    out = []
    for _ in range(n):
        g = groups[rng.integers(TOPICS)]
        sent = [g[j] for j in rng.integers(0, PER_TOPIC, length)]
        sent.insert(int(rng.integers(0, length)), "and")
        out.append(sent)
    return out


def topic_accuracy(kv) -> float:
    """The fraction of topic words whose nearest other word is in the same topic."""
    words = [w for w in kv.index_to_key if w.startswith("t")]
    v = np.stack([kv[w] for w in words]).astype(np.float64)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    sim = v @ v.T
    np.fill_diagonal(sim, -2)
    nearest = sim.argmax(1)
    return float(np.mean([words[i].split("w")[0] == words[j].split("w")[0] for i, j in enumerate(nearest)]))


# ---- byte ranges (no ranks needed) -----------------------------------------------------------------
@pytest.mark.parametrize("seed", range(4))
def test_file_ranges_give_every_line_to_exactly_one_rank(tmp_path, seed):
    rng = np.random.default_rng(seed)
    lines = ["".join(rng.choice(list("ab é\t"), int(rng.integers(0, 30)))) for _ in range(int(rng.integers(1, 60)))]
    path = tmp_path / "c.txt"
    text = "\n".join(lines) + ("\n" if seed % 2 else "")
    path.write_bytes(text.encode())
    expected = text.encode().split(b"\n")
    if seed % 2:
        expected.pop()
    for world in (1, 2, 3, 5):
        got, prev_end = [], 0
        for r in range(world):
            start, end = file_range(str(path), r, world)
            assert start == prev_end  # consecutive, no gap and no overlap
            prev_end = end
            got += list(_range_lines(str(path), start, end))
        assert prev_end == os.path.getsize(path)
        assert got == [e.decode() for e in expected], world


# ---- vocabulary --------------------------------------------------------------------------------
def _vocab(rank, world, cases):
    out = []
    for cls, kwargs, source in cases:
        m = cls(distributed=True, progress=False, **kwargs)
        m.build_vocab(**source)
        extra = m.ngram_buckets.tolist() if cls is FastText else None
        out.append((m.index_to_key, m.counts.tolist(), m.corpus_count, m.corpus_total_words, extra))
    return out


def _single_vocab(cls, kwargs, source):
    m = cls(progress=False, **kwargs)
    m.build_vocab(**source)
    return (
        m.index_to_key,
        m.counts.tolist(),
        m.corpus_count,
        m.corpus_total_words,
        (m.ngram_buckets.tolist() if cls is FastText else None),
    )


def _zipf_words(seed: int, n: int = 800) -> list:
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(300)] + ["é", "naïve", "日本"]
    p = 1.0 / np.arange(1, len(vocab) + 1)
    return [list(rng.choice(vocab, int(rng.integers(0, 12)), p=p / p.sum())) for _ in range(n)]


@pytest.mark.parametrize("seed", [0, 1])
def test_vocabulary_identical_to_one_process(tmp_path, seed):
    sents = _zipf_words(seed)
    path = tmp_path / "c.txt"
    path.write_text("\n".join(" ".join(s) for s in sents) + "\n", encoding="utf-8")
    rng = np.random.default_rng(seed)
    ids = [rng.integers(0, 500, int(rng.integers(0, 9))) for _ in range(600)]
    cases = [
        (Word2Vec, dict(min_count=2), dict(corpus_iterable=sents)),
        (Word2Vec, dict(min_count=3), dict(corpus_file=str(path))),
        (Word2Vec, dict(min_count=1, max_vocab_size=200), dict(corpus_iterable=ids)),
        (FastText, dict(min_count=2, bucket=5000), dict(corpus_iterable=sents)),
    ]
    want = [_single_vocab(cls, kwargs, source) for cls, kwargs, source in cases]
    for world in (2, 3):
        got = spawn(_vocab, world, args=(cases,), **RUN)  # one spawn for all cases: fewer process starts
        for r in range(world):
            for i, case in enumerate(cases):
                assert got[r][i] == want[i], (world, r, case[0].__name__, case[1])


# ---- training ------------------------------------------------------------------------------------
def _train(rank, world, cls, kwargs, sents, path):
    m = cls(sents, distributed=True, progress=rank == 0, **kwargs)
    if path is not None:
        m.save(path)
    oov = m.wv["t0w1x"] if cls is FastText else None
    return m.wv.vectors, topic_accuracy(m.wv), [e.words for e in m.epoch_history], m.sync_stats, oov


@pytest.mark.parametrize("cls", [Word2Vec, FastText])
def test_trained_vectors_identical_on_ranks_and_as_good_as_one_process(tmp_path, cls):
    sents = planted(0)
    kwargs = dict(vector_size=24, min_count=1, sg=1, epochs=4, workers=1, window=4, seed=5, sync_words=7000)
    if cls is FastText:
        kwargs.update(bucket=20000, min_n=3, max_n=4)
    path = str(tmp_path / "m.npz")
    (v0, acc0, words0, sync0, oov0), (v1, acc1, words1, _s, oov1) = spawn(
        _train, 2, args=(cls, kwargs, sents, path), **RUN
    )
    assert np.array_equal(v0, v1)  # the final average is the same bits on every rank
    if cls is FastText:
        assert np.array_equal(oov0, oov1)
    one = cls(sents, progress=False, **dict(kwargs, workers=2))
    assert words0 == words1 == [one.corpus_total_words] * 4  # global word counts
    assert sync0["segments_per_epoch"] == 2 and sync0["syncs"] == 8
    acc_one = topic_accuracy(one.wv)
    assert acc_one > 0.9 and acc0 > 0.9 and acc0 >= acc_one - 0.05, (acc0, acc_one)
    loaded = cls.load(path)  # rank 0 wrote it
    assert np.array_equal(loaded.wv.vectors, v0)


def _lr_seen(rank, world, sync_words):
    seen = []

    class Spy:
        def on_epoch_end(self, model):
            seen.append(model.epoch_history[-1].words)

    sents = planted(1, 600) if rank == 0 else planted(1, 600)[:450]  # uneven parts: the schedule is global
    m = Word2Vec(
        distributed=True, progress=False, min_count=1, epochs=2, workers=1, sync_words=sync_words, callbacks=[Spy()]
    )
    m.build_vocab(planted(1, 600))
    m.train(sents)
    return seen, m.sync_stats


@pytest.mark.parametrize("sync_words", [500, 10**9])
def test_the_learning_rate_follows_the_global_word_count(sync_words):
    (seen, stats), (seen1, _) = spawn(_lr_seen, 2, args=(sync_words,), **RUN)
    assert seen == seen1 and len(seen) == 2 and seen[0] > 0
    if sync_words > 10**6:
        assert stats["segments_per_epoch"] == 1 and stats["syncs"] == 2
    else:
        assert stats["segments_per_epoch"] > 5
    alpha, min_alpha = 0.025, 0.0001
    first, second = stats["epoch_start_lr"]
    assert abs(first - alpha) < 1e-6
    # after half the words of all ranks (not of rank 0's larger part): half-way down the schedule
    assert abs(second - (alpha + min_alpha) / 2) < 0.01 * alpha, second


# ---- faults --------------------------------------------------------------------------------------
def _expect_failure(rank, world, case):
    kwargs = dict(min_count=1, epochs=2, workers=1, progress=False, vector_size=8)
    try:
        if case == "bad_ids":
            ids = [np.arange(5)] * 6
            ids[3] = np.array([1, 2, -7])  # sentence 3 goes to rank 1
            Word2Vec(ids, distributed=True, **kwargs)
        elif case == "callback":

            class Boom:
                def on_epoch_end(self, model):
                    if rank == 1:
                        raise KeyError("callback broke")

            Word2Vec(planted(2, 300), distributed=True, callbacks=[Boom()], **kwargs)
        elif case == "params":
            Word2Vec(planted(2, 300), distributed=True, window=3 + rank, **kwargs)
        elif case == "max_vocab_size":
            Word2Vec(planted(2, 300), distributed=True, max_vocab_size=50, **kwargs)
    except Exception as exc:  # returned, so the test sees every rank's error
        return type(exc).__name__, str(exc), getattr(exc, "failed_ranks", None)
    return None


@pytest.mark.parametrize(
    "case, kind, words",
    [
        ("bad_ids", "RankFailedError", ["rank 1 failed", "ValueError", "sentence 3", "-7"]),
        ("callback", "RankFailedError", ["rank 1 failed", "KeyError", "callback broke"]),
        ("params", "ValueError", ["window is 3 on rank 0 but 4 on rank 1"]),
        ("max_vocab_size", "NotImplementedError", ["max_vocab_size"]),
    ],
)
def test_a_failure_on_one_rank_raises_on_every_rank(case, kind, words):
    res = spawn(_expect_failure, 2, args=(case,), **RUN)
    for r, got in enumerate(res):
        assert got is not None, f"rank {r} did not raise"
        name, msg, failed = got
        assert name == kind, (r, got)
        for w in words:
            assert w in msg, (r, msg)
        if kind == "RankFailedError":
            assert failed == [1]


def _dies(rank, world):
    class Die:
        def on_epoch_end(self, model):
            if rank == 1:
                os._exit(3)

    Word2Vec(planted(2, 300), distributed=True, callbacks=[Die()], min_count=1, epochs=3, workers=1, progress=False)


def test_a_rank_that_dies_makes_the_others_raise_within_the_timeout():
    with pytest.raises(SpawnError) as info:
        spawn(_dies, 2, timeout=5, join_timeout=60)
    assert info.value.exitcodes[1] == 3
    assert info.value.errors[0] is not None and "rank 1" in info.value.errors[0]
