"""Facebook fastText ``.bin`` models: the form most pretrained fastText vectors ship in.

``load_facebook_vectors(path)`` returns :class:`FacebookKeyedVectors`: the words' vectors as
fastText computes them (the mean of the word's row and its character n-gram rows) and vectors for
out-of-vocabulary words from their n-grams, as ``fasttext``'s ``get_word_vector`` and gensim's
``load_facebook_vectors`` give them. ``load_facebook_model(path)`` also returns the training
parameters, the vocabulary counts and the output matrix (:class:`FacebookModel`; it is not
trainable here). ``save_facebook_model`` writes the current (version 12) format.

File layout (fastText's ``FastText::saveModel``; native byte order, little-endian on every platform
fastText ships for)::

    int32 magic 793712314, int32 version (12)          absent in the old format (before 2017), whose
                                                       file starts directly with dim and ws
    int32 dim, ws, epoch, minCount, neg, wordNgrams, loss, model, bucket, minn, maxn, lrUpdateRate
    float64 t (sampling threshold)
    int32 size, nwords, nlabels; int64 ntokens; int64 pruneidx_size (new format only)
    size x (NUL-terminated word, int64 count, int8 type: 0 word, 1 label)
    pruneidx_size x (int32, int32)                     (new format only)
    uint8 quantized (new format only); int64 rows, int64 cols; rows x cols float32   input matrix
    uint8 quantized (new format only); int64 rows, int64 cols; rows x cols float32   output matrix

The input matrix holds ``nwords`` word rows and then ``bucket`` n-gram rows; an n-gram's row is
``nwords + fnv1a(ngram bytes) % bucket`` with fastText's hash, which xors each byte as a *signed*
char (so non-ASCII bytes hash as gensim and fastText hash them).

Every count and size read from the file is checked against the file's size before anything is
allocated; a file that ends early raises :class:`~embedforge.vectors.formats.TruncatedFileError`
(a ``ValueError`` and an ``EOFError``), any other damage a ``ValueError`` naming the file and the
byte offset. Quantized models (``.ftz``) and supervised models (labels) raise NotImplementedError,
as in gensim.

Where we follow fastText rather than gensim: the end-of-sentence word ``</s>`` has no n-grams in
fastText (its vector is its own row); gensim adds n-grams of ``"<</s>>"`` to it. Only that word's
vector differs.
"""

from __future__ import annotations

import logging
import mmap
import os
import struct
from typing import Any

import numpy as np

from .formats import (
    _COMPRESSORS,
    _MAX_WORD_BYTES,
    PathLike,
    TruncatedFileError,
    _decode_error,
    _open_read,
    atomic_write,
)
from .keyed import KeyedVectors

__all__ = [
    "FacebookKeyedVectors",
    "FacebookModel",
    "compute_ngrams_bytes",
    "ft_hash_bytes",
    "is_facebook_model",
    "load_facebook_model",
    "load_facebook_vectors",
    "save_facebook_model",
]

logger = logging.getLogger(__name__)

MAGIC = 793712314
VERSION = 12
EOS = "</s>"
_ARG_NAMES = (
    "dim",
    "ws",
    "epoch",
    "min_count",
    "neg",
    "word_ngrams",
    "loss",
    "model",
    "bucket",
    "minn",
    "maxn",
    "lr_update_rate",
)
_LOSSES = {1: "hs", 2: "ns", 3: "softmax", 4: "ova"}
_MODELS = {1: "cbow", 2: "skipgram", 3: "supervised"}
_MAX_DIM = 1 << 20
_MAX_INT32 = (1 << 31) - 1
_FNV_OFFSET = np.uint32(2166136261)
_FNV_PRIME = np.uint32(16777619)


# ---------------------------------------------------------------------------------------- n-grams
def ft_hash_bytes(data: bytes) -> int:
    """fastText's FNV-1a hash of ``data`` (each byte xored as a signed char, as fastText does)."""
    h = 2166136261
    for byte in data:
        h ^= (byte | 0xFFFFFF00) if byte >= 0x80 else byte
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def compute_ngrams_bytes(word: str, min_n: int, max_n: int) -> list[bytes]:
    """The character n-grams fastText takes from ``"<" + word + ">"`` (UTF-8 bytes, in its order).

    n counts characters, not bytes; the single characters ``<`` and ``>`` are not n-grams.
    """
    data = ("<" + word + ">").encode("utf8")
    out = []
    size = len(data)
    for i in range(size):
        if data[i] & 0xC0 == 0x80:
            continue
        j, n = i, 1
        while j < size and n <= max_n:
            j += 1
            while j < size and data[j] & 0xC0 == 0x80:
                j += 1
            if n >= min_n and not (n == 1 and (i == 0 or j == size)):
                out.append(data[i:j])
            n += 1
    return out


def _ngram_buckets(words: list[str], min_n: int, max_n: int, bucket: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR n-gram buckets of many words at once: ``(offsets [len(words)+1], buckets)``.

    Vectorised over every (word, start character) pair: each step appends one character to every
    n-gram still inside its word, so the cost is numpy work per step, not Python work per n-gram.
    """
    count = len(words)
    if count == 0 or bucket <= 0 or max_n < min_n or max_n < 1:
        return np.zeros(count + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    encoded = [("<" + w + ">").encode("utf8") for w in words]
    lengths = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=count)
    ends = np.cumsum(lengths)
    begins = ends - lengths
    buf = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    signed = np.where(buf >= 0x80, buf.astype(np.uint32) | np.uint32(0xFFFFFF00), buf.astype(np.uint32))
    continuation = (buf & 0xC0) == 0x80
    starts = np.flatnonzero(~continuation)
    owner = np.searchsorted(ends, starts, side="right")  # word of each start
    word_end = ends[owner]
    at_begin = starts == begins[owner]
    pos = starts.copy()
    h = np.full(starts.shape, _FNV_OFFSET, dtype=np.uint32)
    active = np.ones(starts.shape, dtype=bool)
    pieces_key, pieces_owner, pieces_bucket = [], [], []
    order = np.arange(starts.shape[0], dtype=np.int64) * (max_n + 1)
    padded_cont = np.append(continuation, False)
    for n in range(1, max_n + 1):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        p = pos[idx]
        hh = h[idx]
        hh = (hh ^ signed[p]) * _FNV_PRIME  # the lead byte
        p = p + 1
        for _ in range(3):  # up to three continuation bytes of a UTF-8 character
            more = (p < word_end[idx]) & padded_cont[np.minimum(p, buf.shape[0])]
            if not more.any():
                break
            q = p[more]
            hh[more] = (hh[more] ^ signed[q]) * _FNV_PRIME
            p[more] = q + 1
        h[idx] = hh
        pos[idx] = p
        if n >= min_n:
            emit = ~((n == 1) & (at_begin[idx] | (p == word_end[idx])))
            chosen = idx[emit]
            pieces_key.append(order[chosen] + n)
            pieces_owner.append(owner[chosen])
            pieces_bucket.append(hh[emit].astype(np.int64) % bucket)
        active[idx] = p < word_end[idx]
    if not pieces_key:
        return np.zeros(count + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    keys = np.concatenate(pieces_key)
    sort = np.argsort(keys, kind="stable")  # fastText's order: by start, then by length
    owners = np.concatenate(pieces_owner)[sort]
    buckets = np.concatenate(pieces_bucket)[sort]
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.bincount(owners, minlength=count), out=offsets[1:])
    return offsets, buckets


# ---------------------------------------------------------------------------------------- vectors
class FacebookKeyedVectors(KeyedVectors):
    """Vectors of a fastText model: vocabulary words, and any other word from its character n-grams.

    ``vectors_vocab`` are the words' own rows, ``vectors_ngrams`` the ``bucket`` n-gram rows;
    ``vectors`` (what ``kv[word]`` gives for a vocabulary word) is the mean of a word's row and its
    n-gram rows. As gensim: ``word in kv`` is True for every word when the model has n-gram buckets;
    without buckets an out-of-vocabulary word raises KeyError, and a word too short to have an
    n-gram of length ``min_n..max_n`` gets the zero vector (with a warning), as fastText gives it.
    """

    def __init__(
        self,
        keys: list[str],
        vectors_vocab: np.ndarray,
        vectors_ngrams: np.ndarray,
        min_n: int,
        max_n: int,
        bucket: int,
    ) -> None:
        self.min_n, self.max_n, self.bucket = int(min_n), int(max_n), int(bucket)
        self.vectors_vocab = vectors_vocab
        self.vectors_ngrams = vectors_ngrams
        super().__init__(keys, self._word_vectors(keys))

    def _has_ngrams(self) -> bool:
        return self.bucket > 0  # as gensim: a model with buckets answers for every word

    def _word_vectors(self, keys: list[str]) -> np.ndarray:
        out = self.vectors_vocab.astype(np.float32, copy=True)
        if not (self._has_ngrams() and keys):
            return out
        step = 4096  # words per block: the gathered n-gram rows of a block stay small
        for first in range(0, len(keys), step):
            block = keys[first : first + step]
            offsets, buckets = _ngram_buckets(block, self.min_n, self.max_n, self.bucket)
            counts = np.diff(offsets)
            sums = self.vectors_vocab[first : first + len(block)].astype(np.float64)
            has = np.flatnonzero(counts > 0)
            if has.size:
                gathered = self.vectors_ngrams[buckets].astype(np.float64)
                sums[has] += np.add.reduceat(gathered, offsets[has], axis=0)
            for i, key in enumerate(block):
                if key == EOS and counts[i]:  # fastText gives the end-of-sentence word no n-grams
                    sums[i] = self.vectors_vocab[first + i]
                    counts[i] = 0
            out[first : first + len(block)] = sums / (counts + 1)[:, None]
        return out

    def __contains__(self, key: object) -> bool:
        return True if self._has_ngrams() and isinstance(key, str) else self.has_index_for(key)

    def get_vector(self, key: str | int, norm: bool = False) -> np.ndarray:
        if not isinstance(key, str) or key in self.key_to_index:
            return super().get_vector(key, norm=norm)
        if not self._has_ngrams():
            raise KeyError(
                f"cannot compute a vector for the out-of-vocabulary word {key!r}: the model has no "
                f"character n-gram buckets (bucket={self.bucket})"
            )
        _, buckets = _ngram_buckets([key], self.min_n, self.max_n, self.bucket)
        if buckets.size == 0:  # as fastText and gensim: the zero vector, with a warning
            logger.warning(
                "%r has no character n-grams of length %d..%d: its vector is zero", key, self.min_n, self.max_n
            )
            return np.zeros(self.vector_size, dtype=np.float32)
        vector = self.vectors_ngrams[buckets].astype(np.float64).mean(axis=0).astype(np.float32)
        if norm:
            length = float(np.linalg.norm(vector))
            return vector / length if length > 0 else vector
        return vector

    def __getitem__(self, key_or_keys: Any) -> np.ndarray:
        if isinstance(key_or_keys, str):
            return self.get_vector(key_or_keys)
        if isinstance(key_or_keys, (list, tuple)):
            if not key_or_keys:
                return np.empty((0, self.vector_size), dtype=np.float32)
            return np.stack([self.get_vector(k) for k in key_or_keys])
        return super().__getitem__(key_or_keys)


class FacebookModel:
    """A loaded fastText model: its parameters, vocabulary, ``wv`` and output matrix (not trainable here)."""

    def __init__(
        self,
        args: dict[str, Any],
        wv: FacebookKeyedVectors,
        counts: np.ndarray,
        ntokens: int,
        output: np.ndarray | None,
        version: int,
    ) -> None:
        self.args = dict(args)
        self.wv = wv
        self.counts = counts
        self.corpus_total_words = int(ntokens)
        self.output_vectors = output
        self.file_version = version
        self.vector_size = int(args["dim"])
        self.window = int(args["ws"])
        self.epochs = int(args["epoch"])
        self.min_count = int(args["min_count"])
        self.negative = int(args["neg"])
        self.word_ngrams = int(args["word_ngrams"])
        self.loss = _LOSSES.get(args["loss"], str(args["loss"]))
        self.hs = int(self.loss == "hs")
        self.sg = int(args["model"] == 2)
        self.bucket, self.min_n, self.max_n = int(args["bucket"]), int(args["minn"]), int(args["maxn"])
        self.lr_update_rate = int(args["lr_update_rate"])
        self.sample = float(args["t"])

    def train(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(
            "FacebookModel.train: training a loaded fastText .bin model further is not "
            "supported; train an embedforge FastText, or use its vectors (model.wv)"
        )

    def __repr__(self) -> str:
        return (
            f"FacebookModel(words={len(self.wv)}, dim={self.vector_size}, {_MODELS.get(self.args['model'])}, "
            f"loss={self.loss}, minn={self.min_n}, maxn={self.max_n}, bucket={self.bucket})"
        )


# ---------------------------------------------------------------------------------------- reading
class _Reader:
    """Bounds-checked reads from a buffer, naming the file and the byte offset in every error."""

    def __init__(self, data: Any, name: str) -> None:
        self.data, self.name, self.pos, self.size = data, name, 0, len(data)

    def left(self) -> int:
        return self.size - self.pos

    def need(self, nbytes: int, what: str) -> None:
        if nbytes > self.left():
            raise TruncatedFileError(
                f"{self.name} byte {self.pos}: fastText model file ends inside {what} "
                f"({self.left()} of {nbytes} bytes left)"
            )

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        size = struct.calcsize(fmt)
        self.need(size, what)
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def fail(self, message: str, at: int | None = None) -> ValueError:
        return ValueError(f"{self.name} byte {self.pos if at is None else at}: {message}")


def _plausible_args(args: dict[str, Any]) -> bool:
    """Whether header fields look like fastText's (to tell an old-format file from other data)."""
    return (
        1 <= args["dim"] <= _MAX_DIM
        and 1 <= args["ws"] <= 1 << 16
        and 1 <= args["epoch"] <= 1 << 20
        and args["min_count"] >= 0
        and 0 <= args["neg"] <= 1 << 16
        and 1 <= args["word_ngrams"] <= 1 << 10
        and args["loss"] in _LOSSES
        and args["model"] in _MODELS
        and args["bucket"] >= 0
        and 0 <= args["minn"] <= 1 << 10
        and 0 <= args["maxn"] <= 1 << 10
        and args["lr_update_rate"] >= 0
        and np.isfinite(args["t"])
        and 0.0 <= args["t"] <= 1.0
    )


def _read_header(reader: _Reader) -> tuple[int, dict[str, Any]]:
    """(version, args); version 0 means the old format (no magic)."""
    first, second = reader.unpack("<2i", "the header")
    if first == MAGIC:
        version = second
        if not 1 <= version <= VERSION:
            raise reader.fail(f"fastText file version {version} is not supported (1..{VERSION})", 4)
        values = reader.unpack("<12i", "the model parameters")
    else:
        version = 0
        values = (first, second) + reader.unpack("<10i", "the model parameters")
    (t,) = reader.unpack("<d", "the model parameters")
    args = dict(zip(_ARG_NAMES, values, strict=True))
    args["t"] = t
    if not _plausible_args(args):
        shown = {k: args[k] for k in ("dim", "ws", "epoch", "loss", "model", "bucket", "minn", "maxn")}
        raise ValueError(
            f"{reader.name} byte 0: not a fastText model: "
            + ("magic and version are right but " if version else "no fastText magic number and ")
            + f"the parameters are not fastText's: {shown}"
        )
    return version, args


def _read_dictionary(
    reader: _Reader, version: int, encoding: str, unicode_errors: str
) -> tuple[list[str], np.ndarray, int, int]:
    start = reader.pos
    size, nwords, nlabels = reader.unpack("<3i", "the dictionary header")
    (ntokens,) = reader.unpack("<q", "the dictionary header")
    if size < 0 or nwords < 0 or nlabels < 0 or size != nwords + nlabels:
        raise reader.fail(
            f"bad dictionary header: size={size}, nwords={nwords}, nlabels={nlabels} (size must be "
            "nwords + nlabels, all >= 0)",
            start,
        )
    if nlabels > 0:
        raise NotImplementedError(
            f"{reader.name}: supervised fastText models (with {nlabels} labels) are not supported, as in gensim"
        )
    if ntokens < 0:
        raise reader.fail(f"bad dictionary header: ntokens={ntokens} is negative", start + 12)
    prune = -1
    if version:
        (prune,) = reader.unpack("<q", "the dictionary header")
        if prune < -1:
            raise reader.fail(f"bad dictionary header: pruneidx_size={prune}", reader.pos - 8)
    # every entry takes at least 10 bytes (a NUL, an int64 count, an int8 type): checked before
    # anything sized by the header's count is allocated
    reader.need(10 * size, f"the dictionary of {size} words")
    data, name = reader.data, reader.name
    keys: list[str] = []
    counts = np.empty(size, dtype=np.int64)
    seen: dict[str, int] = {}
    for i in range(size):
        at = reader.pos
        end = data.find(b"\0", at, min(reader.size, at + _MAX_WORD_BYTES + 1))
        if end < 0:
            if reader.size - at <= _MAX_WORD_BYTES:
                raise TruncatedFileError(f"{name} byte {at}: file ends inside word {i} of {size}")
            raise reader.fail(f"word {i} has no terminating NUL within {_MAX_WORD_BYTES} bytes")
        raw = bytes(data[at:end])
        reader.pos = end + 1
        count, kind = reader.unpack("<qb", f"the count of word {i}")
        if not raw:
            raise reader.fail(f"word {i} is empty", at)
        if kind != 0 or count < 0:
            raise reader.fail(
                f"word {i} ({raw[:40]!r}): bad entry (count {count}, type {kind}; expected a word with a count >= 0)",
                end + 1,
            )
        try:
            word = raw.decode(encoding, unicode_errors)
        except UnicodeDecodeError as exc:
            raise _decode_error(
                exc,
                name,
                f"{name} byte {at}: word {raw[:40]!r} cannot be decoded as {encoding} at byte {at + exc.start}",
            ) from None
        if word in seen:
            raise reader.fail(f"duplicate word {word!r} (first is word {seen[word]})", at)
        seen[word] = i
        keys.append(word)
        counts[i] = count
    if prune > 0:
        reader.need(8 * prune, "the pruned-index table")
        reader.pos += 8 * prune
    return keys, counts, nwords, ntokens


def _read_matrix(reader: _Reader, version: int, rows: int | None, dim: int, what: str) -> np.ndarray:
    if version:
        (quantized,) = reader.unpack("<B", f"the {what} matrix header")
        if quantized:
            raise NotImplementedError(
                f"{reader.name}: quantized fastText models (.ftz) are not supported, as in "
                "gensim; load the full .bin model"
            )
    at = reader.pos
    m, n = reader.unpack("<2q", f"the {what} matrix header")
    if n != dim or m < 0 or (rows is not None and m != rows):
        expected = f"{rows} x {dim}" if rows is not None else f"rows x {dim}"
        raise reader.fail(f"the {what} matrix is {m} x {n}, expected {expected}", at)
    nbytes = m * n * 4
    reader.need(nbytes, f"the {m} x {n} {what} matrix")
    matrix = np.frombuffer(reader.data, dtype="<f4", count=m * n, offset=reader.pos).reshape(m, n)
    matrix = matrix.astype(np.float32, copy=True)
    if not np.isfinite(matrix).all():
        row, col = np.argwhere(~np.isfinite(matrix))[0]
        raise reader.fail(
            f"the {what} matrix has a non-finite value at [{row}, {col}]", reader.pos + 4 * (int(row) * n + int(col))
        )
    reader.pos += nbytes
    return matrix


def _load(path: PathLike, encoding: str, unicode_errors: str, full: bool) -> FacebookModel:
    name = os.fspath(path)
    with _open_read(path) as handle:
        if os.path.splitext(name)[1].lower() in _COMPRESSORS:
            return _parse(handle.read(), name, encoding, unicode_errors, full)
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            raise ValueError(f"{name}: file is empty")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _parse(data, name, encoding, unicode_errors, full)


def _parse(data: Any, name: str, encoding: str, unicode_errors: str, full: bool) -> FacebookModel:
    reader = _Reader(data, name)
    if reader.size == 0:
        raise ValueError(f"{name}: file is empty")
    version, args = _read_header(reader)
    keys, counts, nwords, ntokens = _read_dictionary(reader, version, encoding, unicode_errors)
    dim, bucket = args["dim"], args["bucket"]
    matrix = _read_matrix(reader, version, nwords + bucket, dim, "input")
    output = None
    if full:
        output = _read_matrix(reader, version, None, dim, "output")
        if reader.left():
            raise reader.fail(f"{reader.left()} bytes of unexpected data after the output matrix")
    wv = FacebookKeyedVectors(keys, matrix[:nwords], matrix[nwords:], args["minn"], args["maxn"], bucket)
    wv.expandos["count"] = counts.copy()
    return FacebookModel(args, wv, counts, ntokens, output, version)


def load_facebook_vectors(
    path: PathLike, encoding: str = "utf-8", unicode_errors: str = "strict"
) -> FacebookKeyedVectors:
    """Word vectors (with out-of-vocabulary vectors from n-grams) of a Facebook fastText ``.bin`` model.

    Reads both the current format and the old one (before the magic number, 2017). gensim's
    ``load_facebook_vectors(path, encoding)`` replaces undecodable words with backslash escapes;
    we raise :class:`~embedforge.vectors.formats.VectorsDecodeError` unless
    ``unicode_errors="backslashreplace"`` (or ``"replace"``/``"ignore"``) is passed.
    """
    return _load(path, encoding, unicode_errors, full=False).wv


def load_facebook_model(path: PathLike, encoding: str = "utf-8", unicode_errors: str = "strict") -> FacebookModel:
    """The whole fastText ``.bin`` model: parameters, vocabulary counts, ``wv`` and the output matrix."""
    return _load(path, encoding, unicode_errors, full=True)


def is_facebook_model(head: bytes) -> bool:
    """Whether a file's first bytes are a fastText model's: its magic number, or (the old format,
    without one) parameters and a dictionary header that fastText could have written. Text never
    passes: the old format's first int32 is the dimension, so its bytes hold NULs."""
    if len(head) >= 4 and struct.unpack_from("<i", head)[0] == MAGIC:
        return True
    reader = _Reader(head, "<head>")
    try:
        _read_header(reader)
        size, nwords, nlabels = reader.unpack("<3i", "the dictionary header")
        (ntokens,) = reader.unpack("<q", "the dictionary header")
    except (ValueError, EOFError):
        return False
    return 0 <= nwords and 0 <= nlabels and size == nwords + nlabels and ntokens >= 0


# ---------------------------------------------------------------------------------------- writing
def save_facebook_model(model: FacebookModel, path: PathLike) -> None:
    """Write ``model`` (as :func:`load_facebook_model` returns it) in fastText's current format, atomically."""
    if not isinstance(model, FacebookModel):
        raise TypeError(
            f"save_facebook_model takes a FacebookModel (from load_facebook_model), got {type(model).__name__}"
        )
    wv = model.wv
    args = model.args
    keys = list(wv.index_to_key)
    for i, key in enumerate(keys):
        if not key or "\0" in key:
            raise ValueError(f"word {i} ({key!r}) is empty or holds a NUL, which fastText's format cannot store")
    output = model.output_vectors
    if output is None:
        raise ValueError("the model has no output matrix (load it with load_facebook_model)")
    values = [int(args[n]) for n in _ARG_NAMES]
    if any(not -_MAX_INT32 - 1 <= v <= _MAX_INT32 for v in values) or len(keys) > _MAX_INT32:
        raise ValueError("a model parameter or the vocabulary size does not fit fastText's int32 fields")
    vocab_matrix = np.asarray(wv.vectors_vocab, dtype="<f4")
    ngrams = np.asarray(wv.vectors_ngrams, dtype="<f4")
    output = np.asarray(output, dtype="<f4")
    dim = int(args["dim"])
    if vocab_matrix.shape != (len(keys), dim) or ngrams.shape != (int(args["bucket"]), dim) or output.shape[1] != dim:
        raise ValueError("the model's matrices do not match its parameters (dim, bucket, vocabulary)")
    counts = np.asarray(model.counts, dtype=np.int64)
    if counts.shape != (len(keys),) or (counts < 0).any():
        raise ValueError(f"the model needs one count >= 0 per word ({len(keys)}), got shape {counts.shape}")
    entries = b"".join(
        k.encode("utf8") + b"\0" + struct.pack("<qb", int(c), 0) for k, c in zip(keys, counts.tolist(), strict=True)
    )

    def write(stream: Any) -> None:
        stream.write(struct.pack("<2i", MAGIC, VERSION))
        stream.write(struct.pack("<12i", *values))
        stream.write(struct.pack("<d", float(args["t"])))
        stream.write(struct.pack("<3iqq", len(keys), len(keys), 0, int(model.corpus_total_words), -1))
        stream.write(entries)
        stream.write(struct.pack("<Bqq", 0, len(keys) + ngrams.shape[0], dim))
        stream.write(vocab_matrix.tobytes())
        stream.write(ngrams.tobytes())
        stream.write(struct.pack("<Bqq", 0, output.shape[0], dim))
        stream.write(output.tobytes())

    atomic_write(path, write, compress=False)
