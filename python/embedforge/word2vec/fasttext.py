"""FastText: word2vec whose input vectors are the mean of a word's row and its character n-gram rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..vectors import KeyedVectors
from ..vectors.keyed import _check_lockf, _unlocked
from .model import Word2Vec, param_property
from .params import FASTTEXT_SYNC_WORDS, FastTextParams, native

__all__ = ["FastText", "FastTextKeyedVectors"]


class FastTextKeyedVectors(KeyedVectors):
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
            raise KeyError(
                f"cannot compute a vector for the out-of-vocabulary word {key!r}: the model has no "
                f"character n-grams (bucket={self.bucket}, min_n={self.min_n}, max_n={self.max_n})"
            )
        v = self._model.oov_vector(key)
        if norm:
            n = float(np.linalg.norm(v))
            return v / n if n > 0 else v
        return v

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.get_vector(key)
        return super().__getitem__(key)


class FastText(Word2Vec):
    """FastText: word2vec whose input vectors are the mean of the word's row and its character n-gram rows.

    Out-of-vocabulary words get vectors from their n-grams (``model.wv["unseenword"]``). Only the
    buckets that some vocabulary word uses are stored (the others would never be trained).
    """

    _kind = "fasttext"
    _params_class = FastTextParams
    _needs_keys = True

    def __init__(
        self,
        sentences=None,
        corpus_file=None,
        sg: int = 0,
        hs: int = 0,
        vector_size: int = 100,
        alpha: float = 0.025,
        window: int = 5,
        min_count: int = 5,
        max_vocab_size: int | None = None,
        word_ngrams: int = 1,
        sample: float = 1e-3,
        seed: int = 1,
        workers: int | None = None,
        min_alpha: float = 0.0001,
        negative: int = 5,
        ns_exponent: float = 0.75,
        cbow_mean: int = 1,
        hashfxn: Any = hash,
        epochs: int = 5,
        null_word: int = 0,
        min_n: int = 3,
        max_n: int = 6,
        sorted_vocab: int = 1,
        bucket: int = 2_000_000,
        trim_rule: Any = None,
        batch_words: int = 10_000,
        callbacks: Any = (),
        max_final_vocab: int | None = None,
        shrink_windows: bool = True,
        **kwargs: Any,
    ) -> None:
        # gensim's FastText signature and positional order; Word2Vec's own options by keyword.
        if word_ngrams != 1:
            raise NotImplementedError(
                f"word_ngrams={word_ngrams!r}: only word unigrams (word_ngrams=1, the default) are supported, as in gensim"
            )
        self.word_ngrams = 1
        kwargs.setdefault("sync_words", FASTTEXT_SYNC_WORDS)  # distributed=True: see params.py
        self.ngram_buckets = np.zeros(0, dtype=np.int64)
        self._sub = (None, None)
        super().__init__(
            sentences,
            corpus_file,
            sg=sg,
            hs=hs,
            vector_size=vector_size,
            alpha=alpha,
            window=window,
            min_count=min_count,
            max_vocab_size=max_vocab_size,
            sample=sample,
            seed=seed,
            workers=workers,
            min_alpha=min_alpha,
            negative=negative,
            ns_exponent=ns_exponent,
            cbow_mean=cbow_mean,
            hashfxn=hashfxn,
            epochs=epochs,
            null_word=null_word,
            sorted_vocab=sorted_vocab,
            trim_rule=trim_rule,
            batch_words=batch_words,
            callbacks=callbacks,
            max_final_vocab=max_final_vocab,
            shrink_windows=shrink_windows,
            min_n=min_n,
            max_n=max_n,
            bucket=bucket,
            **kwargs,
        )

    def _compute_subwords(self) -> None:
        offs, rows = native().w2v_ngram_rows(self.index_to_key, self.min_n, self.max_n, self.bucket, 0)
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

    def _set_vocab(self, scan, trim_rule=None, update=False) -> None:
        if not update:
            self.ngram_buckets = np.zeros(0, dtype=np.int64)
            self._sub = (None, None)
        super()._set_vocab(scan, trim_rule, update)

    def _grow_input(self, old_v: int) -> None:
        """A grown vocabulary's input rows: its words', then the n-gram buckets they use; trained rows kept."""
        old_buckets, old_in = self.ngram_buckets, self._in
        self._compute_subwords()  # the buckets of old and new words: a superset of the old ones
        V, B = len(self.index_to_key), len(self.ngram_buckets)
        pos = np.searchsorted(self.ngram_buckets, old_buckets)
        fresh = np.ones(B, dtype=bool)
        fresh[pos] = False
        new_in = np.empty((V + B, self.vector_size), dtype=np.float32)
        new_in[:old_v] = old_in[:old_v]
        new_in[old_v:V] = self._fresh_rows(V - old_v, 1, old_v)
        new_in[V + pos] = old_in[old_v:]
        new_in[V + np.flatnonzero(fresh)] = self._fresh_rows(int(fresh.sum()), 2, old_v)
        self._in = new_in

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
        return self._in[len(self.index_to_key) :]

    def _word_vectors(self) -> np.ndarray:
        offs, rows = self._subwords()
        V, D = len(self.index_to_key), self.vector_size
        out = np.empty((V, D), dtype=np.float32)
        step = 4096
        for s in range(0, V, step):
            e = min(V, s + step)
            seg = rows[offs[s] : offs[e]]
            sums = np.add.reduceat(self._in[seg], offs[s:e] - offs[s], axis=0)
            out[s:e] = sums / np.diff(offs[s : e + 1])[:, None].astype(np.float32)
        return out

    def oov_vector(self, word: str) -> np.ndarray:
        """Vector of any word from its n-grams (mean of the known bucket rows); zeros if none is known."""
        offs, rows = native().w2v_ngram_rows([word], self.min_n, self.max_n, self.bucket, 0)
        b = np.asarray(rows, dtype=np.int64)
        pos = np.searchsorted(self.ngram_buckets, b)
        ok = pos < len(self.ngram_buckets)
        ok[ok] = self.ngram_buckets[pos[ok]] == b[ok]
        if not ok.any():
            return np.zeros(self.vector_size, dtype=np.float32)
        return self._in[len(self.index_to_key) + pos[ok]].mean(axis=0).astype(np.float32)

    def _keyed_vectors(self) -> FastTextKeyedVectors:
        """The word vectors (in-vocabulary: mean of word and n-gram rows), with OOV lookup by n-grams."""
        return FastTextKeyedVectors(list(self.index_to_key), self._word_vectors(), self)

    def _arrays(self) -> dict:
        a = super()._arrays()
        a["ngram_buckets"] = self.ngram_buckets
        return a

    def _restore(self, meta: dict, data: dict) -> None:
        super()._restore(meta, data)
        self.word_ngrams = 1
        self.ngram_buckets = np.asarray(data["ngram_buckets"], dtype=np.int64)
        self._sub = (None, None)
        self._compute_subwords()
        if self._in.shape[0] != len(self.index_to_key) + len(self.ngram_buckets):
            raise ValueError("model file is inconsistent: n-gram rows do not match the vocabulary")


for _name in ("min_n", "max_n", "bucket"):
    setattr(FastText, _name, param_property(_name))
del _name
