"""Word2Vec and FastText with gensim's parameter names, trained by the native engine.

V vocabulary size, D vector size. ``model.wv`` holds the [V, D] word vectors as a
:class:`embedforge.vectors.KeyedVectors`.

Example::

    >>> import embedforge
    >>> sents = [["the", "cat", "sat"], ["the", "dog", "ran"]] * 200
    >>> model = embedforge.Word2Vec(sents, vector_size=16, min_count=1, epochs=2, progress=False)
    >>> model.wv["cat"].shape
    (16,)

Threads: ``workers`` Hogwild threads share the tables without locks, each with its own RNG, fed by
one reader (a ``corpus_file`` is streamed in 1 MiB chunks; an iterable is converted in chunks on
the calling thread). The GIL is released while training; Ctrl-C stops training and raises
KeyboardInterrupt; an error in a worker is raised as RuntimeError.

``deterministic=True`` gives bit-identical vectors for a seed whatever ``workers`` is: every job
(about 10,000 words) has its own RNG stream seeded from (seed, epoch, job) and jobs are trained in
order on one thread. Its cost: training uses one core (reading still overlaps), so it runs at the
1-worker speed. Results also depend on the SIMD build chosen for the CPU (EMBEDFORGE_ISA caps it).

Differences from gensim worth knowing: skip-gram shares the negative samples of a center word
across its context window (Intel's pWord2Vec), which turns the update into small matrix products;
the loss (``compute_loss=True``) is accumulated in float64 per epoch.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import warnings
import zipfile
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Callable, Iterable, Sequence

import numpy as np

__all__ = ["Word2Vec", "FastText", "FastTextKeyedVectors", "EpochInfo"]

_FORMAT = "embedforge-word2vec-1"
_CHUNK_TOKENS = 50_000


def _C():
    """The torch-free native trainer module (embedforge._w2v)."""
    try:
        from . import _w2v
    except ImportError as exc:  # pragma: no cover - exercised only on broken installs
        raise ImportError(
            f"embedforge's word2vec trainer module failed to load ({exc}); reinstall embedforge: `make develop` in a "
            "source checkout, or `pip install --force-reinstall --no-deps embedforge`"
        ) from exc
    return _w2v


@dataclass(frozen=True)
class EpochInfo:
    """What a callback receives at the end of an epoch."""

    epoch: int            # 0-based epoch within this train() call
    words: int            # in-vocabulary words processed this epoch (before subsampling)
    examples: int         # predictions made this epoch
    loss: float           # summed logistic loss this epoch (float64; 0 unless compute_loss)
    seconds: float        # this epoch's wall time
    elapsed: float        # since train() began


_INT32_MAX = 2 ** 31 - 1
_INT64_MAX = 2 ** 63 - 1
# The native trainer's field widths: a value past them would surface as a pybind11 cast error.
_INT_MAXIMUM = {"seed": 2 ** 64 - 1, "max_vocab_size": _INT64_MAX, "bucket": _INT64_MAX,
                "total_examples": _INT64_MAX, "total_words": _INT64_MAX, "min_count": _INT64_MAX}


def _check_int(name: str, value: Any, minimum: int | None = None, allow_none: bool = False,
               maximum: int | None = None) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    maximum = _INT_MAXIMUM.get(name, _INT32_MAX) if maximum is None else maximum
    if value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")


def _gensim_vocab_options(update: Any, trim_rule: Any, kwargs: dict) -> None:
    """gensim build_vocab options without a counterpart here fail loudly."""
    if kwargs:
        raise TypeError(f"build_vocab() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
    if update:
        raise NotImplementedError("build_vocab(update=True): growing a trained model's vocabulary is not supported")
    if trim_rule is not None:
        raise NotImplementedError("build_vocab(trim_rule=...): vocabulary trim rules are not supported; use min_count "
                                  "or max_vocab_size")


def _check_float(name: str, value: Any, minimum: float | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} ({value!r})")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def _first_is_ids(corpus: Any) -> bool:
    """True when the corpus's first sentence is a numpy integer array (a corpus of token ids)."""
    if isinstance(corpus, (str, bytes)) or not hasattr(corpus, "__iter__") or iter(corpus) is corpus:
        return False  # _check_sentences explains what is wrong
    for sent in corpus:
        return isinstance(sent, np.ndarray) and sent.dtype.kind in "iu"
    return False


class _Progress:
    """A progress display: tqdm when installed, else one rewritten stderr line; or nothing."""

    def __init__(self, enabled: bool, total_words: int, epochs: int) -> None:
        self.enabled = enabled
        self.total = max(1, total_words * epochs)
        self.base = 0
        self.bar = None
        self.t0 = time.perf_counter()
        self.last = 0.0
        if not enabled:
            return
        try:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, unit="word", unit_scale=True, desc="word2vec", leave=False)
        except ImportError:
            self.bar = None

    def update(self, epoch_words: int, lr: float) -> None:
        if not self.enabled:
            return
        done = self.base + epoch_words
        now = time.perf_counter()
        if now - self.last < 0.2:
            return
        self.last = now
        if self.bar is not None:
            self.bar.n = min(done, self.total)
            self.bar.set_postfix(lr=f"{lr:.5f}", refresh=False)
            self.bar.refresh()
            return
        el = now - self.t0
        rate = done / el if el > 0 else 0.0
        eta = f"{(self.total - done) / rate:6.1f}s" if rate > 0 else "     ?"  # no estimate before any word
        sys.stderr.write(f"\rword2vec {100.0 * done / self.total:5.1f}%  {rate / 1e3:8.0f}k words/s  lr {lr:.5f}  ETA {eta} ")
        sys.stderr.flush()

    def end_epoch(self, words: int) -> None:
        self.base += words

    def close(self) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.close()
        else:
            sys.stderr.write("\n")
            sys.stderr.flush()


class Word2Vec:
    """word2vec (skip-gram or CBOW; negative sampling and/or hierarchical softmax), gensim-compatible names.

    Tables: ``wv.vectors`` [V, D] input vectors, ``syn1neg`` [V, D] negative-sampling outputs,
    ``syn1`` [V, D] hierarchical-softmax inner nodes.

    Input: ``sentences`` (a re-iterable of token lists), ``corpus_file`` (one sentence per line,
    streamed), or a re-iterable of 1-D integer numpy arrays of token ids (from any tokenizer; counted
    and mapped with numpy, no per-token Python). With ids, ``id_to_key[i]`` names id ``i`` (default:
    ``str(i)``); ids are checked (negative or past ``id_to_key`` raise ValueError naming sentence and
    position); words of equal count rank by id; ``max_vocab_size`` keeps the most frequent ids.
    """

    _kind = "word2vec"

    def __init__(
        self,
        sentences: Iterable[Sequence[str]] | None = None,
        corpus_file: str | os.PathLike | None = None,
        vector_size: int = 100,
        alpha: float = 0.025,
        window: int = 5,
        min_count: int = 5,
        max_vocab_size: int | None = None,
        sample: float = 1e-3,
        seed: int = 1,
        workers: int | None = None,
        min_alpha: float = 0.0001,
        sg: int = 0,
        hs: int = 0,
        negative: int = 5,
        ns_exponent: float = 0.75,
        cbow_mean: int = 1,
        epochs: int = 5,
        shrink_windows: bool = True,
        callbacks: Sequence[Any] = (),
        compute_loss: bool = False,
        progress: bool = True,
        deterministic: bool = False,
        device: str = "cpu",
        id_to_key: Sequence[str] | None = None,
    ) -> None:
        if workers is None:
            workers = min(3, os.cpu_count() or 1)
        _check_int("vector_size", vector_size, 1)
        _check_int("window", window, 1)
        _check_int("min_count", min_count, 0)
        _check_int("max_vocab_size", max_vocab_size, 1, allow_none=True)
        _check_int("seed", seed, 0)
        _check_int("workers", workers, 1)
        _check_int("negative", negative, 0)
        _check_int("epochs", epochs, 1)
        _check_float("alpha", alpha, 0.0)
        _check_float("min_alpha", min_alpha, 0.0)
        _check_float("sample", sample, 0.0)
        _check_float("ns_exponent", ns_exponent)
        if sg not in (0, 1, True, False):
            raise ValueError(f"sg must be 0 (CBOW) or 1 (skip-gram), got {sg!r}")
        if hs not in (0, 1, True, False):
            raise ValueError(f"hs must be 0 or 1, got {hs!r}")
        if cbow_mean not in (0, 1, True, False):
            raise ValueError(f"cbow_mean must be 0 (sum) or 1 (mean), got {cbow_mean!r}")
        if negative == 0 and not hs:
            raise ValueError("negative=0 and hs=0 leave nothing to train: set negative > 0 or hs=1")
        if device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
        if device == "cuda":
            if not (sg and negative > 0 and not hs):
                raise ValueError("device='cuda' trains skip-gram with negative sampling only: use sg=1, hs=0, negative>0")
            import torch

            if not torch.cuda.is_available():
                raise ValueError("device='cuda' was asked for but torch sees no CUDA device")
        self.vector_size = int(vector_size)
        self.alpha = float(alpha)
        self.min_alpha = float(min_alpha)
        self.window = int(window)
        self.min_count = int(min_count)
        self.max_vocab_size = max_vocab_size
        self.sample = float(sample)
        self.seed = int(seed)
        self.workers = int(workers)
        self.sg = int(bool(sg))
        self.hs = int(bool(hs))
        self.negative = int(negative)
        self.ns_exponent = float(ns_exponent)
        self.cbow_mean = int(bool(cbow_mean))
        self.epochs = int(epochs)
        self.shrink_windows = bool(shrink_windows)
        self.callbacks = tuple(callbacks)
        self.compute_loss = bool(compute_loss)
        self.progress = bool(progress)
        self.deterministic = bool(deterministic)
        self.device = device
        if id_to_key is not None:
            if isinstance(id_to_key, (str, bytes)) or not all(isinstance(k, str) for k in id_to_key):
                raise TypeError("id_to_key must be a sequence of str keys, one per token id")
            if len(set(id_to_key)) != len(id_to_key):
                raise ValueError("id_to_key has duplicate keys: each token id needs its own key")
        self.id_to_key: list[str] | None = None if id_to_key is None else list(id_to_key)
        self._id_remap: np.ndarray | None = None  # token id -> vocabulary index (-1: not in it); id corpora only
        self.index_to_key: list[str] = []
        self.key_to_index: dict[str, int] = {}
        self.counts = np.zeros(0, dtype=np.int64)
        self.corpus_total_words = 0       # in-vocabulary words per pass
        self.corpus_count = 0             # sentences per pass
        self.epochs_trained = 0
        self.running_training_loss = 0.0
        self.epoch_history: list[EpochInfo] = []
        self._in = np.zeros((0, self.vector_size), dtype=np.float32)
        self.syn1neg: np.ndarray | None = None
        self.syn1: np.ndarray | None = None
        self._wv = None
        self._fail_at_job: int | None = None  # test hook: a worker raises at this job index
        if sentences is not None and corpus_file is not None:
            raise ValueError("give either sentences or corpus_file, not both")
        if sentences is not None or corpus_file is not None:
            self.build_vocab(sentences, corpus_file=corpus_file)
            self.train(sentences, corpus_file=corpus_file)

    # ---- vocabulary ------------------------------------------------------------------------------
    @staticmethod
    def _check_sentences(sentences: Any) -> None:
        if isinstance(sentences, (str, bytes)):
            raise TypeError("sentences must be an iterable of token lists, not a string (did you mean corpus_file=?)")
        if not hasattr(sentences, "__iter__"):
            raise TypeError(f"sentences must be an iterable of token lists, got {type(sentences).__name__}")
        if iter(sentences) is sentences:
            raise TypeError(
                "sentences is a one-shot iterator; training passes over it several times. "
                "Pass a list, or a re-iterable object (a class with __iter__)"
            )

    @staticmethod
    def _check_corpus_file(corpus_file: Any) -> str:
        if not isinstance(corpus_file, (str, os.PathLike)):
            raise TypeError(f"corpus_file must be a path, got {type(corpus_file).__name__}")
        path = os.fspath(corpus_file)
        if not os.path.isfile(path):
            raise ValueError(f"corpus_file {path!r} does not exist or is not a file")
        return path

    def build_vocab(self, corpus_iterable: Iterable[Sequence[str]] | None = None, corpus_file: str | None = None,
                    update: bool = False, progress_per: int = 10000, keep_raw_vocab: bool = False,
                    trim_rule: Any = None, **kwargs: Any) -> "Word2Vec":
        """Count words (one pass), keep those seen >= min_count times (most frequent first), init the tables.

        gensim's signature and order; ``progress_per`` (log interval) and ``keep_raw_vocab`` (keeping
        gensim's raw counts) have no counterpart and change nothing; ``update=True`` and ``trim_rule``
        raise NotImplementedError, unknown keyword arguments TypeError.
        """
        _gensim_vocab_options(update, trim_rule, kwargs)
        if (corpus_iterable is None) == (corpus_file is None):
            raise ValueError("build_vocab needs exactly one of corpus_iterable or corpus_file")
        pruned_below = 0
        ids_present = None
        if corpus_file is not None:
            path = self._check_corpus_file(corpus_file)
            words, counts, _tokens, sentences, pruned_below = _C().w2v_count_file(path, int(self.max_vocab_size or 0))
            counts = np.asarray(counts, dtype=np.int64)
        elif _first_is_ids(corpus_iterable):
            self._check_sentences(corpus_iterable)
            words, counts, ids_present, sentences = self._count_ids(corpus_iterable)
        else:
            self._check_sentences(corpus_iterable)
            counter: dict[str, int] = {}
            get = counter.get
            sentences = 0
            min_reduce = 1
            for i, sent in enumerate(corpus_iterable):
                if isinstance(sent, (str, bytes)) or not hasattr(sent, "__iter__"):
                    raise TypeError(f"sentence {i} must be a list of str tokens, got {type(sent).__name__}")
                for w in sent:
                    counter[w] = get(w, 0) + 1
                sentences += 1
                if self.max_vocab_size is not None and len(counter) > self.max_vocab_size:
                    counter = {w: c for w, c in counter.items() if c > min_reduce}
                    get = counter.get
                    pruned_below = min_reduce
                    min_reduce += 1
            for w in counter:
                if not isinstance(w, str):
                    raise TypeError(f"tokens must be str, got {type(w).__name__} ({w!r})")
                break
            words = list(counter.keys())
            counts = np.fromiter(counter.values(), dtype=np.int64, count=len(counter))
        if len(words) == 0:
            raise ValueError("the corpus is empty: no tokens were found")
        keep = np.flatnonzero(counts >= self.min_count)
        if keep.size == 0:
            raise ValueError(
                f"min_count={self.min_count} removed every word (the most frequent occurs {int(counts.max())} times); "
                "lower min_count or give a larger corpus"
            )
        order = keep[np.argsort(-counts[keep], kind="stable")]
        self.index_to_key = [words[i] for i in order]
        self.key_to_index = {w: i for i, w in enumerate(self.index_to_key)}
        self.counts = counts[order].copy()
        self.corpus_total_words = int(self.counts.sum())
        self.corpus_count = int(sentences)
        self.pruned_below = int(pruned_below)
        self._id_remap = None
        if ids_present is not None:
            self._id_remap = np.full(int(ids_present[-1]) + 1, -1, dtype=np.int32)
            self._id_remap[ids_present[order]] = np.arange(order.size, dtype=np.int32)
        self._init_tables()
        return self

    def _id_limit(self) -> int:
        return len(self.id_to_key) if self.id_to_key is not None else 2**31 - 1

    def _check_id_chunk(self, arrays: list, first: int) -> np.ndarray:
        """Concatenate one chunk of id sentences (numbered from `first`), every id checked."""
        flat = np.concatenate(arrays) if len(arrays) > 1 else arrays[0]
        if flat.size == 0:
            return flat.astype(np.int64)
        limit = self._id_limit()
        if flat.min() < 0 or flat.max() >= limit:
            for i, a in enumerate(arrays):
                bad = np.flatnonzero((a < 0) | (a >= limit))
                if bad.size:
                    j, v = int(bad[0]), int(a[bad[0]])
                    what = ("is negative" if v < 0 else
                            f"is out of range for id_to_key of {limit} keys" if self.id_to_key is not None else
                            "is too large (token ids must be below 2^31)")
                    raise ValueError(f"sentence {first + i}: token id {v} at position {j} {what}")
        return flat.astype(np.int64, copy=False)

    def _id_sentences(self, sentences: Iterable[Any]):
        """Chunks (list of 1-D integer arrays, number of the first sentence) of an id corpus."""
        buf: list[np.ndarray] = []
        n = 0
        first = 0
        for i, sent in enumerate(sentences):
            a = sent if isinstance(sent, np.ndarray) else None
            if a is None or a.ndim != 1 or a.dtype.kind not in "iu":
                got = type(sent).__name__ if a is None else f"a {a.ndim}-D {a.dtype} array"
                raise TypeError(f"sentence {i} must be a 1-D integer numpy array of token ids "
                                f"(the corpus was given as ids), got {got}")
            buf.append(a)
            n += a.shape[0]
            if n >= _CHUNK_TOKENS:
                yield buf, first
                first, buf, n = i + 1, [], 0
        if buf:
            yield buf, first

    def _count_ids(self, sentences: Iterable[Any]):
        """Vocabulary scan of an id corpus: (keys, counts, ids present, sentences), ids ascending."""
        if type(self) is not Word2Vec and self.id_to_key is None:
            raise ValueError(f"{type(self).__name__} builds character n-grams from the keys: give id_to_key "
                             "(the string of each token id) with an id corpus")
        counts = np.zeros(0, dtype=np.int64)
        sentences_seen = 0
        for arrays, first in self._id_sentences(sentences):
            flat = self._check_id_chunk(arrays, first)
            sentences_seen = first + len(arrays)
            c = np.bincount(flat)
            if c.shape[0] > counts.shape[0]:
                c[: counts.shape[0]] += counts
                counts = c
            else:
                counts[: c.shape[0]] += c
        present = np.flatnonzero(counts)
        if self.max_vocab_size is not None and present.size > self.max_vocab_size:
            # an id corpus needs no pruning while counting (one counter per id): keep the most frequent
            top = np.argsort(-counts[present], kind="stable")[: self.max_vocab_size]
            present = np.sort(present[top])
        keys = self.id_to_key
        words = [keys[i] for i in present] if keys is not None else [str(i) for i in present]
        return words, counts[present], present, sentences_seen

    def _n_input_rows(self) -> int:
        return len(self.index_to_key)

    def _init_tables(self) -> None:
        V, D = len(self.index_to_key), self.vector_size
        rng = np.random.default_rng(self.seed)
        self._in = rng.random((self._n_input_rows(), D), dtype=np.float32)  # in place: no temporary copies
        self._in -= np.float32(0.5)
        self._in /= np.float32(D)
        self.syn1neg = np.zeros((V, D), dtype=np.float32) if self.negative > 0 else None
        self.syn1 = np.zeros((V, D), dtype=np.float32) if self.hs else None
        self.epochs_trained = 0
        self._wv = None

    # ---- training --------------------------------------------------------------------------------
    def _subwords(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        return None, None

    def _config(self, schedule_words: int, alpha: float, min_alpha: float) -> dict:
        cfg = dict(
            vector_size=self.vector_size, sg=bool(self.sg), hs=bool(self.hs), negative=self.negative,
            ns_exponent=self.ns_exponent, window=self.window, cbow_mean=bool(self.cbow_mean), sample=self.sample,
            alpha=alpha, min_alpha=min_alpha, shrink_windows=self.shrink_windows, compute_loss=self.compute_loss,
            workers=self.workers, seed=self.seed, deterministic=self.deterministic, schedule_words=schedule_words,
        )
        if self._fail_at_job is not None:
            cfg["fail_at_job"] = int(self._fail_at_job)
        return cfg

    def _chunks(self, sentences: Iterable[Sequence[str]]):
        if self._id_remap is not None:
            yield from self._id_chunks(sentences)
            return
        get = self.key_to_index.get
        ids: list[int] = []
        ends: list[int] = []
        for i, sent in enumerate(sentences):
            if isinstance(sent, (str, bytes)) or not hasattr(sent, "__iter__"):
                raise TypeError(f"sentence {i} must be a list of str tokens, got {type(sent).__name__}")
            if isinstance(sent, np.ndarray) and sent.dtype.kind in "iu":
                raise TypeError(f"sentence {i} is an array of token ids, but the vocabulary was built from str tokens")
            ids.extend(map(get, sent, repeat(-1)))
            ends.append(len(ids))
            if len(ids) >= _CHUNK_TOKENS:
                yield np.asarray(ids, dtype=np.int32), np.asarray(ends, dtype=np.int64)
                ids, ends = [], []
        if ends:
            yield np.asarray(ids, dtype=np.int32), np.asarray(ends, dtype=np.int64)

    def _id_chunks(self, sentences: Iterable[Any]):
        remap = self._id_remap
        for arrays, first in self._id_sentences(sentences):
            flat = self._check_id_chunk(arrays, first)
            ids = np.full(flat.shape[0], -1, dtype=np.int32)
            known = flat < remap.shape[0]
            ids[known] = remap[flat[known]]
            yield ids, np.cumsum([a.shape[0] for a in arrays], dtype=np.int64)

    def train(
        self,
        corpus_iterable: Iterable[Sequence[str]] | None = None,
        corpus_file: str | os.PathLike | None = None,
        total_examples: int | None = None,
        total_words: int | None = None,
        epochs: int | None = None,
        start_alpha: float | None = None,
        end_alpha: float | None = None,
        word_count: int = 0,
        queue_factor: int = 2,
        report_delay: float = 1.0,
        compute_loss: bool | None = None,
        callbacks: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> tuple[int, int]:
        """Train over the corpus for `epochs` passes (default: the constructor's); lr decays linearly over all of them.

        gensim's signature and argument order. Calling train() again continues from the current
        vectors (for example after load()). Returns (effective words, words processed) like gensim.
        ``total_examples`` / ``total_words`` (gensim needs them for its lr schedule) are accepted:
        the schedule here uses the counts build_vocab took; ``queue_factor`` and ``report_delay``
        tune gensim's job queue and logging and have no counterpart; ``word_count`` other than 0
        raises NotImplementedError. Unknown keyword arguments raise TypeError.
        """
        if kwargs:
            raise TypeError(f"train() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
        for name, value in (("total_examples", total_examples), ("total_words", total_words)):
            _check_int(name, value, 0, allow_none=True)
        if word_count:
            raise NotImplementedError(f"train(word_count={word_count!r}): starting the lr schedule part-way is not "
                                      "supported")
        if (corpus_iterable is None) == (corpus_file is None):
            raise ValueError("train needs exactly one of corpus_iterable or corpus_file")
        if not self.index_to_key:
            raise ValueError("the vocabulary is empty: call build_vocab() first")
        epochs = self.epochs if epochs is None else epochs
        _check_int("epochs", epochs, 1)
        if compute_loss is not None:
            self.compute_loss = bool(compute_loss)
        path = None
        if corpus_file is not None:
            path = self._check_corpus_file(corpus_file)
        else:
            self._check_sentences(corpus_iterable)
        alpha = self.alpha if start_alpha is None else float(start_alpha)
        min_alpha = self.min_alpha if end_alpha is None else float(end_alpha)
        callbacks = self.callbacks if callbacks is None else tuple(callbacks)
        if self.device == "cuda":
            return self._train_op("cuda", corpus_iterable, path, epochs, alpha, min_alpha)
        sub_offsets, sub_rows = self._subwords()
        trainer = _C().Word2VecTrainer(
            self._in, self.syn1neg, self.syn1, self.counts, self.index_to_key if path is not None else None,
            sub_offsets, sub_rows, self._config(self.corpus_total_words * epochs, alpha, min_alpha),
        )
        progress = _Progress(self.progress, self.corpus_total_words, epochs)
        t0 = time.perf_counter()
        total_words = 0
        examples = 0
        self.running_training_loss = 0.0
        warned_empty = False
        self._call(callbacks, "on_train_begin")
        try:
            for epoch in range(epochs):
                self._call(callbacks, "on_epoch_begin")
                if path is not None:
                    stats = trainer.train_file_epoch(self.epochs_trained, path, progress.update)
                else:
                    trainer.begin_epoch(self.epochs_trained)
                    try:
                        for ids, ends in self._chunks(corpus_iterable):
                            trainer.push(ids, ends)
                            progress.update(trainer.words_done, trainer.lr)
                        stats = trainer.end_epoch(progress.update)
                    except BaseException:
                        trainer.abort()
                        raise
                if epoch == 0 and stats["words"] == 0:
                    raise ValueError("no in-vocabulary words were found in the corpus during training")
                progress.end_epoch(stats["words"])
                self.epochs_trained += 1
                total_words += stats["words"]
                examples += stats["examples"]
                # gensim's meaning: the loss summed over this train() call so far (per epoch in epoch_history).
                self.running_training_loss += float(stats["loss"])
                if stats["examples"] == 0 and stats["words"] > 0 and not warned_empty:
                    warned_empty = True
                    warnings.warn(
                        f"epoch {epoch}: {stats['words']} words but no training example (no word kept a context "
                        f"word): subsampling (sample={self.sample}) drops most words of a corpus this small; "
                        "set sample=0", RuntimeWarning, stacklevel=2)
                info = EpochInfo(epoch, int(stats["words"]), int(stats["examples"]), float(stats["loss"]),
                                 float(stats["seconds"]), time.perf_counter() - t0)
                self.epoch_history.append(info)
                self._wv = None
                for cb in callbacks:
                    if hasattr(cb, "on_epoch_end"):
                        cb.on_epoch_end(self)
                    elif callable(cb):
                        cb(info)
        finally:
            progress.close()
            self._wv = None
        self._call(callbacks, "on_train_end")
        self.train_seconds = time.perf_counter() - t0
        return examples, total_words

    def _call(self, callbacks: Sequence[Any], name: str) -> None:
        for cb in callbacks:
            fn = getattr(cb, name, None)
            if fn is not None:
                fn(self)

    # ---- the op path (GPU): batches of skip-gram pairs through torch.ops.embedforge.sgns_step ---------
    def _sentences_ids(self, corpus_iterable, path):
        get = self.key_to_index.get
        if path is not None:
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    ids = [i for i in map(get, line.split(), repeat(-1)) if i >= 0]
                    if ids:
                        yield np.asarray(ids, dtype=np.int64)
        elif self._id_remap is not None:
            for ids, ends in self._id_chunks(corpus_iterable):
                for sent in np.split(ids, ends[:-1]):
                    sent = sent[sent >= 0].astype(np.int64)
                    if sent.size:
                        yield sent
        else:
            for sent in corpus_iterable:
                ids = [i for i in map(get, sent, repeat(-1)) if i >= 0]
                if ids:
                    yield np.asarray(ids, dtype=np.int64)

    def _pairs(self, ids: np.ndarray, rng: np.random.Generator, keep: np.ndarray):
        """Skip-gram (center, context) pairs of one sentence after subsampling, windows shrunk at random."""
        ids = ids[rng.random(ids.shape[0]) < keep[ids]]
        n = ids.shape[0]
        if n < 2:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        reach = self.window - rng.integers(0, self.window, n) if self.shrink_windows else np.full(n, self.window)
        cs, xs = [], []
        for off in range(1, self.window + 1):
            pos = np.arange(n - off)
            ok = reach[pos] >= off
            cs.append(ids[pos[ok]]); xs.append(ids[pos[ok] + off])
            ok2 = reach[pos + off] >= off
            cs.append(ids[pos[ok2] + off]); xs.append(ids[pos[ok2]])
        return np.concatenate(cs), np.concatenate(xs)

    def _train_op(self, device, corpus_iterable, path, epochs, alpha, min_alpha, batch: int = 512):
        """Train skip-gram/NS with the batched sgns_step op on `device` (negatives shared per batch)."""
        import torch

        from .ops.word2vec import sgns_step

        if self.syn1neg is None or self.hs or not self.sg or self._subwords()[0] is not None:
            raise ValueError("the op path trains plain skip-gram with negative sampling only")
        rng = np.random.default_rng(self.seed + self.epochs_trained)
        probs = self.counts.astype(np.float64) ** self.ns_exponent
        probs /= probs.sum()
        cum = np.cumsum(probs)
        total = self.corpus_total_words
        thr = self.sample * total
        keep = np.ones(len(self.counts)) if self.sample <= 0 else np.minimum(1.0, (np.sqrt(self.counts / thr) + 1) * thr / self.counts)
        I = torch.from_numpy(self._in).to(device)
        O = torch.from_numpy(self.syn1neg).to(device)
        self.running_training_loss = 0.0
        schedule = max(1, total * epochs)
        done = 0
        t0 = time.perf_counter()
        for epoch in range(epochs):
            te = time.perf_counter()
            words = 0
            loss = 0.0
            buf_c, buf_x = [], []
            n_buf = 0

            def flush(cs, xs):
                nonlocal loss
                lr = max(min_alpha, alpha - (alpha - min_alpha) * done / schedule)
                c = torch.from_numpy(cs).to(device)
                x = torch.from_numpy(xs).to(device)
                for s in range(0, len(cs), batch):
                    neg = np.searchsorted(cum, rng.random(self.negative) * cum[-1])
                    neg = np.minimum(neg, len(cum) - 1)
                    out = sgns_step(I, O, c[s:s + batch], x[s:s + batch], torch.from_numpy(neg).to(device), lr)
                    if self.compute_loss:
                        loss += float(out.double().sum())

            for ids in self._sentences_ids(corpus_iterable, path):
                words += ids.shape[0]
                done += ids.shape[0]
                c, x = self._pairs(ids, rng, keep)
                buf_c.append(c); buf_x.append(x); n_buf += c.shape[0]
                if n_buf >= 64 * batch:
                    perm = rng.permutation(n_buf)
                    flush(np.concatenate(buf_c)[perm], np.concatenate(buf_x)[perm])
                    buf_c, buf_x, n_buf = [], [], 0
            if n_buf:
                perm = rng.permutation(n_buf)
                flush(np.concatenate(buf_c)[perm], np.concatenate(buf_x)[perm])
            self.epochs_trained += 1
            self.running_training_loss += loss
            info = EpochInfo(epoch, words, 0, loss, time.perf_counter() - te, time.perf_counter() - t0)
            self.epoch_history.append(info)
        self._in[...] = I.cpu().numpy()
        self.syn1neg[...] = O.cpu().numpy()
        self._wv = None
        self.train_seconds = time.perf_counter() - t0
        return 0, done

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: gensim methods not offered get a clear error.
        if name.startswith("_"):
            raise AttributeError(name)
        from .vectors.keyed import gensim_gap

        raise gensim_gap("Word2Vec", name)

    def get_latest_training_loss(self) -> float:
        """As gensim: the loss summed over every epoch of the latest train() call so far (float64; 0
        unless compute_loss=True). Each epoch's own figure is in ``epoch_history``."""
        return self.running_training_loss

    # ---- vectors ---------------------------------------------------------------------------------
    def _word_vectors(self) -> np.ndarray:
        return self._in

    @property
    def wv(self):
        """The trained word vectors as a KeyedVectors (rebuilt after each epoch)."""
        if self._wv is None:
            from .vectors import KeyedVectors

            self._wv = KeyedVectors(list(self.index_to_key), self._word_vectors())
            if self.counts.shape == (len(self.index_to_key),):
                self._wv.expandos["count"] = self.counts.copy()  # gensim's wv.get_vecattr(word, "count")
        return self._wv

    # ---- persistence -----------------------------------------------------------------------------
    def _meta(self) -> dict:
        keys = ("vector_size", "alpha", "min_alpha", "window", "min_count", "max_vocab_size", "sample", "seed", "workers",
                "sg", "hs", "negative", "ns_exponent", "cbow_mean", "epochs", "shrink_windows", "compute_loss",
                "progress", "deterministic", "corpus_total_words", "corpus_count", "epochs_trained")
        return {k: getattr(self, k) for k in keys}

    def _arrays(self) -> dict:
        arrays = {"input": self._in, "counts": self.counts}
        if self.syn1neg is not None:
            arrays["syn1neg"] = self.syn1neg
        if self.syn1 is not None:
            arrays["syn1"] = self.syn1
        if self._id_remap is not None:
            arrays["id_remap"] = self._id_remap
        return arrays

    def save(self, path: str | os.PathLike) -> None:
        """Save everything needed to resume training (npz; written to a temp file, then renamed)."""
        path = os.fspath(path)
        meta = {"format": _FORMAT, "kind": self._kind, "params": self._meta(), "index_to_key": self.index_to_key,
                "id_to_key": self.id_to_key}
        arrays = dict(self._arrays())
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        d = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=d)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Word2Vec":
        """Load a model written by save(); train() continues from it."""
        path = os.fspath(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except FileNotFoundError:
            raise
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{path!r} is not a readable embedforge model file ({exc})") from None
        if "meta" not in data:
            raise ValueError(f"{path!r} is not an embedforge model file (no metadata)")
        try:
            meta = json.loads(bytes(data["meta"]).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"{path!r} is a damaged embedforge model file (metadata: {exc})") from None
        if not isinstance(meta, dict):
            raise ValueError(f"{path!r} is a damaged embedforge model file (metadata is not a mapping)")
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{path!r} has format {meta.get('format')!r}, expected {_FORMAT!r}")
        if meta.get("kind") not in ("word2vec", "fasttext"):
            raise ValueError(f"{path!r} is a damaged embedforge model file (kind {meta.get('kind')!r})")
        target = FastText if meta["kind"] == "fasttext" else Word2Vec
        if not issubclass(target, cls) and cls is not Word2Vec:
            raise ValueError(f"{path!r} holds a {meta['kind']} model, not a {cls.__name__}")
        model = target.__new__(target)
        try:
            model._restore(meta, data)
        except (KeyError, TypeError, AttributeError, IndexError) as exc:
            raise ValueError(f"{path!r} is a damaged embedforge model file ({type(exc).__name__}: {exc})") from None
        return model

    # The parameters a model file may set, with their types: nothing else is ever set from a file.
    _PARAM_TYPES: dict = {
        "vector_size": int, "alpha": float, "min_alpha": float, "window": int, "min_count": int,
        "max_vocab_size": (int, type(None)), "sample": float, "seed": int, "workers": int, "sg": int, "hs": int,
        "negative": int, "ns_exponent": float, "cbow_mean": int, "epochs": int, "shrink_windows": bool,
        "compute_loss": bool, "progress": bool, "deterministic": bool, "corpus_total_words": int,
        "corpus_count": int, "epochs_trained": int,
    }

    def _restore(self, meta: dict, data: dict) -> None:
        p = meta["params"]
        if not isinstance(p, dict):
            raise TypeError("params is not a mapping")
        expected = self._PARAM_TYPES
        unknown = sorted(set(p) - set(expected))
        missing = sorted(set(expected) - set(p))
        if unknown or missing:
            raise ValueError(f"model file parameters do not match: unknown {unknown}, missing {missing}")
        for k, kind in expected.items():
            v = p[k]
            kinds = kind if isinstance(kind, tuple) else (kind,)
            ok = isinstance(v, kinds) and not (isinstance(v, bool) and bool not in kinds)
            if float in kinds and isinstance(v, int) and not isinstance(v, bool):
                ok, v = True, float(v)
            if not ok:
                raise ValueError(f"model file parameter {k}={v!r} is not a {'/'.join(t.__name__ for t in kinds)}")
            setattr(self, k, v)
        self.callbacks = ()
        self.device = "cpu"
        self.index_to_key = list(meta["index_to_key"])
        self.key_to_index = {w: i for i, w in enumerate(self.index_to_key)}
        self.counts = np.ascontiguousarray(data["counts"], dtype=np.int64)
        self._in = np.ascontiguousarray(data["input"], dtype=np.float32)
        self.syn1neg = np.ascontiguousarray(data["syn1neg"]) if "syn1neg" in data else None
        self.syn1 = np.ascontiguousarray(data["syn1"]) if "syn1" in data else None
        self.id_to_key = meta.get("id_to_key")
        self._id_remap = np.ascontiguousarray(data["id_remap"], dtype=np.int32) if "id_remap" in data else None
        n = len(self.index_to_key)
        if self.counts.shape != (n,) or self._in.shape[1] != self.vector_size:
            raise ValueError("model file is inconsistent: table shapes do not match the vocabulary")
        self.running_training_loss = 0.0
        self.epoch_history = []
        self._wv = None
        self._fail_at_job = None
        self.pruned_below = 0

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(vocab={len(self.index_to_key)}, vector_size={self.vector_size}, "
                f"sg={self.sg}, hs={self.hs}, negative={self.negative}, window={self.window})")


class FastTextKeyedVectors:  # placeholder replaced below once KeyedVectors is importable
    pass


class FastText(Word2Vec):
    """FastText: word2vec whose input vectors are the mean of the word's row and its character n-gram rows.

    Out-of-vocabulary words get vectors from their n-grams (``model.wv["unseenword"]``). Only the
    buckets that some vocabulary word uses are stored (the others would never be trained).
    """

    _kind = "fasttext"

    def __init__(self, sentences=None, corpus_file=None, *, min_n: int = 3, max_n: int = 6, bucket: int = 2_000_000,
                 **kwargs: Any) -> None:
        _check_int("min_n", min_n, 1)
        _check_int("max_n", max_n, 0)
        _check_int("bucket", bucket, 0)
        if max_n and max_n < min_n:
            raise ValueError(f"max_n ({max_n}) must be >= min_n ({min_n}), or 0 to disable n-grams")
        self.min_n, self.max_n, self.bucket = int(min_n), int(max_n), int(bucket)
        self.ngram_buckets = np.zeros(0, dtype=np.int64)
        self._sub = (None, None)
        super().__init__(sentences, corpus_file, **kwargs)

    def _compute_subwords(self) -> None:
        offs, rows = _C().w2v_ngram_rows(self.index_to_key, self.min_n, self.max_n, self.bucket, 0)
        rows = np.asarray(rows, dtype=np.int64)
        used = np.unique(rows)
        self.ngram_buckets = used  # sorted bucket ids that have a row
        V = len(self.index_to_key)
        compact = np.searchsorted(used, rows).astype(np.int64) + V
        counts = np.diff(offs)
        # each word: its own row, then its n-gram rows
        new_offs = np.zeros(V + 1, dtype=np.int64)
        new_offs[1:] = np.cumsum(counts + 1)
        new_rows = np.empty(int(new_offs[-1]), dtype=np.int32)
        new_rows[new_offs[:-1]] = np.arange(V, dtype=np.int32)
        mask = np.ones(new_rows.shape[0], dtype=bool)
        mask[new_offs[:-1]] = False
        new_rows[mask] = compact.astype(np.int32)
        self._sub = (new_offs, new_rows)

    def build_vocab(self, corpus_iterable=None, corpus_file=None, update=False, progress_per=10000,
                    keep_raw_vocab=False, trim_rule=None, **kwargs) -> "FastText":
        _gensim_vocab_options(update, trim_rule, kwargs)
        self.ngram_buckets = np.zeros(0, dtype=np.int64)
        self._pending_ngrams = True
        return super().build_vocab(corpus_iterable, corpus_file=corpus_file)

    def _n_input_rows(self) -> int:
        self._compute_subwords()
        return len(self.index_to_key) + len(self.ngram_buckets)

    def _subwords(self):
        if self._sub[0] is None:
            self._compute_subwords()
        return self._sub

    @property
    def vectors_vocab(self) -> np.ndarray:
        """[V, D] the words' own rows."""
        return self._in[: len(self.index_to_key)]

    @property
    def vectors_ngrams(self) -> np.ndarray:
        """[used buckets, D] rows of the n-gram buckets listed in ``ngram_buckets``."""
        return self._in[len(self.index_to_key):]

    def _word_vectors(self) -> np.ndarray:
        offs, rows = self._subwords()
        V, D = len(self.index_to_key), self.vector_size
        out = np.empty((V, D), dtype=np.float32)
        step = 4096
        for s in range(0, V, step):
            e = min(V, s + step)
            seg = rows[offs[s]:offs[e]]
            sums = np.add.reduceat(self._in[seg], offs[s:e] - offs[s], axis=0)
            out[s:e] = sums / np.diff(offs[s:e + 1])[:, None].astype(np.float32)
        return out

    def oov_vector(self, word: str) -> np.ndarray:
        """Vector of any word from its n-grams (mean of the known bucket rows); zeros if none is known."""
        offs, rows = _C().w2v_ngram_rows([word], self.min_n, self.max_n, self.bucket, 0)
        b = np.asarray(rows, dtype=np.int64)
        pos = np.searchsorted(self.ngram_buckets, b)
        ok = (pos < len(self.ngram_buckets))
        ok[ok] = self.ngram_buckets[pos[ok]] == b[ok]
        if not ok.any():
            return np.zeros(self.vector_size, dtype=np.float32)
        return self._in[len(self.index_to_key) + pos[ok]].mean(axis=0).astype(np.float32)

    @property
    def wv(self):
        """The word vectors (in-vocabulary: mean of word and n-gram rows), with OOV lookup by n-grams."""
        if self._wv is None:
            self._wv = _fasttext_kv_class()(list(self.index_to_key), self._word_vectors(), self)
            if self.counts.shape == (len(self.index_to_key),):
                self._wv.expandos["count"] = self.counts.copy()  # gensim's wv.get_vecattr(word, "count")
        return self._wv

    def _meta(self) -> dict:
        m = super()._meta()
        m.update(min_n=self.min_n, max_n=self.max_n, bucket=self.bucket)
        return m

    _PARAM_TYPES = {**Word2Vec._PARAM_TYPES, "min_n": int, "max_n": int, "bucket": int}

    def _arrays(self) -> dict:
        a = super()._arrays()
        a["ngram_buckets"] = self.ngram_buckets
        return a

    def _restore(self, meta: dict, data: dict) -> None:
        super()._restore(meta, data)
        self.ngram_buckets = np.asarray(data["ngram_buckets"], dtype=np.int64)
        self._sub = (None, None)
        self._compute_subwords()
        if self._in.shape[0] != len(self.index_to_key) + len(self.ngram_buckets):
            raise ValueError("model file is inconsistent: n-gram rows do not match the vocabulary")


_FT_KV = None


def _fasttext_kv_class():
    """FastTextKeyedVectors, defined on first use so that importing this module stays light."""
    global _FT_KV, FastTextKeyedVectors
    if _FT_KV is not None:
        return _FT_KV
    from .vectors import KeyedVectors
    from .vectors.keyed import _check_lockf, _unlocked

    class FastTextKeyedVectors(KeyedVectors):  # noqa: F811
        """KeyedVectors that also answer for out-of-vocabulary words from their character n-grams."""

        def __init__(self, keys, vectors, model: FastText) -> None:
            super().__init__(keys, vectors)
            self._model = model
            self.min_n, self.max_n, self.bucket = model.min_n, model.max_n, model.bucket

        @property
        def vectors_vocab(self) -> np.ndarray:
            return self._model.vectors_vocab

        @property
        def vectors_ngrams(self) -> np.ndarray:
            return self._model.vectors_ngrams

        @property
        def vectors_ngrams_lockf(self) -> np.ndarray:
            """gensim's n-gram lock factors: always 1 (no n-gram row is locked); read-only."""
            return _unlocked()

        @vectors_ngrams_lockf.setter
        def vectors_ngrams_lockf(self, value) -> None:
            _check_lockf("vectors_ngrams_lockf", value)

        def _has_ngrams(self) -> bool:
            return self.bucket > 0 and self.max_n >= self.min_n

        def __contains__(self, key) -> bool:
            # As gensim: every word has a vector when there are n-grams, else only vocabulary words.
            return True if self._has_ngrams() else key in self.key_to_index

        def has_index_for(self, key) -> bool:
            return key in self.key_to_index

        def get_vector(self, key, norm: bool = False):
            if key in self.key_to_index or not isinstance(key, str):
                return super().get_vector(key, norm=norm)
            if not self._has_ngrams():
                raise KeyError(f"cannot compute a vector for the out-of-vocabulary word {key!r}: the model has no "
                               f"character n-grams (bucket={self.bucket}, min_n={self.min_n}, max_n={self.max_n})")
            v = self._model.oov_vector(key)
            if norm:
                n = float(np.linalg.norm(v))
                return v / n if n > 0 else v
            return v

        def __getitem__(self, key):
            if isinstance(key, str):
                return self.get_vector(key)
            return super().__getitem__(key)

    _FT_KV = FastTextKeyedVectors
    FastTextKeyedVectors.__module__ = __name__
    globals()["FastTextKeyedVectors"] = FastTextKeyedVectors
    return _FT_KV
