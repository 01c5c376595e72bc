"""KeyedVectors: a set of named vectors with gensim's query API and value-object habits."""

from __future__ import annotations

import logging
import numbers
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from . import formats as _formats

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["KeyedVectors"]

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]
#: A query term: a key, a vector, or either paired with a weight.
Term = Union[str, int, np.ndarray, tuple]

_INDEX_TYPES = (int, np.integer)


def _is_key(item: Any) -> bool:
    """True if ``item`` is a single key (a string) or a single row index (an integer)."""
    return isinstance(item, str) or (isinstance(item, _INDEX_TYPES) and not isinstance(item, bool))


def _as_term_list(terms: Any) -> list:
    """Normalise gensim-style ``positive``/``negative`` arguments to a list of terms."""
    if terms is None:
        return []
    if _is_key(terms):
        return [terms]
    if isinstance(terms, np.ndarray):
        if terms.ndim == 1:
            return [terms]
        if terms.ndim == 2:
            return list(terms)
        raise ValueError(f"a query array must be 1-D or 2-D, got shape {terms.shape}")
    if (
        isinstance(terms, tuple)
        and len(terms) == 2
        and isinstance(terms[1], numbers.Real)
        and (_is_key(terms[0]) or isinstance(terms[0], np.ndarray))
    ):
        return [terms]
    return list(terms)


def _unit(vector: np.ndarray) -> np.ndarray:
    """Return ``vector`` scaled to unit length (a zero vector stays zero)."""
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _top_indices(scores: np.ndarray, count: int) -> np.ndarray:
    """Indices of the ``count`` largest scores, best first, ties broken by lower index."""
    n = scores.shape[0]
    if count >= n:
        candidates = np.arange(n)
    else:
        candidates = np.argpartition(-scores, count - 1)[:count]
        # include every score tied with the cut-off so tie-breaking is by index
        cutoff = scores[candidates].min()
        candidates = np.flatnonzero(scores >= cutoff)
    order = np.lexsort((candidates, -scores[candidates].astype(np.float64)))
    return candidates[order][:count]


class GensimMethodNotOffered(NotImplementedError, AttributeError):
    """A gensim method or attribute this class does not offer. A NotImplementedError naming it, and an
    AttributeError so that ``hasattr`` and ``getattr(obj, name, default)`` keep working."""


# gensim 4 methods that are not offered here, by class; asking for one raises
# GensimMethodNotOffered naming it (never an AttributeError from deep inside).
GENSIM_NOT_OFFERED = {
    "KeyedVectors": (
        "add_lifecycle_event",
        "allocate_vecattrs",
        "intersect_word2vec_format",
        "log_accuracy",
        "log_evaluate_word_pairs",
        "rank_by_centrality",
        "resize_vectors",
        "similarity_unseen_docs",
        "sort_by_descending_frequency",
        "wmdistance",
        "adjust_vectors",
        "get_sentence_vector",
        "init_post_load",
        "recalc_char_ngram_buckets",
    ),
    "Word2Vec": (
        "add_lifecycle_event",
        "add_null_word",
        "create_binary_tree",
        "estimate_memory",
        "init_weights",
        "make_cum_table",
        "prepare_vocab",
        "prepare_weights",
        "reset_from",
        "scan_vocab",
        "score",
        "seeded_vector",
        "update_weights",
        "load_binary_data",
        "load_fasttext_format",
    ),
}
# gensim 3 names that gensim 4 itself removed: an AttributeError naming the replacement, as gensim 4.
GENSIM_REMOVED = {
    "vocab": "key_to_index and get_vecattr(key, 'count')",
    "index2word": "index_to_key",
    "index2entity": "index_to_key",
    "init_sims": "get_normed_vectors() / fill_norms()",
    "vectors_norm": "get_normed_vectors()",
    "word_vec": "get_vector",
}


def gensim_gap(owner: str, name: str) -> AttributeError:
    """The error for ``owner.name`` when ``name`` is a gensim API this class lacks (else a plain AttributeError)."""
    if name in GENSIM_NOT_OFFERED.get(owner, ()):
        return GensimMethodNotOffered(f"{owner}.{name} (gensim API) is not offered by embedforge")
    if name in GENSIM_REMOVED:
        return AttributeError(f"{owner}.{name} was removed in gensim 4; use {GENSIM_REMOVED[name]}")
    return AttributeError(f"{owner!r} object has no attribute {name!r}")


def _unlocked() -> np.ndarray:
    ones = np.ones(1, dtype=np.float32)
    ones.flags.writeable = False
    return ones


def _check_lockf(name: str, value: Any) -> None:
    """Accept lock factors that lock nothing (all 1); anything else is not supported."""
    factors = np.asarray(value, dtype=np.float64)
    if factors.size and not np.all(factors == 1.0):
        raise NotImplementedError(
            f"{name}: locking vectors during training (lock factors other than 1) is not supported; every row trains"
        )


class KeyedVectors:
    """A set of float32 vectors indexed by string keys, with gensim-compatible queries.

    Shapes: N keys, D dimensions; ``vectors`` is float32 ``[N, D]``.

    Example::

        >>> import numpy as np
        >>> kv = KeyedVectors(["king", "queen", "man"], np.eye(3, dtype=np.float32))
        >>> kv["queen"].shape
        (3,)
        >>> kv.most_similar("king", topn=1)[0][0] in {"queen", "man"}
        True

    ``get_vector`` is the single lookup path every query uses, so a subclass (e.g. FastText's
    n-gram vectors) overrides it together with ``has_index_for`` / ``__contains__``. Sets derived
    with ``filter``/``subset``/arithmetic are plain ``KeyedVectors``. A float32 array is used
    without copying; unit vectors are cached, so after editing ``vectors`` in place call
    ``fill_norms(force=True)`` (assigning ``kv.vectors = ...`` or ``add_vectors`` does it for you).
    """

    #: make numpy defer to our reflected operators in ``array - kv``
    __array_ufunc__ = None

    def __init__(self, keys: Sequence[str] | int, vectors: Any = None) -> None:
        """Build from N unique string keys and an ``[N, D]`` array of finite floats.

        As gensim, ``KeyedVectors(vector_size)`` (an int) makes an empty set of that dimension to
        fill with ``add_vectors`` / ``kv[key] = vector``.
        """
        if isinstance(keys, numbers.Integral) and not isinstance(keys, bool):
            if vectors is not None:
                raise TypeError("KeyedVectors(vector_size) takes no vectors; use KeyedVectors(keys, vectors)")
            if keys < 1:
                raise ValueError(f"vector_size={keys} must be >= 1")
            self._set_state([], {}, np.empty((0, int(keys)), dtype=np.float32))
            return
        if vectors is None:
            raise TypeError("KeyedVectors needs keys and their vectors (or a vector_size int, as gensim)")
        keys = list(keys)
        key_to_index = self._index_keys(keys)
        array = self._check_array(vectors, len(keys), check_finite=True)
        self._set_state(keys, key_to_index, array)

    # ------------------------------------------------------------------ construction helpers
    @staticmethod
    def _index_keys(keys: list[str]) -> dict[str, int]:
        """Check that keys are unique strings and map each to its position."""
        for position, key in enumerate(keys):
            if not isinstance(key, str):
                raise TypeError(f"keys[{position}]={key!r} is a {type(key).__name__}, expected str")
        key_to_index = dict(zip(keys, range(len(keys))))
        if len(key_to_index) != len(keys):
            seen: dict[str, int] = {}
            for position, key in enumerate(keys):
                if key in seen:
                    raise ValueError(f"keys[{position}]={key!r} duplicates keys[{seen[key]}]")
                seen[key] = position
        return key_to_index

    @staticmethod
    def _check_array(vectors: Any, n: int, check_finite: bool = True) -> np.ndarray:
        """Validate and convert ``vectors`` to a float32 ``[n, D]`` array (no copy if possible)."""
        if isinstance(vectors, np.ndarray) and vectors.dtype == np.float32:
            array = vectors
        else:
            if hasattr(vectors, "detach") and hasattr(vectors, "cpu"):  # a torch tensor
                vectors = vectors.detach().cpu().float().numpy()
            with np.errstate(over="ignore"):
                array = np.asarray(vectors, dtype=np.float32)
        if array.ndim != 2:
            raise ValueError(f"vectors must be 2-D [n, dim], got shape {array.shape}")
        if array.shape[0] != n:
            raise ValueError(f"got {n} keys but {array.shape[0]} vectors")
        if array.shape[1] < 1:
            raise ValueError(f"vectors must have at least one dimension, got shape {array.shape}")
        if check_finite and array.size and not np.isfinite(array).all():
            row, col = np.argwhere(~np.isfinite(array))[0]
            raise ValueError(f"vectors[{row}, {col}]={array[row, col]} is not finite (or out of float32 range)")
        return array

    def _set_state(self, keys: list[str], key_to_index: dict[str, int], array: np.ndarray) -> None:
        """Install keys, index and vectors without validating them."""
        self.index_to_key: list[str] = keys
        self.key_to_index: dict[str, int] = key_to_index
        self._vectors = array
        self._norms: np.ndarray | None = None
        self._unit_vectors: np.ndarray | None = None
        #: per-key attributes (gensim's name), e.g. ``expandos["count"][index]``
        self.expandos: dict[str, np.ndarray] = {}

    @classmethod
    def _trusted(cls, keys: list[str], array: np.ndarray) -> KeyedVectors:
        """Build a plain KeyedVectors from already validated parts (used by mmap loads)."""
        self = KeyedVectors.__new__(KeyedVectors)
        self._set_state(keys, dict(zip(keys, range(len(keys)))), array)
        return self

    def _derived(self, keys: list[str], array: np.ndarray, rows: Any = None, check: bool = False) -> KeyedVectors:
        """A new plain set carrying this set's per-key attributes for ``rows`` (all if None)."""
        derived = KeyedVectors(keys, array) if check else KeyedVectors._trusted(keys, array)
        for attr, values in self.expandos.items():
            derived.expandos[attr] = np.array(values if rows is None else values[rows], copy=True)
        return derived

    # ------------------------------------------------------------------ per-key attributes
    def set_vecattr(self, key: str | int | Sequence[str], attr: str, value: Any) -> None:
        """Set attribute ``attr`` (e.g. "count") of one key, or of a list of keys to a list of values."""
        rows = self.get_index(key) if _is_key(key) else [self.get_index(k) for k in key]  # type: ignore[union-attr]
        value_array = np.asarray(value)
        current = self.expandos.get(attr)
        dtype = value_array.dtype if current is None else np.result_type(current.dtype, value_array.dtype)
        if current is None:
            current = np.zeros(len(self), dtype=dtype)
        elif current.dtype != dtype:
            current = current.astype(dtype)
        current[rows] = value_array
        self.expandos[attr] = current

    def get_vecattr(self, key: str | int, attr: str) -> Any:
        """Attribute ``attr`` of ``key`` (KeyError if the attribute was never set)."""
        if attr not in self.expandos:
            raise KeyError(f"no attribute {attr!r}; known: {sorted(self.expandos)}")
        return self.expandos[attr][self.get_index(key)]

    @classmethod
    def from_numpy(cls, keys: Sequence[str], array: Any) -> KeyedVectors:
        """Build a set from keys and an ``[N, D]`` array (the whatlies-style entry point)."""
        return KeyedVectors(keys, array)

    # ------------------------------------------------------------------ basic container protocol
    @property
    def vectors(self) -> np.ndarray:
        """The float32 ``[N, D]`` matrix; assigning a new one invalidates cached unit vectors."""
        return self._vectors

    @vectors.setter
    def vectors(self, value: Any) -> None:
        self._vectors = self._check_array(value, len(self.index_to_key), check_finite=True)
        self._norms = None
        self._unit_vectors = None

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: names gensim offers and we do not get a clear error.
        if name.startswith("__"):
            raise AttributeError(name)
        raise gensim_gap("KeyedVectors", name)

    def unit_normalize_all(self) -> None:
        """As gensim: scale every vector to unit length in place (zero vectors stay zero)."""
        norms = np.linalg.norm(self._vectors.astype(np.float64), axis=1, keepdims=True)
        self._vectors = (self._vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)
        self._norms = None
        self._unit_vectors = None

    def relative_cosine_similarity(self, wa: str, wb: str, topn: int = 10) -> float:
        """As gensim: cosine(wa, wb) over the sum of the ``topn`` best cosines of ``wa`` (Leeuwenberg et al.)."""
        sims = self.similar_by_key(wa, topn)
        if not sims:
            raise ValueError("cannot compute a relative cosine similarity without any similar word")
        return float(self.similarity(wa, wb)) / sum(score for _, score in sims)

    @property
    def vectors_lockf(self) -> np.ndarray:
        """gensim's per-row lock factors: always 1 here (no row is locked), read-only.

        Locking rows during training (factors other than 1) is not supported: assigning them
        raises NotImplementedError rather than training the rows anyway.
        """
        return _unlocked()

    @vectors_lockf.setter
    def vectors_lockf(self, value: Any) -> None:
        _check_lockf("vectors_lockf", value)

    @property
    def vector_size(self) -> int:
        """Dimensionality D of the vectors."""
        return int(self._vectors.shape[1])

    def __len__(self) -> int:
        """Number of keys."""
        return len(self.index_to_key)

    def __iter__(self) -> Iterator[str]:
        """Iterate over the keys in index order."""
        return iter(self.index_to_key)

    def __contains__(self, key: object) -> bool:
        """True if ``key`` has a vector (gensim: same as ``has_index_for``)."""
        return self.has_index_for(key)

    def __repr__(self) -> str:
        """Short description with size and dimension."""
        return f"{type(self).__name__}(n={len(self)}, dim={self.vector_size})"

    def get_index(self, key: str | int, default: int | None = None) -> int:
        """Row index of ``key`` (an in-range integer is returned as is); KeyError if unknown."""
        index = self.key_to_index.get(key) if isinstance(key, str) else None
        if index is not None:
            return index
        if isinstance(key, _INDEX_TYPES) and not isinstance(key, bool) and 0 <= key < len(self):
            return int(key)
        if default is not None:
            return default
        raise KeyError(f"word {key!r} not in vocabulary")

    def has_index_for(self, key: object) -> bool:
        """True if ``key`` is a known key or an in-range row index."""
        try:
            return self.get_index(key) >= 0  # type: ignore[arg-type]
        except (KeyError, TypeError):
            return False

    def get_vector(self, key: str | int, norm: bool = False) -> np.ndarray:
        """The vector of ``key`` (a view), or its unit-length copy when ``norm=True``."""
        index = self.get_index(key)
        if norm:
            return self.get_normed_vectors()[index]
        return self._vectors[index]

    def __getitem__(self, key_or_keys: str | int | Iterable[str]) -> np.ndarray:
        """Vector of one key, or a ``[len(keys), D]`` stack for a list of keys."""
        if _is_key(key_or_keys):
            return self.get_vector(key_or_keys)  # type: ignore[arg-type]
        rows = [self.get_vector(key) for key in key_or_keys]  # type: ignore[union-attr]
        if not rows:
            return np.empty((0, self.vector_size), dtype=np.float32)
        return np.vstack(rows)

    # ------------------------------------------------------------------ norms
    def fill_norms(self, force: bool = False) -> None:
        """Compute and cache vector norms and unit vectors (``force`` recomputes them)."""
        if self._unit_vectors is not None and not force:
            return
        vectors = np.asarray(self._vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1).astype(np.float32)
        safe = np.where(norms > 0, norms, np.float32(1.0))
        self._unit_vectors = (vectors / safe[:, None]).astype(np.float32, copy=False)
        self._norms = norms

    @property
    def norms(self) -> np.ndarray:
        """L2 norm of every vector (cached)."""
        self.fill_norms()
        assert self._norms is not None
        return self._norms

    def get_normed_vectors(self) -> np.ndarray:
        """The ``[N, D]`` unit vectors (cached; zero vectors stay zero)."""
        self.fill_norms()
        assert self._unit_vectors is not None
        return self._unit_vectors

    # ------------------------------------------------------------------ queries
    def _query_vector(self, term: Any, norm: bool = True) -> np.ndarray:
        """Resolve a key or a raw vector to a float32 vector (unit length when ``norm``)."""
        if isinstance(term, np.ndarray) or (
            not _is_key(term) and not isinstance(term, tuple) and hasattr(term, "__len__")
        ):
            vector = np.asarray(term, dtype=np.float32)
            if vector.shape != (self.vector_size,):
                raise ValueError(f"a query vector must have shape ({self.vector_size},), got {vector.shape}")
            if not np.isfinite(vector).all():
                raise ValueError("a query vector has a non-finite value")
            return _unit(vector) if norm else vector
        return self.get_vector(term, norm=norm)

    def _weighted_terms(self, positive: Any, negative: Any) -> tuple[list, list[float]]:
        """Split positive/negative arguments into terms and signed weights."""
        terms: list = []
        weights: list[float] = []
        for sign, group in ((1.0, _as_term_list(positive)), (-1.0, _as_term_list(negative))):
            for item in group:
                if isinstance(item, tuple):
                    if len(item) != 2:
                        raise ValueError(f"a weighted term must be (key_or_vector, weight), got {item!r}")
                    terms.append(item[0])
                    weights.append(sign * float(item[1]))
                else:
                    terms.append(item)
                    weights.append(sign)
        if not terms:
            raise ValueError("cannot compute similarity with no input")
        return terms, weights

    def _excluded(self, terms: Iterable[Any]) -> set[int]:
        """Row indices of the terms that are known keys (excluded from results)."""
        return {self.get_index(term) for term in terms if _is_key(term) and self.has_index_for(term)}

    def _clip(self, restrict_vocab: int | None) -> int:
        """Number of leading rows a query searches."""
        if restrict_vocab is None:
            return len(self)
        if restrict_vocab < 0:
            raise ValueError(f"restrict_vocab={restrict_vocab} must be >= 0")
        return min(int(restrict_vocab), len(self))

    def get_mean_vector(
        self,
        keys: Sequence[Any],
        weights: Sequence[float] | None = None,
        pre_normalize: bool = True,
        post_normalize: bool = False,
        ignore_missing: bool = True,
    ) -> np.ndarray:
        """Weighted mean of keys and/or vectors (unknown keys skipped if ``ignore_missing``)."""
        items = _as_term_list(keys)
        if weights is None:
            weights = [1.0] * len(items)
        if len(weights) != len(items):
            raise ValueError(f"got {len(items)} keys but {len(weights)} weights")
        total = np.zeros(self.vector_size, dtype=np.float32)
        weight_sum = 0.0
        for item, weight in zip(items, weights):
            if _is_key(item) and not self.__contains__(item):
                if ignore_missing:
                    continue
                raise KeyError(f"word {item!r} not in vocabulary")
            total += np.float32(weight) * self._query_vector(item, norm=pre_normalize)
            weight_sum += abs(float(weight))
        if weight_sum == 0:
            raise ValueError("cannot compute a mean vector: none of the keys is known")
        mean = total / np.float32(weight_sum)
        return _unit(mean) if post_normalize else mean

    def _ranked(self, scores: np.ndarray, topn: int, exclude: set[int], start: int = 0) -> list[tuple[str, float]]:
        """Best ``topn`` (key, score) pairs, skipping ``exclude`` rows; ``scores[i]`` is row ``start + i``."""
        best = _top_indices(scores, topn + len(exclude))
        result = [(self.index_to_key[start + int(i)], float(scores[i])) for i in best if start + int(i) not in exclude]
        return result[:topn]

    def most_similar(
        self,
        positive: Any = None,
        negative: Any = None,
        topn: int | None = 10,
        clip_start: int = 0,
        clip_end: int | None = None,
        restrict_vocab: int | None = None,
        indexer: Any = None,
    ) -> list[tuple[str, float]] | np.ndarray:
        """Keys most cosine-similar to the weighted mean of positive minus negative terms.

        Terms are keys, vectors, or ``(term, weight)`` pairs; every term is normalised to unit
        length before averaging (gensim leaves raw vectors unnormalised: results differ only when
        raw vectors of non-unit length are mixed with other terms). Input keys are excluded.
        Rows ``clip_start:clip_end`` are searched (``restrict_vocab``, when given, means rows
        ``0:restrict_vocab``), as gensim. ``topn=None`` returns the similarity of every searched row
        as an array. An approximate ``indexer`` raises NotImplementedError.
        """
        if indexer is not None:
            raise NotImplementedError(
                "most_similar(indexer=...): approximate nearest-neighbour indexers are not "
                "supported; the search is exact"
            )
        if topn is not None and topn < 1:
            return []
        terms, weights = self._weighted_terms(positive, negative)
        mean = self.get_mean_vector(terms, weights, pre_normalize=True, post_normalize=True, ignore_missing=False)
        start, stop = self._clip_range(clip_start, clip_end, restrict_vocab)
        scores = self.get_normed_vectors()[start:stop] @ mean
        if topn is None:
            return scores
        return self._ranked(scores, int(topn), self._excluded(terms), start)

    def _clip_range(self, clip_start: int, clip_end: int | None, restrict_vocab: int | None) -> tuple[int, int]:
        """Rows ``[start, stop)`` a query searches (gensim's clip_start / clip_end / restrict_vocab)."""
        if restrict_vocab is not None:
            return 0, self._clip(restrict_vocab)
        for name, value in (("clip_start", clip_start), ("clip_end", clip_end)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0):
                raise ValueError(f"{name}={value!r} must be a non-negative integer")
        stop = len(self) if clip_end is None else min(int(clip_end), len(self))
        return min(int(clip_start), stop), stop

    def most_similar_cosmul(
        self, positive: Any = None, negative: Any = None, topn: int | None = 10, restrict_vocab: int | None = None
    ) -> list[tuple[str, float]] | np.ndarray:
        """Levy & Goldberg's 3CosMul: product of shifted positive cosines over negative ones."""
        if topn is not None and topn < 1:
            return []
        pos = _as_term_list(positive)
        neg = _as_term_list(negative)
        if not pos:
            raise ValueError("cannot compute similarity with no positive input")
        clip = self._clip(restrict_vocab)
        unit = self.get_normed_vectors()[:clip]
        scores = np.ones(clip, dtype=np.float32)
        for term in pos:
            scores *= (1.0 + unit @ self._query_vector(term)) / 2.0
        denominator = np.ones(clip, dtype=np.float32)
        for term in neg:
            denominator *= (1.0 + unit @ self._query_vector(term)) / 2.0
        scores = scores / (denominator + np.float32(1e-6))
        if topn is None:
            return scores
        return self._ranked(scores, int(topn), self._excluded(pos + neg))

    def similar_by_vector(
        self, vector: np.ndarray, topn: int | None = 10, restrict_vocab: int | None = None
    ) -> list[tuple[str, float]] | np.ndarray:
        """Keys most similar to a raw vector."""
        return self.most_similar(positive=[np.asarray(vector)], topn=topn, restrict_vocab=restrict_vocab)

    def similar_by_key(
        self, key: str, topn: int | None = 10, restrict_vocab: int | None = None
    ) -> list[tuple[str, float]] | np.ndarray:
        """Keys most similar to ``key`` (excluding it)."""
        return self.most_similar(positive=[key], topn=topn, restrict_vocab=restrict_vocab)

    similar_by_word = similar_by_key

    @staticmethod
    def cosine_similarities(vector_1: np.ndarray, vectors_all: np.ndarray) -> np.ndarray:
        """Cosine similarity between one vector and each row of a matrix."""
        vector_1 = np.asarray(vector_1, dtype=np.float32)
        vectors_all = np.asarray(vectors_all, dtype=np.float32)
        norms = np.linalg.norm(vectors_all, axis=1) * np.linalg.norm(vector_1)
        dots = vectors_all @ vector_1
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(norms > 0, dots / np.where(norms > 0, norms, 1), 0).astype(np.float32)

    def similarity(self, key1: str, key2: str) -> float:
        """Cosine similarity of two keys."""
        return float(np.dot(self.get_vector(key1, norm=True), self.get_vector(key2, norm=True)))

    def n_similarity(self, keys1: Sequence[str], keys2: Sequence[str]) -> float:
        """Cosine similarity between the means of two key lists."""
        if not len(keys1) or not len(keys2):
            raise ValueError("n_similarity needs two non-empty key lists")
        mean1 = np.mean([self.get_vector(k) for k in keys1], axis=0)
        mean2 = np.mean([self.get_vector(k) for k in keys2], axis=0)
        return float(np.dot(_unit(mean1), _unit(mean2)))

    def distance(self, key1: str, key2: str) -> float:
        """Cosine distance (1 - similarity) of two keys."""
        return 1.0 - self.similarity(key1, key2)

    def distances(self, key_or_vector: str | np.ndarray, other_keys: Sequence[str] = ()) -> np.ndarray:
        """Cosine distances from a key or vector to ``other_keys`` (all keys when empty)."""
        query = self._query_vector(key_or_vector)
        if len(other_keys) == 0:
            others = self.get_normed_vectors()
        else:
            others = np.vstack([self.get_vector(k, norm=True) for k in other_keys])
        return (1.0 - others @ query).astype(np.float32)

    def closer_than(self, key1: str, key2: str) -> list[str]:
        """Keys closer to ``key1`` than ``key2`` is (``key1`` itself excluded)."""
        all_distances = self.distances(key1)
        index1 = self.get_index(key1)
        threshold = all_distances[self.get_index(key2)]
        return [self.index_to_key[i] for i in np.flatnonzero(all_distances < threshold) if i != index1]

    def rank(self, key1: str, key2: str) -> int:
        """Rank of ``key2`` among ``key1``'s neighbours (1 = nearest)."""
        return len(self.closer_than(key1, key2)) + 1

    def most_similar_to_given(self, key1: str, keys_list: Sequence[str]) -> str:
        """The key in ``keys_list`` most similar to ``key1``."""
        if not len(keys_list):
            raise ValueError("keys_list is empty")
        sims = [self.similarity(key1, key) for key in keys_list]
        return keys_list[int(np.argmax(sims))]

    def doesnt_match(self, keys: Sequence[str]) -> str:
        """The key furthest from the mean of the others (unknown keys are ignored and logged)."""
        used = [key for key in keys if key in self]
        if len(used) != len(keys):
            logger.warning(
                "vectors for words %s are not present in the model, ignoring these words", sorted(set(keys) - set(used))
            )
        if not used:
            raise ValueError("cannot select a word from an empty list")
        unit = np.vstack([self.get_vector(key, norm=True) for key in used])
        mean = _unit(unit.mean(axis=0))
        scores = unit @ mean
        return sorted(zip(scores.tolist(), used))[0][1]

    # ------------------------------------------------------------------ evaluation
    def evaluate_word_analogies(
        self,
        analogies: PathLike,
        restrict_vocab: int = 300000,
        case_insensitive: bool = True,
        dummy4unknown: bool = False,
        similarity_function: str = "most_similar",
    ) -> tuple[float, list[dict[str, Any]]]:
        """Accuracy on a questions-words file: ``(score, sections)`` as gensim returns them."""
        from .evaluation import evaluate_word_analogies

        return evaluate_word_analogies(
            self,
            analogies,
            restrict_vocab=restrict_vocab,
            case_insensitive=case_insensitive,
            dummy4unknown=dummy4unknown,
            similarity_function=similarity_function,
        )

    def evaluate_word_pairs(
        self,
        pairs: PathLike,
        delimiter: str = "\t",
        encoding: str = "utf8",
        restrict_vocab: int = 300000,
        case_insensitive: bool = True,
        dummy4unknown: bool = False,
    ) -> tuple[tuple[float, float], tuple[float, float], float]:
        """((pearson r, p), (spearman rho, p), oov %) against human similarity judgements."""
        from .evaluation import evaluate_word_pairs

        return evaluate_word_pairs(
            self,
            pairs,
            delimiter=delimiter,
            encoding=encoding,
            restrict_vocab=restrict_vocab,
            case_insensitive=case_insensitive,
            dummy4unknown=dummy4unknown,
        )

    # ------------------------------------------------------------------ value-object habits
    def vectors_for_all(
        self, keys: Iterable[str], allow_inference: bool = True, copy_vecattrs: bool = False
    ) -> KeyedVectors:
        """gensim's: a new plain set with a vector for each distinct key that has one, in first-seen order.

        ``allow_inference``: also keys this set can infer (FastText's out-of-vocabulary words from
        their n-grams); else only its own keys. ``copy_vecattrs``: carry per-key attributes
        (``count``...) over; inferred keys get 0, as gensim's freshly allocated attributes."""
        if isinstance(keys, str):
            raise TypeError("keys must be an iterable of keys, not a string")
        chosen: list[str] = []
        seen: set = set()
        for key in keys:
            if key in seen:
                continue
            seen.add(key)
            if (key in self) if allow_inference else self.has_index_for(key):
                chosen.append(key)
        array = np.empty((len(chosen), self.vector_size), dtype=np.float32)
        for i, key in enumerate(chosen):
            array[i] = self.get_vector(key)
        out = KeyedVectors._trusted(chosen, array)
        if copy_vecattrs:
            rows = np.array([self.key_to_index.get(k, -1) for k in chosen], dtype=np.int64)
            mine = rows >= 0
            for attr, values in self.expandos.items():
                copied = np.zeros(len(chosen), dtype=values.dtype)
                copied[mine] = values[rows[mine]]
                out.expandos[attr] = copied
        return out

    def to_numpy(self) -> np.ndarray:
        """A float32 copy of the ``[N, D]`` matrix."""
        return np.array(self._vectors, dtype=np.float32, copy=True)

    def to_torch(self, device: Any = None) -> torch.Tensor:
        """A float32 tensor copy of the vectors (torch imported lazily)."""
        import torch

        return torch.tensor(self.to_numpy(), device=device)

    def copy(self) -> KeyedVectors:
        """An independent copy."""
        return self._derived(list(self.index_to_key), self.to_numpy())

    def subset(self, keys: Iterable[str]) -> KeyedVectors:
        """A new set with exactly ``keys``, in the order given (KeyError for unknown keys)."""
        keys = list(keys)
        if not keys:
            return self._derived([], np.empty((0, self.vector_size), dtype=np.float32), rows=[])
        self._index_keys(keys)  # raises on duplicates, naming them
        array = np.vstack([self.get_vector(k) for k in keys])
        return self._derived(keys, array, rows=[self.get_index(k) for k in keys])

    def filter(self, keys_or_predicate: Iterable[str] | Callable[[str], bool]) -> KeyedVectors:
        """A new set of the entries whose key is in a collection or satisfies a predicate."""
        if callable(keys_or_predicate):
            keep = [i for i, key in enumerate(self.index_to_key) if keys_or_predicate(key)]
        else:
            wanted = set(keys_or_predicate)
            keep = [i for i, key in enumerate(self.index_to_key) if key in wanted]
        rows = np.asarray(keep, dtype=np.int64)
        return self._derived(
            [self.index_to_key[i] for i in keep], np.array(self._vectors[rows], dtype=np.float32), rows=rows
        )

    def transform(self, function: Callable[[np.ndarray], Any]) -> KeyedVectors:
        """A new set whose matrix is ``function(vectors)`` (same keys; the dimension may change)."""
        return self._derived(list(self.index_to_key), function(self.to_numpy()), check=True)

    def normalized(self) -> KeyedVectors:
        """A new set of the unit-length vectors."""
        return self._derived(list(self.index_to_key), self.get_normed_vectors().copy())

    def _operand(self, other: Any) -> np.ndarray | float:
        """Align the other operand of an arithmetic operation with this set's rows."""
        if isinstance(other, KeyedVectors):
            if len(other) != len(self) or set(other.key_to_index) != set(self.key_to_index):
                raise ValueError("arithmetic between KeyedVectors needs the same keys on both sides")
            if other.vector_size != self.vector_size:
                raise ValueError(f"dimension mismatch: {self.vector_size} vs {other.vector_size}")
            return other[self.index_to_key]
        if isinstance(other, numbers.Real):
            return float(other)
        array = np.asarray(other, dtype=np.float32)
        if array.shape not in ((self.vector_size,), (len(self), self.vector_size)):
            raise ValueError(f"cannot combine {self!r} with an array of shape {array.shape}")
        return array

    def _apply(self, result: np.ndarray) -> KeyedVectors:
        """Wrap an arithmetic result in a new set with the same keys."""
        return self._derived(list(self.index_to_key), result, check=True)

    def __add__(self, other: Any) -> KeyedVectors:
        """Element-wise sum with a set of the same keys, a vector or a scalar."""
        return self._apply(self._vectors + self._operand(other))

    __radd__ = __add__

    def __sub__(self, other: Any) -> KeyedVectors:
        """Element-wise difference with a set of the same keys, a vector or a scalar."""
        return self._apply(self._vectors - self._operand(other))

    def __rsub__(self, other: Any) -> KeyedVectors:
        """Element-wise ``other - self``."""
        return self._apply(self._operand(other) - self._vectors)

    def __mul__(self, other: Any) -> KeyedVectors:
        """Element-wise product with a scalar, a vector or a set of the same keys."""
        return self._apply(self._vectors * self._operand(other))

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> KeyedVectors:
        """Element-wise quotient by a scalar, a vector or a set of the same keys."""
        return self._apply(self._vectors / self._operand(other))

    def __neg__(self) -> KeyedVectors:
        """The set with every vector negated."""
        return self._apply(-self._vectors)

    # ------------------------------------------------------------------ mutation (gensim API)
    def add_vectors(
        self, keys: str | Sequence[str], weights: Any, extras: dict[str, Any] | None = None, replace: bool = False
    ) -> None:
        """Add keys with vectors in place (existing keys are kept unless ``replace``); gensim's order.

        ``extras`` maps attribute names to one value per given key; as gensim, they are set on the
        new keys, and on existing ones too when ``replace``.
        """
        if extras is not None:
            if not isinstance(extras, dict):
                raise TypeError(f"extras must be a dict of attribute -> values, got {type(extras).__name__}")
            n_keys = 1 if isinstance(keys, str) else len(list(keys))
            for attr, values in extras.items():
                if np.asarray(values).shape != (n_keys,):
                    raise ValueError(
                        f"extras[{attr!r}] must hold {n_keys} values, got shape {np.asarray(values).shape}"
                    )
            key_list = [keys] if isinstance(keys, str) else list(keys)
            chosen = [i for i, k in enumerate(key_list) if replace or k not in self.key_to_index]
            self.add_vectors(keys, weights, replace=replace)
            for attr, values in extras.items():
                if chosen:
                    self.set_vecattr([key_list[i] for i in chosen], attr, np.asarray(values)[chosen])
            return
        if isinstance(keys, str):
            keys = [keys]
            weights = np.asarray(weights, dtype=np.float32).reshape(1, -1)
        keys = list(keys)
        weights = np.asarray(weights, dtype=np.float32)
        if weights.ndim != 2 or weights.shape != (len(keys), self.vector_size):
            raise ValueError(f"expected weights of shape ({len(keys)}, {self.vector_size}), got {weights.shape}")
        if len(set(keys)) != len(keys):
            raise ValueError("add_vectors got duplicate keys")
        self._check_array(weights, len(keys))
        for position, key in enumerate(keys):
            if not isinstance(key, str):
                raise TypeError(f"keys[{position}]={key!r} is a {type(key).__name__}, expected str")
        vectors = np.array(self._vectors, dtype=np.float32, copy=True)
        new_rows = []
        for position, key in enumerate(keys):
            index = self.key_to_index.get(key)
            if index is None:
                new_rows.append(position)
            elif replace:
                vectors[index] = weights[position]
        if new_rows:
            vectors = np.vstack([vectors, weights[new_rows]])
            for position in new_rows:
                self.key_to_index[keys[position]] = len(self.index_to_key)
                self.index_to_key.append(keys[position])
            for attr, values in self.expandos.items():  # new keys get zero attributes
                self.expandos[attr] = np.concatenate([values, np.zeros(len(new_rows), values.dtype)])
        self._vectors = vectors
        self._norms = None
        self._unit_vectors = None

    def __setitem__(self, keys: str | Sequence[str], weights: Any) -> None:
        """As gensim: ``kv[key] = vector`` (or a list of keys and an [n, D] array) adds or replaces."""
        if isinstance(keys, str):
            self.add_vectors([keys], np.asarray(weights, dtype=np.float32).reshape(1, -1), replace=True)
        else:
            self.add_vectors(list(keys), weights, replace=True)

    def add_vector(self, key: str, vector: Any) -> int:
        """Add one key (replacing nothing if it exists) and return its index."""
        if key not in self.key_to_index:
            self.add_vectors([key], np.asarray(vector, dtype=np.float32).reshape(1, -1))
        return self.key_to_index[key]

    # ------------------------------------------------------------------ persistence
    @classmethod
    def load_word2vec_format(
        cls,
        fname: PathLike,
        fvocab: PathLike | None = None,
        binary: bool = False,
        encoding: str = "utf8",
        unicode_errors: str = "strict",
        limit: int | None = None,
        datatype: Any = np.float32,
        no_header: bool = False,
    ) -> KeyedVectors:
        """Read word2vec text or binary (also fastText ``.vec``); gensim's signature and order.

        ``limit`` keeps the first rows; ``fvocab`` is a vocabulary file of ``word count`` lines
        whose counts become the ``count`` attribute (without it, as gensim, counts descend from
        the number of vectors loaded to 1). Vectors are float32 (``datatype`` other than float32
        raises NotImplementedError).
        """
        if np.dtype(datatype) != np.float32:
            raise NotImplementedError(
                f"load_word2vec_format(datatype={datatype!r}): only float32 vectors are supported"
            )
        if binary:
            if no_header:
                raise ValueError("the word2vec binary format always has a header")
            keys, array = _formats.read_word2vec_binary(
                fname, limit=limit, encoding=encoding, unicode_errors=unicode_errors
            )
        else:
            keys, array = _formats.read_word2vec_text(
                fname, limit=limit, encoding=encoding, unicode_errors=unicode_errors, no_header=no_header
            )
        loaded = cls._from_parts(keys, array)
        if fvocab is not None:
            counts = _formats.read_vocab_counts(fvocab, encoding=encoding, unicode_errors=unicode_errors)
            missing = next((k for k in keys if k not in counts), None)
            if missing is not None:
                raise ValueError(
                    f"fvocab={os.fspath(fvocab)!r} has no count for {missing!r} "
                    f"(vector {keys.index(missing)} of {os.fspath(fname)!r})"
                )
            loaded.expandos["count"] = np.array([counts[k] for k in keys], dtype=np.int64)
        else:
            loaded.expandos["count"] = np.arange(len(keys), 0, -1, dtype=np.int64)
        return loaded

    @classmethod
    def _from_parts(cls, keys: list[str], array: np.ndarray) -> KeyedVectors:
        """Construct from reader output (already validated)."""
        if cls is KeyedVectors:
            return KeyedVectors._trusted(keys, array)
        return cls(keys, array)

    def save_word2vec_format(
        self,
        fname: PathLike,
        fvocab: PathLike | None = None,
        binary: bool = False,
        total_vec: int | None = None,
        write_header: bool = True,
        prefix: str = "",
        append: bool = False,
        sort_attr: str = "count",
    ) -> None:
        """Write word2vec text or binary atomically (readable by gensim); gensim's signature and order.

        As gensim, keys are written by descending ``sort_attr`` (stable) when that attribute
        exists, each prefixed by ``prefix``; ``fvocab`` also writes ``word count`` lines (needs the
        attribute). ``append`` and a ``total_vec`` other than the number of vectors raise
        NotImplementedError (every write here replaces the file atomically).
        """
        if append:
            raise NotImplementedError("save_word2vec_format(append=True): files are written whole and atomically")
        if total_vec is not None and int(total_vec) != len(self):
            raise NotImplementedError(
                f"save_word2vec_format(total_vec={total_vec}): only the number of vectors ({len(self)}) can be declared"
            )
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
        if sort_attr in self.expandos:
            values = np.asarray(self.expandos[sort_attr])
            order = np.argsort(-values, kind="stable")
        elif fvocab is not None:
            raise ValueError(f"cannot write fvocab={os.fspath(fvocab)!r}: no {sort_attr!r} attribute to store")
        else:
            order = np.arange(len(self))
        keys = [prefix + self.index_to_key[i] for i in order]
        vectors = self._vectors if np.array_equal(order, np.arange(len(self))) else self._vectors[order]
        if fvocab is not None:
            counts = np.asarray(self.expandos[sort_attr])[order]
            _formats.write_vocab_counts(fvocab, keys, counts)
        _formats.write_word2vec(fname, keys, vectors, binary=binary, write_header=write_header)

    @classmethod
    def load_glove(
        cls, path: PathLike, limit: int | None = None, encoding: str = "utf8", unicode_errors: str = "strict"
    ) -> KeyedVectors:
        """Read GloVe text (no header line)."""
        keys, array = _formats.read_word2vec_text(
            path, limit=limit, encoding=encoding, unicode_errors=unicode_errors, no_header=True
        )
        return cls._from_parts(keys, array)

    def save_glove(self, path: PathLike) -> None:
        """Write GloVe text (no header line) atomically."""
        _formats.write_word2vec(path, self.index_to_key, self._vectors, binary=False, write_header=False)

    def save(self, path: PathLike) -> None:
        """Write the native format atomically (UTF-8 JSON keys and attributes + raw float32)."""
        _formats.write_native(path, self.index_to_key, self._vectors, attrs=self.expandos)

    @classmethod
    def load(cls, path: PathLike, mmap: str | None = "r") -> KeyedVectors:
        """Read the native format; ``mmap`` is numpy's memmap mode ('r', 'r+', 'c') or None."""
        keys, array, attrs = _formats.read_native(path, mmap=mmap)
        if mmap is None or cls is not KeyedVectors:
            loaded = cls._from_parts(keys, array)
        else:
            loaded = KeyedVectors._trusted(keys, array)  # no full scan of a mapped file
        loaded.expandos.update(attrs)
        return loaded
