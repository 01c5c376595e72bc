"""Corpus sources (token lists, token-id arrays, a file): each counts its words and cuts itself into chunks."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np

from .params import native

__all__ = [
    "Scan",
    "TokenCorpus",
    "IdCorpus",
    "FileCorpus",
    "CHUNK_TOKENS",
    "DENSE_IDS",
    "IdCounter",
    "merge_id_counts",
    "make_id_remap",
    "id_remap_pairs",
    "id_remap_lookup",
    "check_id_remap",
    "check_sentences",
    "check_corpus_file",
    "first_is_ids",
    "scan_corpus",
    "training_corpus",
    "token_chunks",
]

CHUNK_TOKENS = 50_000  # tokens per chunk handed to the engine
# Token ids below this are counted (and mapped to the vocabulary) through dense arrays indexed by id;
# a larger id switches to sorted (id, value) pairs, so memory follows the distinct ids, never the largest.
DENSE_IDS = 1 << 22


def merge_id_counts(parts: list) -> tuple[np.ndarray, np.ndarray]:
    """Sum (ids, counts) pairs of arrays into one (sorted distinct ids, their int64 counts)."""
    parts = [(np.asarray(i, dtype=np.int64), np.asarray(c, dtype=np.int64)) for i, c in parts if len(i)]
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ids = np.concatenate([p[0] for p in parts])
    counts = np.concatenate([p[1] for p in parts])
    order = np.argsort(ids, kind="stable")
    ids, counts = ids[order], counts[order]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(ids)) + 1])
    return ids[starts], np.add.reduceat(counts, starts)


class IdCounter:
    """Counts of token ids: a bincount while every id is below DENSE_IDS, sorted (id, count) pairs after."""

    def __init__(self) -> None:
        self.dense: np.ndarray | None = np.zeros(0, dtype=np.int64)
        self.sparse = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        self.pending: list = []
        self.pending_size = 0

    def add(self, flat: np.ndarray) -> None:
        """Count a 1-D array of non-negative ids."""
        if flat.size == 0:
            return
        if self.dense is not None and int(flat.max()) < DENSE_IDS:
            c = np.bincount(flat)
            if c.shape[0] > self.dense.shape[0]:
                c[: self.dense.shape[0]] += self.dense
                self.dense = c
            else:
                self.dense[: c.shape[0]] += c
            return
        if self.dense is not None:  # the first huge id: move to pairs
            present = np.flatnonzero(self.dense)
            self.sparse = (present, self.dense[present])
            self.dense = None
        self.pending.append(np.unique(flat, return_counts=True))
        self.pending_size += self.pending[-1][0].shape[0]
        if self.pending_size > max(self.sparse[0].shape[0], 1 << 20):  # merge in amortised O(n log n)
            self._merge()

    def _merge(self) -> None:
        self.sparse = merge_id_counts([self.sparse, *self.pending])
        self.pending, self.pending_size = [], 0

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(sorted ids seen, their counts)."""
        if self.dense is not None:
            present = np.flatnonzero(self.dense)
            return present.astype(np.int64), self.dense[present]
        self._merge()
        return self.sparse


def make_id_remap(ids: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Token id -> vocabulary index: a dense int32 array (-1: not in it) for small ids, else a [2, n]
    int64 array of sorted ids and their indices."""
    ids = np.asarray(ids, dtype=np.int64)
    index = np.asarray(index, dtype=np.int64)
    if ids.size == 0 or int(ids.max()) < max(DENSE_IDS, 4 * ids.size):
        remap = np.full(int(ids.max()) + 1 if ids.size else 0, -1, dtype=np.int32)
        remap[ids] = index
        return remap
    order = np.argsort(ids, kind="stable")
    return np.stack([ids[order], index[order]])


def id_remap_pairs(remap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vocabulary indices) of a remap made by make_id_remap."""
    if remap.ndim == 2:
        return remap[0], remap[1]
    ids = np.flatnonzero(remap >= 0)
    return ids, remap[ids].astype(np.int64)


def id_remap_lookup(remap: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Vocabulary indices (int32, -1 for ids not in the vocabulary) of the ids in `flat`."""
    out = np.full(flat.shape[0], -1, dtype=np.int32)
    if remap.ndim == 1:
        known = flat < remap.shape[0]
        out[known] = remap[flat[known]]
        return out
    keys = remap[0]
    if keys.size:
        pos = np.minimum(np.searchsorted(keys, flat), keys.size - 1)
        hit = keys[pos] == flat
        out[hit] = remap[1][pos[hit]]
    return out


def check_id_remap(remap: np.ndarray, vocab: int) -> np.ndarray:
    """A remap read from a model file, checked (ValueError when damaged)."""
    remap = np.asarray(remap)
    if remap.ndim == 1 and remap.dtype.kind in "iu":
        remap = np.ascontiguousarray(remap, dtype=np.int32)
        ok = remap.size == 0 or (int(remap.min()) >= -1 and int(remap.max()) < vocab)
    elif remap.ndim == 2 and remap.shape[0] == 2 and remap.dtype.kind in "iu":
        remap = np.ascontiguousarray(remap, dtype=np.int64)
        ids, index = remap
        ok = bool(
            (ids.size == 0 or ids.min() >= 0)
            and np.all(np.diff(ids) > 0)
            and (index.size == 0 or (index.min() >= 0 and index.max() < vocab))
        )
    else:
        ok = False
    if not ok:
        raise ValueError("model file is inconsistent: the token-id map does not match the vocabulary")
    return remap


@dataclass
class Scan:
    """What a vocabulary pass found: every word (unordered) with its count."""

    words: list
    counts: np.ndarray  # int64, one per word
    sentences: int
    pruned_below: int = 0  # max_vocab_size pruning dropped words seen fewer times than this
    ids_present: np.ndarray | None = None  # id corpora: the token id of each word, ascending


def check_sentences(sentences: Any) -> None:
    if isinstance(sentences, (str, bytes)):
        raise TypeError("sentences must be an iterable of token lists, not a string (did you mean corpus_file=?)")
    if not hasattr(sentences, "__iter__"):
        raise TypeError(f"sentences must be an iterable of token lists, got {type(sentences).__name__}")
    if iter(sentences) is sentences:
        raise TypeError(
            "sentences is a one-shot iterator; training passes over it several times. "
            "Pass a list, or a re-iterable object (a class with __iter__)"
        )


def check_corpus_file(corpus_file: Any) -> str:
    if not isinstance(corpus_file, (str, os.PathLike)):
        raise TypeError(f"corpus_file must be a path, got {type(corpus_file).__name__}")
    path = os.fspath(corpus_file)
    if not os.path.isfile(path):
        raise ValueError(f"corpus_file {path!r} does not exist or is not a file")
    return path


def first_is_ids(corpus: Any) -> bool:
    """True when the corpus's first sentence is a numpy integer array (a corpus of token ids)."""
    if isinstance(corpus, (str, bytes)) or not hasattr(corpus, "__iter__") or iter(corpus) is corpus:
        return False  # check_sentences explains what is wrong
    for sent in corpus:
        return isinstance(sent, np.ndarray) and sent.dtype.kind in "iu"
    return False


def token_chunks(
    sentences: Iterable[Sequence[str]], key_to_index: dict, chunk_tokens: int = CHUNK_TOKENS
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(vocabulary indices, -1 for unknown words; sentence end offsets) about `chunk_tokens` at a time."""
    get = key_to_index.get
    ids: list[int] = []
    ends: list[int] = []
    for sent in sentences:
        ids.extend(map(get, sent, repeat(-1)))
        ends.append(len(ids))
        if len(ids) >= chunk_tokens:
            yield np.asarray(ids, dtype=np.int32), np.asarray(ends, dtype=np.int64)
            ids, ends = [], []
    if ends:
        yield np.asarray(ids, dtype=np.int32), np.asarray(ends, dtype=np.int64)


class TokenCorpus:
    """A re-iterable of str token lists."""

    path = None

    def __init__(self, sentences: Iterable[Sequence[str]]) -> None:
        check_sentences(sentences)
        self.sentences = sentences

    def scan(self, max_vocab_size: int | None) -> Scan:
        counter: dict[str, int] = {}
        get = counter.get
        n = pruned_below = 0
        min_reduce = 1
        for i, sent in enumerate(self.sentences):
            if isinstance(sent, (str, bytes)) or not hasattr(sent, "__iter__"):
                raise TypeError(f"sentence {i} must be a list of str tokens, got {type(sent).__name__}")
            for w in sent:
                counter[w] = get(w, 0) + 1
            n += 1
            if max_vocab_size is not None and len(counter) > max_vocab_size:
                counter = {w: c for w, c in counter.items() if c > min_reduce}
                get = counter.get
                pruned_below = min_reduce
                min_reduce += 1
        for w in counter:
            if not isinstance(w, str):
                raise TypeError(f"tokens must be str, got {type(w).__name__} ({w!r})")
            break
        counts = np.fromiter(counter.values(), dtype=np.int64, count=len(counter))
        return Scan(list(counter.keys()), counts, n, pruned_below)

    def chunks(self, key_to_index: dict) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(vocabulary indices, -1 for unknown words; sentence end offsets) about CHUNK_TOKENS at a time."""
        return token_chunks(self._checked(), key_to_index)

    def _checked(self) -> Iterator[Any]:
        for i, sent in enumerate(self.sentences):
            if isinstance(sent, (str, bytes)) or not hasattr(sent, "__iter__"):
                raise TypeError(f"sentence {i} must be a list of str tokens, got {type(sent).__name__}")
            if isinstance(sent, np.ndarray) and sent.dtype.kind in "iu":
                raise TypeError(f"sentence {i} is an array of token ids, but the vocabulary was built from str tokens")
            yield sent


class IdCorpus:
    """A re-iterable of 1-D integer numpy arrays of token ids; ``id_to_key[i]`` names id i (default str(i))."""

    path = None

    def __init__(
        self, sentences: Iterable[Any], id_to_key: Sequence[str] | None, remap: np.ndarray | None = None
    ) -> None:
        check_sentences(sentences)
        self.sentences = sentences
        self.id_to_key = id_to_key
        self.remap = remap  # token id -> vocabulary index (-1: not in it), once the vocabulary is built

    def _limit(self) -> int:
        return len(self.id_to_key) if self.id_to_key is not None else 2**31 - 1

    def _checked(self, arrays: list, first: int) -> np.ndarray:
        """Concatenate one chunk of id sentences (numbered from `first`), every id checked."""
        flat = np.concatenate(arrays) if len(arrays) > 1 else arrays[0]
        if flat.size == 0:
            return flat.astype(np.int64)
        limit = self._limit()
        if flat.min() < 0 or flat.max() >= limit:
            for i, a in enumerate(arrays):
                bad = np.flatnonzero((a < 0) | (a >= limit))
                if bad.size:
                    j, v = int(bad[0]), int(a[bad[0]])
                    what = (
                        "is negative"
                        if v < 0
                        else f"is out of range for id_to_key of {limit} keys"
                        if self.id_to_key is not None
                        else "is too large (token ids must be below 2^31)"
                    )
                    raise ValueError(f"sentence {first + i}: token id {v} at position {j} {what}")
        return flat.astype(np.int64, copy=False)

    def _groups(self) -> Iterator[tuple[list, int]]:
        """(list of 1-D integer arrays, number of the first sentence), about CHUNK_TOKENS at a time."""
        buf: list[np.ndarray] = []
        n = first = 0
        for i, sent in enumerate(self.sentences):
            a = sent if isinstance(sent, np.ndarray) else None
            if a is None or a.ndim != 1 or a.dtype.kind not in "iu":
                got = type(sent).__name__ if a is None else f"a {a.ndim}-D {a.dtype} array"
                raise TypeError(
                    f"sentence {i} must be a 1-D integer numpy array of token ids "
                    f"(the corpus was given as ids), got {got}"
                )
            buf.append(a)
            n += a.shape[0]
            if n >= CHUNK_TOKENS:
                yield buf, first
                first, buf, n = i + 1, [], 0
        if buf:
            yield buf, first

    def scan(self, max_vocab_size: int | None) -> Scan:
        counter = IdCounter()
        sentences_seen = 0
        for arrays, first in self._groups():
            counter.add(self._checked(arrays, first))
            sentences_seen = first + len(arrays)
        return self.scan_of_counts(*counter.result(), sentences_seen, max_vocab_size)

    def scan_of_counts(
        self, present: np.ndarray, counts: np.ndarray, sentences: int, max_vocab_size: int | None
    ) -> Scan:
        """The scan given the ids seen (sorted), their counts and the number of sentences."""
        if max_vocab_size is not None and present.size > max_vocab_size:
            # an id corpus needs no pruning while counting (one counter per id): keep the most frequent
            top = np.sort(np.argsort(-counts, kind="stable")[:max_vocab_size])
            present, counts = present[top], counts[top]
        keys = self.id_to_key
        words = [keys[i] for i in present] if keys is not None else [str(i) for i in present]
        return Scan(words, counts, sentences, 0, present)

    def chunks(self, key_to_index: dict | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        remap = self.remap
        for arrays, first in self._groups():
            flat = self._checked(arrays, first)
            ids = id_remap_lookup(remap, flat)
            yield ids, np.cumsum([a.shape[0] for a in arrays], dtype=np.int64)


class FileCorpus:
    """A text file, one sentence per line; the native engine reads it (1 MiB chunks, its own tokenizer)."""

    def __init__(self, corpus_file: Any) -> None:
        self.path = check_corpus_file(corpus_file)

    def scan(self, max_vocab_size: int | None) -> Scan:
        words, counts, _tokens, sentences, pruned_below = native().w2v_count_file(self.path, int(max_vocab_size or 0))
        return Scan(words, np.asarray(counts, dtype=np.int64), sentences, pruned_below)


def scan_corpus(corpus_iterable: Any, corpus_file: Any, id_to_key: Sequence[str] | None):
    """The source build_vocab reads: a file, an id corpus (first sentence an integer array), or token lists."""
    if (corpus_iterable is None) == (corpus_file is None):
        raise ValueError("build_vocab needs exactly one of corpus_iterable or corpus_file")
    if corpus_file is not None:
        return FileCorpus(corpus_file)
    if first_is_ids(corpus_iterable):
        return IdCorpus(corpus_iterable, id_to_key)
    return TokenCorpus(corpus_iterable)


def training_corpus(
    corpus_iterable: Any, corpus_file: Any, id_to_key: Sequence[str] | None, id_remap: np.ndarray | None
):
    """The source train() reads: its kind follows the vocabulary (ids when it was built from ids)."""
    if corpus_file is not None:
        return FileCorpus(corpus_file)
    if id_remap is not None:
        return IdCorpus(corpus_iterable, id_to_key, id_remap)
    return TokenCorpus(corpus_iterable)
