"""The Word2Vec model: vocabulary, tables, train() and vectors, over params, corpus and training."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import fields, replace
from typing import Any

import numpy as np

from . import persist
from .corpus import Scan, check_id_remap, id_remap_pairs, make_id_remap, scan_corpus, training_corpus
from .params import DEFAULT_SYNC_WORDS, Params, check_gensim_vocab_options, check_int
from .training import NativeEngine, OpEngine, run_epochs

# gensim's trim_rule answers (gensim.utils.RULE_*)
RULE_DEFAULT, RULE_DISCARD, RULE_KEEP = 0, 1, 2

__all__ = ["Word2Vec", "param_property"]


def param_property(name: str) -> property:
    """A model attribute that reads ``model.params.<name>``; setting it makes new (validated) params."""

    def get(self):
        return getattr(self.params, name)

    def set_(self, value):
        self.params = replace(self.params, **{name: value})

    return property(get, set_, doc=f"The ``{name}`` parameter (held in ``params``).")


def _spread_init(rows: np.ndarray, dim: int) -> None:
    """[0, 1) draws to the initial input rows, in place: uniform in [-1, 1) / dim, the range of
    gensim 4 and fastText (word2vec.c's is half as wide). Measured on bench/make_corpus.sh's corpus,
    skip-gram NS, 5 seeds: WordSim-353 +0.004, SimLex +0.004, analogies +0.002 (medians) over the
    narrower range; FastText 3 seeds: analogies +0.003, WordSim equal."""
    rows *= np.float32(2.0)
    rows -= np.float32(1.0)
    rows /= np.float32(dim)


class Word2Vec:
    """word2vec (skip-gram or CBOW; negative sampling and/or hierarchical softmax), gensim-compatible names.

    Tables: ``wv.vectors`` [V, D] input vectors, ``syn1neg`` [V, D] negative-sampling outputs,
    ``syn1`` [V, D] hierarchical-softmax inner nodes. The parameters are ``params`` (a frozen
    :class:`Params`); each is also an attribute (``model.alpha``), and setting one validates it.

    Input: ``sentences`` (a re-iterable of token lists), ``corpus_file`` (one sentence per line,
    streamed), or a re-iterable of 1-D integer numpy arrays of token ids (from any tokenizer; counted
    and mapped with numpy, no per-token Python). With ids, ``id_to_key[i]`` names id ``i`` (default:
    ``str(i)``); ids are checked (negative or past ``id_to_key`` raise ValueError naming sentence and
    position); words of equal count rank by id; ``max_vocab_size`` keeps the most frequent ids.

    ``distributed=True`` (under ``torchrun`` or ``embedforge.distributed.spawn``): every rank reads
    its part of the corpus (a file by byte ranges cut at line boundaries, iterables by sentence
    index), the counts are merged into the vocabulary one process would build, and the ranks train
    data-parallel, merging the tables (summing the ranks' updates) every ``sync_words`` words (per
    rank, default 500,000) and at each epoch's end; see :mod:`embedforge.word2vec.distributed`.
    """

    _kind = "word2vec"
    _params_class = Params
    _needs_keys = False  # True: an id corpus must come with id_to_key (n-grams are built from the keys)

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
        hashfxn: Any = hash,
        epochs: int = 5,
        null_word: int = 0,
        trim_rule: Any = None,
        sorted_vocab: int = 1,
        batch_words: int = 10_000,
        compute_loss: bool = False,
        callbacks: Sequence[Any] = (),
        comment: str | None = None,
        max_final_vocab: int | None = None,
        shrink_windows: bool = True,
        *,
        progress: bool = True,
        deterministic: bool = False,
        device: str = "cpu",
        id_to_key: Sequence[str] | None = None,
        distributed: bool = False,
        sync_words: int = DEFAULT_SYNC_WORDS,
        **extra: Any,  # a subclass's own parameters (FastText: min_n, max_n, bucket)
    ) -> None:
        # gensim's positional order up to shrink_windows; embedforge's own options are keyword-only.
        if hashfxn is not hash:
            raise NotImplementedError(
                "hashfxn: embedforge seeds the initial vectors from `seed` alone (reproducible across runs "
                "without PYTHONHASHSEED); a custom hash function is not supported"
            )
        self.comment = comment
        own = {f.name for f in fields(self._params_class)} - {f.name for f in fields(Params)}
        for name in extra:
            if name not in own:
                raise TypeError(f"{type(self).__name__}.__init__() got an unexpected keyword argument {name!r}")
        self.params = self._params_class(
            vector_size=vector_size,
            alpha=alpha,
            window=window,
            min_count=min_count,
            max_vocab_size=max_vocab_size,
            sample=sample,
            seed=seed,
            workers=workers,
            min_alpha=min_alpha,
            sg=sg,
            hs=hs,
            negative=negative,
            ns_exponent=ns_exponent,
            cbow_mean=cbow_mean,
            epochs=epochs,
            shrink_windows=shrink_windows,
            compute_loss=compute_loss,
            progress=progress,
            deterministic=deterministic,
            sorted_vocab=sorted_vocab,
            max_final_vocab=max_final_vocab,
            null_word=null_word,
            batch_words=batch_words,
            device=device,
            distributed=distributed,
            sync_words=sync_words,
            **extra,
        )
        self.callbacks = tuple(callbacks)
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
        self.corpus_total_words = 0  # in-vocabulary words per pass
        self.corpus_count = 0  # sentences per pass
        self.epochs_trained = 0
        self.running_training_loss = 0.0
        self.epoch_history: list = []
        self._in = np.zeros((0, self.vector_size), dtype=np.float32)
        self.syn1neg: np.ndarray | None = None
        self.syn1: np.ndarray | None = None
        self._wv = None
        if sentences is not None and corpus_file is not None:
            raise ValueError("give either sentences or corpus_file, not both")
        self.effective_min_count = self.min_count
        if sentences is not None or corpus_file is not None:
            self.build_vocab(sentences, corpus_file=corpus_file, trim_rule=trim_rule)
            self.train(sentences, corpus_file=corpus_file)
        elif trim_rule is not None:
            raise ValueError(
                "trim_rule is applied when the constructor builds the vocabulary: give sentences or "
                "corpus_file, or pass trim_rule to build_vocab()"
            )

    @property
    def device(self) -> str:
        return self.params.device

    @device.setter
    def device(self, value: str) -> None:
        self.params = replace(self.params, device=value)

    # ---- vocabulary ------------------------------------------------------------------------------
    def build_vocab(
        self,
        corpus_iterable: Iterable[Sequence[str]] | None = None,
        corpus_file: str | None = None,
        update: bool = False,
        progress_per: int = 10000,
        keep_raw_vocab: bool = False,
        trim_rule: Any = None,
        **kwargs: Any,
    ) -> Word2Vec:
        """Count words (one pass), keep those seen >= min_count times (most frequent first), init the tables.

        gensim's signature and order; ``progress_per`` (log interval) and ``keep_raw_vocab`` (keeping
        gensim's raw counts) have no counterpart and change nothing. ``trim_rule(word, count,
        min_count)`` returns gensim's RULE_DISCARD (1), RULE_KEEP (2) or RULE_DEFAULT (0, the
        min_count test). ``update=True`` grows a trained model's vocabulary as gensim does: the
        corpus's counts are added to the known words', new words that pass min_count / trim_rule
        are appended (first-occurrence order) with fresh vectors, and every trained row is kept.
        Unknown keyword arguments raise TypeError.
        """
        check_gensim_vocab_options(update, trim_rule, kwargs, self.max_vocab_size)
        if update:
            self._check_can_update()
        corpus = scan_corpus(corpus_iterable, corpus_file, self.id_to_key)
        if getattr(corpus, "id_to_key", 0) is None and self._needs_keys:
            raise ValueError(
                f"{type(self).__name__} builds character n-grams from the keys: give id_to_key "
                "(the string of each token id) with an id corpus"
            )
        if update and (scan_ids := hasattr(corpus, "remap")) != (self._id_remap is not None):
            have = "token ids" if self._id_remap is not None else "words"
            got = "token ids" if scan_ids else "words"
            raise TypeError(f"build_vocab(update=True): the vocabulary was built from {have}, the corpus holds {got}")
        if self.params.distributed:
            from . import distributed

            scan = distributed.scan(self, corpus)
        else:
            scan = corpus.scan(self.max_vocab_size)
        self._set_vocab(scan, trim_rule, update)
        return self

    def build_vocab_from_freq(
        self,
        word_freq: dict,
        keep_raw_vocab: bool = False,
        corpus_count: int | None = None,
        trim_rule: Any = None,
        update: bool = False,
    ) -> None:
        """gensim's: the vocabulary from a ``{word: count}`` mapping instead of a corpus pass.

        The same min_count / max_final_vocab / trim_rule / sorted_vocab / null_word rules as
        build_vocab apply; words of equal count keep the mapping's order. ``corpus_count`` is the
        number of sentences (gensim's; it feeds nothing here but ``corpus_count``)."""
        check_gensim_vocab_options(update, trim_rule, {}, None)
        if self.id_to_key is not None:
            raise NotImplementedError(
                "build_vocab_from_freq on a model given id_to_key: its vocabulary maps token ids, not words"
            )
        if not isinstance(word_freq, dict):
            raise TypeError(f"word_freq must be a dict of word -> count, got {type(word_freq).__name__}")
        check_int("corpus_count", corpus_count, 0, allow_none=True, maximum=2**63 - 1)
        words = list(word_freq)
        for w in words:
            if not isinstance(w, str):
                raise TypeError(f"word_freq keys must be str words, got {type(w).__name__} ({w!r})")
        for w in words:
            check_int(f"word_freq[{w!r}]", word_freq[w], 0, maximum=2**63 - 1)
        if update:
            self._check_can_update()
        counts = np.fromiter((int(word_freq[w]) for w in words), dtype=np.int64, count=len(words))
        self._set_vocab(Scan(words, counts, int(corpus_count or 0)), trim_rule, update)

    def _check_can_update(self) -> None:
        if not self.index_to_key:
            raise RuntimeError(
                "build_vocab(update=True) grows an existing vocabulary: build one first (build_vocab without update)"
            )

    def _kept(self, words: list, counts: np.ndarray, trim_rule: Any) -> np.ndarray:
        """Which scanned words stay (bool mask): gensim's effective min_count (max_final_vocab), then trim_rule."""
        effective = self.min_count
        if self.max_final_vocab is not None and self.max_final_vocab < len(words):
            # gensim: one more than the count of the first word past max_final_vocab, most frequent first
            kth = -np.partition(-counts, self.max_final_vocab)[self.max_final_vocab]
            effective = max(effective, int(kth) + 1)
        self.effective_min_count = effective
        keep = counts >= effective
        if trim_rule is not None:
            for i, (w, c) in enumerate(zip(words, counts.tolist())):
                rule = trim_rule(w, c, effective)
                if rule == RULE_KEEP:
                    keep[i] = True
                elif rule == RULE_DISCARD:
                    keep[i] = False
                elif rule != RULE_DEFAULT:
                    raise ValueError(
                        f"trim_rule({w!r}, {c}, {effective}) returned {rule!r}; expected RULE_DISCARD (1), "
                        "RULE_KEEP (2) or RULE_DEFAULT (0)"
                    )
        return keep

    def _set_vocab(self, scan: Scan, trim_rule: Any = None, update: bool = False) -> None:
        """The vocabulary from a scan: words kept by min_count / trim_rule, most frequent first (ties: scan order)."""
        words, counts = scan.words, scan.counts
        if len(words) == 0:
            raise ValueError("the corpus is empty: no tokens were found")
        keep = np.flatnonzero(self._kept(words, counts, trim_rule))
        if update:
            return self._update_vocab(scan, keep)
        if keep.size == 0:
            raise ValueError(
                f"min_count={self.effective_min_count} removed every word (the most frequent occurs "
                f"{int(counts.max())} times); lower min_count or give a larger corpus"
            )
        order = keep[np.argsort(-counts[keep], kind="stable")] if self.sorted_vocab else keep
        self.index_to_key = [words[i] for i in order]
        self.counts = counts[order].copy()
        self.corpus_total_words = int(self.counts.sum())
        if self.null_word and "\0" not in set(self.index_to_key):
            # gensim's padding pseudo-word: count 1, never in the corpus
            self.index_to_key.append("\0")
            self.counts = np.append(self.counts, np.int64(1))
        self.key_to_index = {w: i for i, w in enumerate(self.index_to_key)}
        self.corpus_count = int(scan.sentences)
        self.pruned_below = int(scan.pruned_below)
        self._id_remap = None
        if scan.ids_present is not None:
            self._id_remap = make_id_remap(scan.ids_present[order], np.arange(order.size))
        self._init_tables()

    def _update_vocab(self, scan: Scan, keep: np.ndarray) -> None:
        """build_vocab(update=True): add the scan's counts, append new kept words, grow the tables."""
        words, counts = scan.words, scan.counts
        k2i = self.key_to_index
        at = np.fromiter((k2i.get(w, -1) for w in words), dtype=np.int64, count=len(words))
        known = at >= 0
        new = keep[~known[keep]]  # kept words not yet in the vocabulary, in scan order
        old_v = len(self.index_to_key)
        total = self.counts.copy()
        np.add.at(total, at[known], counts[known])
        self.index_to_key = self.index_to_key + [words[i] for i in new]
        self.key_to_index = {w: i for i, w in enumerate(self.index_to_key)}
        self.counts = np.concatenate([total, counts[new]])
        self.corpus_total_words = int(counts[known].sum() + counts[new].sum())  # the new corpus's, as gensim
        self.corpus_count = int(scan.sentences)
        self.pruned_below = int(scan.pruned_below)
        if scan.ids_present is not None:
            ids, index = id_remap_pairs(self._id_remap)
            self._id_remap = make_id_remap(
                np.concatenate([ids, scan.ids_present[new]]),
                np.concatenate([index, np.arange(old_v, old_v + new.size)]),
            )
        self._grow_tables(old_v)

    def _fresh_rows(self, n: int, *stream: int) -> np.ndarray:
        """n initial input rows (uniform in [-1, 1) / D, as _init_tables) from the seed and a stream."""
        rng = np.random.default_rng([self.seed, *stream])
        rows = rng.random((n, self.vector_size), dtype=np.float32)
        _spread_init(rows, self.vector_size)
        return rows

    def _grow_input(self, old_v: int) -> None:
        """The input table for a vocabulary grown from old_v words: trained rows kept, new rows fresh."""
        self._in = np.concatenate([self._in, self._fresh_rows(len(self.index_to_key) - old_v, 1, old_v)])

    def _grow_tables(self, old_v: int) -> None:
        """Tables for a vocabulary grown from old_v words: new input rows fresh, new output rows 0."""
        self._grow_input(old_v)
        zeros = np.zeros((len(self.index_to_key) - old_v, self.vector_size), dtype=np.float32)
        if self.syn1neg is not None:
            self.syn1neg = np.concatenate([self.syn1neg, zeros])
        if self.syn1 is not None:  # the Huffman tree is rebuilt from the new counts, as gensim does
            self.syn1 = np.concatenate([self.syn1, zeros])
        self._wv = None

    def _n_input_rows(self) -> int:
        return len(self.index_to_key)

    def _init_tables(self) -> None:
        V, D = len(self.index_to_key), self.vector_size
        rng = np.random.default_rng(self.seed)
        self._in = rng.random((self._n_input_rows(), D), dtype=np.float32)  # in place: no temporary copies
        _spread_init(self._in, D)
        self.syn1neg = np.zeros((V, D), dtype=np.float32) if self.negative > 0 else None
        self.syn1 = np.zeros((V, D), dtype=np.float32) if self.hs else None
        self.epochs_trained = 0
        self._wv = None

    # ---- training --------------------------------------------------------------------------------
    def _subwords(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        return None, None

    def _config(self, schedule_words: int, alpha: float, min_alpha: float):
        return self.params.native_config(schedule_words, alpha, min_alpha)

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
        raises NotImplementedError. Unknown keyword arguments raise TypeError. Progress, loss,
        ``epoch_history`` and callbacks are reported the same way on every device.
        """
        if kwargs:
            raise TypeError(f"train() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
        for name, value in (("total_examples", total_examples), ("total_words", total_words)):
            check_int(name, value, 0, allow_none=True)
        if word_count:
            raise NotImplementedError(
                f"train(word_count={word_count!r}): starting the lr schedule part-way is not supported"
            )
        if (corpus_iterable is None) == (corpus_file is None):
            raise ValueError("train needs exactly one of corpus_iterable or corpus_file")
        if not self.index_to_key:
            raise ValueError("the vocabulary is empty: call build_vocab() first")
        epochs = self.epochs if epochs is None else epochs
        check_int("epochs", epochs, 1)
        if compute_loss is not None:
            self.compute_loss = bool(compute_loss)
        corpus = training_corpus(corpus_iterable, corpus_file, self.id_to_key, self._id_remap)
        alpha = self.alpha if start_alpha is None else float(start_alpha)
        min_alpha = self.min_alpha if end_alpha is None else float(end_alpha)
        callbacks = self.callbacks if callbacks is None else tuple(callbacks)
        if self.params.distributed:
            from . import distributed

            return distributed.train(self, corpus, epochs, alpha, min_alpha, callbacks)
        if self.device == "cuda":
            engine = OpEngine(self, corpus, epochs, alpha, min_alpha, "cuda")
        else:
            engine = NativeEngine(self, corpus, epochs, alpha, min_alpha)
        return run_epochs(self, engine, epochs, callbacks)

    def _train_op(
        self, device: str, corpus_iterable, path, epochs: int, alpha: float, min_alpha: float, batch: int = 512
    ) -> tuple[int, int]:
        """train() through the batched sgns_step op on `device` (what device="cuda" runs; tests use "cpu")."""
        corpus = training_corpus(corpus_iterable, path, self.id_to_key, self._id_remap)
        return run_epochs(self, OpEngine(self, corpus, epochs, alpha, min_alpha, device, batch), epochs, self.callbacks)

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: gensim methods not offered get a clear error.
        if name.startswith("_") or name == "params":
            raise AttributeError(name)
        from ..vectors.keyed import gensim_gap

        raise gensim_gap("Word2Vec", name)

    def get_latest_training_loss(self) -> float:
        """As gensim: the loss summed over every epoch of the latest train() call so far (float64; 0
        unless compute_loss=True). Each epoch's own figure is in ``epoch_history``."""
        return self.running_training_loss

    def predict_output_word(self, context_words_list: Sequence[str], topn: int = 10) -> list | None:
        """gensim's: the most probable centre words given context words, as (word, probability) pairs.

        A CBOW-style pass through the negative-sampling outputs (whatever ``sg``): the context
        vectors' sum (mean when ``cbow_mean``) against ``syn1neg``, softmax over the vocabulary.
        Unknown context words are skipped; None when none is known (gensim logs a warning)."""
        if not self.negative or self.syn1neg is None:
            raise RuntimeError("predict_output_word needs the negative-sampling outputs: train with negative > 0")
        if isinstance(context_words_list, str):
            raise TypeError("context_words_list must be a list of words, not a string")
        check_int("topn", topn, 0)
        wv = self.wv
        rows = [wv.get_index(w) for w in context_words_list if wv.has_index_for(w)]
        if not rows:
            import warnings

            warnings.warn("predict_output_word: every context word is out of the vocabulary", stacklevel=2)
            return None
        h = wv.vectors[rows].astype(np.float64).sum(axis=0)
        if self.cbow_mean:
            h /= len(rows)
        logits = self.syn1neg.astype(np.float64) @ h
        prob = np.exp(logits - logits.max())
        prob /= prob.sum()
        top = np.argsort(-prob, kind="stable")[:topn]
        return [(self.index_to_key[i], float(prob[i])) for i in top]

    # ---- vectors ---------------------------------------------------------------------------------
    def _word_vectors(self) -> np.ndarray:
        return self._in

    def _keyed_vectors(self):
        from ..vectors import KeyedVectors

        return KeyedVectors(list(self.index_to_key), self._word_vectors())

    @property
    def wv(self):
        """The trained word vectors as a KeyedVectors (rebuilt after each epoch)."""
        if self._wv is None:
            self._wv = self._keyed_vectors()
            if self.counts.shape == (len(self.index_to_key),):
                self._wv.expandos["count"] = self.counts.copy()  # gensim's wv.get_vecattr(word, "count")
        return self._wv

    # ---- persistence (see persist.py) ------------------------------------------------------------
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
        """Save everything needed to resume training (npz; written to a temp file, then renamed).

        With ``distributed=True`` only rank 0 writes (every rank holds the same tables)."""
        if self.params.distributed:
            from . import distributed

            if distributed.rank() != 0:
                return
        persist.save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Word2Vec:
        """Load a model written by save(); train() continues from it."""
        return persist.load(cls, path)

    def _restore(self, meta: dict, data: dict) -> None:
        self.params, state = persist.read_params(self._params_class, meta)
        for k, v in state.items():
            setattr(self, k, v)
        self.callbacks = ()
        self.comment = None
        self.effective_min_count = self.min_count
        self.index_to_key = list(meta["index_to_key"])
        self.key_to_index = {w: i for i, w in enumerate(self.index_to_key)}
        self.counts = np.ascontiguousarray(data["counts"], dtype=np.int64)
        self._in = np.ascontiguousarray(data["input"], dtype=np.float32)
        self.syn1neg = np.ascontiguousarray(data["syn1neg"]) if "syn1neg" in data else None
        self.syn1 = np.ascontiguousarray(data["syn1"]) if "syn1" in data else None
        self.id_to_key = meta.get("id_to_key")
        n = len(self.index_to_key)
        self._id_remap = check_id_remap(data["id_remap"], n) if "id_remap" in data else None
        if self.counts.shape != (n,) or self._in.shape[1] != self.vector_size:
            raise ValueError("model file is inconsistent: table shapes do not match the vocabulary")
        self.running_training_loss = 0.0
        self.epoch_history = []
        self._wv = None
        self.pruned_below = 0

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(vocab={len(self.index_to_key)}, vector_size={self.vector_size}, "
            f"sg={self.sg}, hs={self.hs}, negative={self.negative}, window={self.window})"
        )


for _name in Params.saved_names():
    setattr(Word2Vec, _name, param_property(_name))
del _name
