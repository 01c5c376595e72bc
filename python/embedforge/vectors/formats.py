"""Readers and writers for word-vector files: word2vec text/binary, GloVe, fastText .vec, native.

Every reader returns ``(keys, float32 array)`` and raises ``ValueError`` naming the file and the
line (text formats) or byte offset (binary formats) of the first problem. Every writer is atomic:
it writes a temporary file in the target's directory and renames it over the target, so a failed
write leaves whatever was there untouched. Files ending in ``.gz``, ``.bz2`` or ``.xz`` are
(de)compressed transparently by the text and word2vec binary readers and writers; byte offsets in
errors then count uncompressed bytes.

Native format (one file, suggested extension ``.efv``)::

    8 bytes   magic b"\\x93EFVEC1\\n"
    8 bytes   little-endian uint64 H: length of the JSON header
    H bytes   UTF-8 JSON {"format": "embedforge.vectors", "version": 1, "count": N, "dim": D,
              "dtype": "<f4", "keys": [...], optional "attrs": {name: {"dtype", "values"}}}
    padding   zero bytes up to the next multiple of 64
    N*D*4     little-endian float32 vectors, row-major (opened with numpy.memmap)
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import re
import stat
import struct
import zlib
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, Any, Union

import numpy as np

from .. import _atomic

if TYPE_CHECKING:  # pragma: no cover
    from .keyed import KeyedVectors

__all__ = [
    "FORMATS",
    "TruncatedFileError",
    "VectorsDecodeError",
    "atomic_write",
    "guess_format",
    "load",
    "read_native",
    "read_vocab_counts",
    "read_word2vec_binary",
    "read_word2vec_text",
    "save",
    "write_native",
    "write_vocab_counts",
    "write_word2vec",
]

PathLike = Union[str, "os.PathLike[str]"]

#: Format names accepted by :func:`load` and :func:`save`.
FORMATS = ("word2vec", "word2vec-binary", "glove", "fasttext", "native")
#: A Facebook fastText model (``.bin``): read by :func:`load` (and guessed), written by
#: :func:`embedforge.vectors.fasttext_bin.save_facebook_model` from a loaded model only.
FACEBOOK_FORMAT = "fasttext-bin"

NATIVE_MAGIC = b"\x93EFVEC1\n"
_NATIVE_ALIGN = 64
_MAX_WORD_BYTES = 1 << 20
_MAX_LINE_BYTES = 1 << 26  # a text line: a word and its values (64 MiB: millions of dimensions)
_CHUNK = 1 << 20
_FIELD_SEPARATORS = re.compile(r"[ \t]+")
_UNWRITABLE = re.compile(r"[\x00-\x20]")  # ASCII space and controls (every ASCII whitespace among them)
_VOCAB_SEPARATORS = re.compile(r"[\x00-\x20]+")  # a vocabulary line: ASCII whitespace only
_COMPRESSORS: dict[str, Callable[..., Any]] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


class TruncatedFileError(ValueError, EOFError):
    """A vectors file ends before what its header announces: a ValueError, and an EOFError as in gensim."""


class VectorsDecodeError(UnicodeDecodeError):
    """Bytes of a vectors file that ``encoding`` cannot decode with ``unicode_errors="strict"``.

    A :class:`UnicodeDecodeError` as gensim raises (and so a ``ValueError``), with the codec's fields
    (``encoding``, ``object``, ``start``, ``end``, ``reason``: ``object`` is the line or word that
    failed) and a message naming the file and the position; ``filename`` is the file's name.
    """

    def __init__(
        self, message: str, encoding: str, obj: bytes, start: int, end: int, reason: str, filename: str | None = None
    ) -> None:
        super().__init__(encoding, obj, start, end, reason)
        self.message = message
        self.filename = filename

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            type(self),
            (self.message, self.encoding, self.object, self.start, self.end, self.reason, self.filename),
        )


def _decode_error(exc: UnicodeDecodeError, name: str, prefix: str, hint: str = "") -> VectorsDecodeError:
    """A :class:`VectorsDecodeError` for ``exc``; ``prefix`` names the file, the position and what failed."""
    bad = exc.object[exc.start : exc.end]
    return VectorsDecodeError(
        f"{prefix} ({bad!r} at position {exc.start}: {exc.reason}){hint}; pass "
        "unicode_errors='replace' or 'ignore' to load it anyway",
        exc.encoding,
        exc.object,
        exc.start,
        exc.end,
        exc.reason,
        name,
    )


# ---------------------------------------------------------------------------------------- helpers
def _open_read(path: PathLike) -> IO[bytes]:
    """Open a regular file for binary reading, decompressing by extension.

    FIFOs, character devices and the like are refused: opening a FIFO blocks until a writer comes,
    and a device such as /dev/zero never ends.
    """
    name = os.fspath(path)
    mode = os.stat(name).st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"{name}: is a directory, expected a file")
    if not stat.S_ISREG(mode):
        raise ValueError(f"{name}: not a regular file (a FIFO, socket or device); copy it to a file first")
    opener = _COMPRESSORS.get(os.path.splitext(name)[1].lower())
    return _Decompressed(opener(path, "rb"), name) if opener else open(path, "rb")


class _Decompressed:
    """A decompressing stream whose corruption errors become the loaders' own: TruncatedFileError
    (also an EOFError) for a stream that ends early, ValueError naming the file for bad data."""

    def __init__(self, stream: Any, name: str) -> None:
        self._stream, self._name = stream, name

    def _guard(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except EOFError as exc:
            raise TruncatedFileError(f"{self._name}: compressed stream ends early ({exc})") from None
        except (OSError, zlib.error, lzma.LZMAError) as exc:
            raise ValueError(f"{self._name}: corrupt compressed data ({type(exc).__name__}: {exc})") from None

    def read(self, size: int = -1) -> bytes:
        return self._guard(lambda: self._stream.read(size))

    def readline(self, size: int = -1) -> bytes:
        return self._guard(lambda: self._stream.readline(size))

    def __iter__(self) -> Any:
        return iter(self.readline, b"")

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> "_Decompressed":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _lines_bounded(handle: IO[bytes], name: str) -> Any:
    """The lines of ``handle``, each read with a length bound (no unbounded read on a line)."""
    line_no = 0
    while True:
        raw = handle.readline(_MAX_LINE_BYTES + 1)
        if not raw:
            return
        line_no += 1
        if len(raw) > _MAX_LINE_BYTES:
            raise ValueError(f"{name} line {line_no}: line longer than {_MAX_LINE_BYTES} bytes")
        yield raw


def _extension(name: str) -> str:
    """The lower-case extension of ``name``, looking through a compression suffix."""
    stem, ext = os.path.splitext(name)
    if ext.lower() in _COMPRESSORS:
        ext = os.path.splitext(stem)[1]
    return ext.lower()


def atomic_write(path: PathLike, write: Callable[[IO[bytes]], None], compress: bool = True) -> None:
    """Call ``write(file)`` on a temporary file beside ``path`` and rename it over ``path``
    (:func:`embedforge._atomic.atomic_write`), compressed by the target's ``.gz``/``.bz2``/``.xz``
    suffix unless ``compress`` is False.

    If ``write`` raises, the temporary file is removed and ``path`` is left as it was; a process
    killed mid-write leaves its temporary file, which the next save of the same target removes.
    """
    path = os.fspath(path)
    opener = _COMPRESSORS.get(os.path.splitext(path)[1].lower()) if compress else None
    if opener is None:
        _atomic.atomic_write(path, write)
        return

    def compressed(raw: IO[bytes]) -> None:
        with opener(raw, "wb") as stream:
            write(stream)

    _atomic.atomic_write(path, compressed)


def _check_writable_keys(keys: Sequence[str], fmt: str) -> None:
    """Reject keys that a whitespace-delimited format cannot represent.

    These formats separate fields with ASCII spaces and tabs and lines with ``\\n`` (as the original
    word2vec and fastText tools, gensim's readers and ours read them), so a key holding an ASCII space
    or a control character (``\\t``, ``\\n``, ``\\r``, ...) cannot be stored. Other Unicode whitespace
    (U+00A0, U+2003, U+3000, ...) is part of a word for every such reader: it is written as it is
    and reads back identical, as gensim writes it.
    """
    for position, key in enumerate(keys):
        if not key or _UNWRITABLE.search(key):
            raise ValueError(
                f"key {position} ({key!r}) is empty or contains whitespace or a control "
                f"character (ASCII space, tab, newline), which the {fmt} format cannot "
                "store; use the native format (save)"
            )


def _check_array(vectors: Any, n: int) -> np.ndarray:
    """Validate the array passed to a writer."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] != n:
        raise ValueError(f"expected vectors of shape ({n}, dim), got {array.shape}")
    return array


def _check_limit(limit: int | None) -> int | None:
    """Normalise ``limit`` (None or 0 mean no limit, as in gensim)."""
    if limit is None or limit == 0:
        return None
    if not isinstance(limit, (int, np.integer)) or limit < 0:
        raise ValueError(f"limit={limit!r} must be a non-negative integer or None")
    return int(limit)


def _parse_header(text: str) -> tuple[int, int] | None:
    """Parse a ``count dim`` header; None if it is not one."""
    parts = text.split()
    if len(parts) != 2:
        return None
    try:
        count, dim = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    return count, dim


# ---------------------------------------------------------------------------------------- text
def _format_row(key: str, row: np.ndarray, fmt: str) -> str:
    """One text line: the key then its values (``%.9g`` round-trips float32 exactly)."""
    return key + " " + fmt % tuple(row.tolist()) + "\n"


def read_word2vec_text(
    path: PathLike,
    limit: int | None = None,
    encoding: str = "utf8",
    unicode_errors: str = "strict",
    no_header: bool = False,
) -> tuple[list[str], np.ndarray]:
    """Read word2vec/fastText text (``count dim`` header) or, with ``no_header``, GloVe text."""
    name = os.fspath(path)
    limit = _check_limit(limit)
    keys: list[str] = []
    first_line: dict[str, int] = {}
    rows: list[np.ndarray] = []
    count: int | None = None
    dim: int | None = None
    header_like_first = False
    with _open_read(path) as handle:
        line_no = 0
        line_start = 0  # byte offset of the line (uncompressed bytes)
        for raw in _lines_bounded(handle, name):
            line_no += 1
            try:
                line = raw.decode(encoding, unicode_errors)
            except UnicodeDecodeError as exc:
                raise _decode_error(
                    exc,
                    name,
                    f"{name} line {line_no}: cannot decode as {encoding} at byte {line_start + exc.start} of the file",
                ) from None
            line_start += len(raw)
            line = line.rstrip("\r\n").rstrip(" \t")
            if not line.strip():
                continue
            if count is None and dim is None and not no_header:
                header = _parse_header(line)
                if header is None:
                    raise ValueError(
                        f"{name} line {line_no}: bad header {line[:60]!r}: expected 'count dim' "
                        "(for a file without a header, such as GloVe, use no_header=True or "
                        "load_glove)"
                    )
                count, dim = header
                if count < 0 or dim < 1:
                    raise ValueError(f"{name} line {line_no}: bad header {line!r}: count must be >= 0 and dim >= 1")
                if limit is not None:
                    count = min(count, limit)
                continue
            parts = line.split(" ")
            if "" in parts or "\t" in line:  # runs of spaces or tabs: split on any run of them
                parts = _FIELD_SEPARATORS.split(line.strip(" \t"))
            if dim is None:  # no header: the first line fixes the dimension
                dim = len(parts) - 1
                header_like_first = _parse_header(line) is not None
                if dim < 1:
                    raise ValueError(f"{name} line {line_no}: expected a word and its values, found {line[:60]!r}")
            if count is not None and len(keys) == count:
                if limit is not None:
                    break
                raise ValueError(f"{name} line {line_no}: more vectors than the {count} the header announces")
            if len(parts) - 1 != dim:
                hint = ""
                if header_like_first and len(keys) == 1:
                    hint = " (line 1 looks like a word2vec header: use load_word2vec_format)"
                raise ValueError(f"{name} line {line_no}: expected {dim} values, found {len(parts) - 1}{hint}")
            word = parts[0]
            if word in first_line:
                raise ValueError(f"{name} line {line_no}: duplicate word {word!r} (first on line {first_line[word]})")
            try:
                with np.errstate(over="ignore"):
                    row = np.array(parts[1:], dtype=np.float32)
            except ValueError:
                for column, text in enumerate(parts[1:], start=1):
                    try:
                        float(text)
                    except ValueError:
                        raise ValueError(
                            f"{name} line {line_no}: value {column} of {word!r} is not a number: {text[:30]!r}"
                        ) from None
                raise  # pragma: no cover - numpy and float() disagree
            if not np.isfinite(row).all():
                column = int(np.flatnonzero(~np.isfinite(row))[0]) + 1
                raise ValueError(
                    f"{name} line {line_no}: value {column} of {word!r} is not a finite float32: {parts[column]!r}"
                )
            first_line[word] = line_no
            keys.append(word)
            rows.append(row)
            if limit is not None and len(keys) == limit:
                break
    if line_no == 0:
        raise ValueError(f"{name}: file is empty")
    if dim is None:
        raise ValueError(f"{name}: no header and no vectors (file is blank)")
    if count is not None and len(keys) < count:
        raise TruncatedFileError(
            f"{name} line {line_no}: file ends after {len(keys)} of the {count} vectors the header announces"
        )
    array = np.vstack(rows) if rows else np.empty((0, dim), dtype=np.float32)
    return keys, array


def _write_text(stream: IO[bytes], keys: Sequence[str], array: np.ndarray, write_header: bool) -> None:
    """Write word2vec/GloVe text lines."""
    if write_header:
        stream.write(f"{len(keys)} {array.shape[1]}\n".encode("ascii"))
    fmt = " ".join(["%.9g"] * array.shape[1])
    batch: list[str] = []
    for key, row in zip(keys, array):
        batch.append(_format_row(key, row, fmt))
        if len(batch) >= 1024:
            stream.write("".join(batch).encode("utf8"))
            batch.clear()
    stream.write("".join(batch).encode("utf8"))


# ---------------------------------------------------------------------------------------- binary
def read_word2vec_binary(
    path: PathLike, limit: int | None = None, encoding: str = "utf8", unicode_errors: str = "strict"
) -> tuple[list[str], np.ndarray]:
    """Read word2vec binary: ``count dim`` line, then ``word<space>`` + dim little-endian float32."""
    name = os.fspath(path)
    limit = _check_limit(limit)
    with _open_read(path) as handle:
        head = handle.read(1024)
        if not head:
            raise ValueError(f"{name}: file is empty")
        newline = head.find(b"\n")
        from .fasttext_bin import is_facebook_model

        if is_facebook_model(head):
            raise ValueError(
                f"{name} byte 0: this is a fastText model (.bin), not word2vec "
                "binary; load it with load_facebook_vectors (or its .vec file)"
            )
        header = _parse_header(head[:newline].decode("ascii", "replace")) if newline >= 0 else None
        if header is None or header[0] < 0 or header[1] < 1:
            shown = head[: newline if newline >= 0 else 60][:60]
            raise ValueError(f"{name} byte 0: bad header {shown!r}: expected 'count dim' and a newline")
        count, dim = header
        if limit is not None:
            count = min(count, limit)
        vector_bytes = 4 * dim
        buffer = head[newline + 1 :]
        base = newline + 1  # file offset of buffer[0]
        pos = 0
        eof = False
        keys: list[str] = []
        offsets: dict[str, int] = {}
        # The header's count is never trusted for the allocation: every vector needs a word byte,
        # a space and its floats, so a plain file holds at most available // (2 + vector_bytes)
        # of them (a header announcing 10**12 allocates nothing that size; reading then stops at
        # the end of the file with the precise truncation error). Compressed input has no size to
        # check against: the array starts small and grows as vectors arrive.
        if os.path.splitext(name)[1].lower() in _COMPRESSORS:
            capacity = min(count, max(1, (1 << 24) // vector_bytes))
        else:
            capacity = min(count, (os.path.getsize(name) - base) // (2 + vector_bytes) + 1)
        array = np.empty((capacity, dim), dtype=np.float32)
        for row in range(count):
            if row == capacity:
                capacity = min(count, 2 * capacity)
                grown = np.empty((capacity, dim), dtype=np.float32)
                grown[:row] = array
                array = grown
            while True:
                space = buffer.find(b" ", pos, pos + _MAX_WORD_BYTES)
                if space >= 0 and len(buffer) - space - 1 >= vector_bytes:
                    break
                if space < 0 and len(buffer) - pos > _MAX_WORD_BYTES:
                    raise ValueError(
                        f"{name} byte {base + pos}: no word separator within "
                        f"{_MAX_WORD_BYTES} bytes; is this really word2vec binary?"
                    )
                more = b"" if eof else handle.read(_CHUNK)
                if not more:
                    eof = True
                    start = base + pos
                    if space >= 0:
                        word = buffer[pos:space].lstrip(b"\n").decode(encoding, "replace")
                        have = len(buffer) - space - 1
                        raise TruncatedFileError(
                            f"{name} byte {base + space + 1}: file ends inside the "
                            f"vector of {word!r} ({have} of {vector_bytes} bytes)"
                        )
                    rest = buffer[pos:]
                    if rest.strip(b"\n\r\t "):
                        start += len(rest) - len(rest.lstrip(b"\n\r\t "))
                        raise TruncatedFileError(
                            f"{name} byte {start}: file ends inside a word, after "
                            f"{row} of the {count} vectors the header announces"
                        )
                    raise TruncatedFileError(
                        f"{name} byte {base + len(buffer)}: file ends after {row} of "
                        f"the {count} vectors the header announces"
                    )
                buffer = buffer[pos:] + more
                base += pos
                pos = 0
            word_start = pos
            raw_word = buffer[pos:space]
            stripped = raw_word.lstrip(b"\n")
            word_start += len(raw_word) - len(stripped)
            offset = base + word_start
            if not stripped:
                raise ValueError(f"{name} byte {offset}: empty word (is the header's dimension right?)")
            if min(stripped) < 0x20:
                raise ValueError(
                    f"{name} byte {offset}: word {stripped[:40]!r} contains control "
                    "bytes (is the header's count or dimension wrong?)"
                )
            try:
                word = stripped.decode(encoding, unicode_errors)
            except UnicodeDecodeError as exc:
                raise _decode_error(
                    exc,
                    name,
                    f"{name} byte {offset}: word {stripped[:40]!r} cannot be "
                    f"decoded as {encoding} at byte {offset + exc.start}",
                    " (is the header's dimension right?)",
                ) from None
            if word in offsets:
                raise ValueError(f"{name} byte {offset}: duplicate word {word!r} (first at byte {offsets[word]})")
            vector = np.frombuffer(buffer, dtype="<f4", count=dim, offset=space + 1)
            if not np.isfinite(vector).all():
                raise ValueError(f"{name} byte {base + space + 1}: the vector of {word!r} has a non-finite value")
            array[row] = vector
            offsets[word] = offset
            keys.append(word)
            pos = space + 1 + vector_bytes
        if limit is None:
            rest = buffer[pos:]
            while True:
                stray = len(rest) - len(rest.lstrip(b"\n\r\t "))
                if stray < len(rest):
                    raise ValueError(
                        f"{name} byte {base + pos + stray}: unexpected data after "
                        f"the {count} vectors the header announces (is the header's "
                        "count or dimension wrong?)"
                    )
                more = handle.read(_CHUNK)
                if not more:
                    break
                base += pos + len(rest)
                pos = 0
                rest = more
    return keys, array


def _write_binary(stream: IO[bytes], keys: Sequence[str], array: np.ndarray) -> None:
    """Write word2vec binary (one newline after each vector, as the original tool does)."""
    stream.write(f"{len(keys)} {array.shape[1]}\n".encode("ascii"))
    little = array.astype("<f4", copy=False)
    batch: list[bytes] = []
    for key, row in zip(keys, little):
        batch.append(key.encode("utf8") + b" " + row.tobytes() + b"\n")
        if len(batch) >= 1024:
            stream.write(b"".join(batch))
            batch.clear()
    stream.write(b"".join(batch))


def write_word2vec(
    path: PathLike, keys: Sequence[str], vectors: Any, binary: bool = False, write_header: bool = True
) -> None:
    """Write word2vec text/binary (or GloVe text with ``write_header=False``) atomically."""
    keys = list(keys)
    array = _check_array(vectors, len(keys))
    _check_writable_keys(keys, "word2vec binary" if binary else "text")
    if binary:
        if not write_header:
            raise ValueError("the word2vec binary format always has a header")
        atomic_write(path, lambda stream: _write_binary(stream, keys, array))
    else:
        atomic_write(path, lambda stream: _write_text(stream, keys, array, write_header))


# ---------------------------------------------------------------------------------------- vocab counts
def read_vocab_counts(path: PathLike, encoding: str = "utf8", unicode_errors: str = "strict") -> dict[str, int]:
    """Read a word2vec vocabulary file (gensim's ``fvocab``): one ``word count`` line per word."""
    name = os.fspath(path)
    counts: dict[str, int] = {}
    with _open_read(path) as stream:
        for number, raw in enumerate(_lines_bounded(stream, name), start=1):
            try:
                line = raw.decode(encoding, errors=unicode_errors)
            except UnicodeDecodeError as exc:
                raise _decode_error(exc, name, f"{name} line {number}: cannot decode as {encoding}") from None
            # ASCII whitespace only: a word may hold U+00A0 and the like (see _check_writable_keys).
            # gensim's reader splits on any Unicode whitespace and cannot read such a word back.
            fields = [field for field in _VOCAB_SEPARATORS.split(line) if field]
            if not fields:
                continue
            if len(fields) != 2:
                raise ValueError(f"{name} line {number}: expected 'word count', got {line.strip()[:80]!r}")
            try:
                count = int(fields[1])
            except ValueError:
                raise ValueError(
                    f"{name} line {number}: count {fields[1][:40]!r} of {fields[0]!r} is not an integer"
                ) from None
            if count < 0:
                raise ValueError(f"{name} line {number}: count {count} of {fields[0]!r} is negative")
            counts[fields[0]] = count
    return counts


def write_vocab_counts(path: PathLike, keys: Sequence[str], counts: Any) -> None:
    """Write a vocabulary file (``word count`` lines, in the given order) atomically."""
    keys = list(keys)
    values = np.asarray(counts)
    if values.shape != (len(keys),):
        raise ValueError(f"expected {len(keys)} counts, got shape {values.shape}")
    _check_writable_keys(keys, "text")
    lines = "".join(f"{k} {int(c)}\n" for k, c in zip(keys, values.tolist()))
    atomic_write(path, lambda stream: stream.write(lines.encode("utf8")))


# ---------------------------------------------------------------------------------------- native
def write_native(path: PathLike, keys: Sequence[str], vectors: Any, attrs: dict[str, np.ndarray] | None = None) -> None:
    """Write the native single-file format atomically (see the module docstring).

    ``attrs`` maps names to length-N numeric arrays (per-key attributes such as counts).
    """
    keys = list(keys)
    array = _check_array(vectors, len(keys))
    stored = {}
    for attr, values in (attrs or {}).items():
        values = np.asarray(values)
        if values.shape != (len(keys),) or values.dtype.kind not in "biuf":
            raise ValueError(
                f"attribute {attr!r} must be a numeric array of shape ({len(keys)},), got {values.dtype} {values.shape}"
            )
        stored[attr] = {"dtype": values.dtype.str, "values": values.tolist()}
    meta = {
        "format": "embedforge.vectors",
        "version": 1,
        "count": len(keys),
        "dim": int(array.shape[1]),
        "dtype": "<f4",
        "keys": keys,
    }
    if stored:
        meta["attrs"] = stored
    header = json.dumps(meta, ensure_ascii=False, allow_nan=False).encode("utf8")
    prefix = NATIVE_MAGIC + struct.pack("<Q", len(header)) + header
    padding = b"\0" * (-len(prefix) % _NATIVE_ALIGN)

    def write(stream: IO[bytes]) -> None:
        stream.write(prefix + padding)
        little = np.ascontiguousarray(array, dtype="<f4")
        step = max(1, _CHUNK // max(1, 4 * little.shape[1]))
        for start in range(0, little.shape[0], step):
            stream.write(little[start : start + step].tobytes())

    atomic_write(path, write, compress=False)


def read_native(path: PathLike, mmap: str | None = "r") -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
    """Read the native format: ``(keys, vectors, attributes)``; ``mmap`` is numpy's memmap mode
    ('r', 'r+', 'c') or None to read into memory."""
    name = os.fspath(path)
    if mmap not in (None, "r", "r+", "c"):
        raise ValueError(f"mmap={mmap!r} must be None, 'r', 'r+' or 'c'")
    if os.path.isdir(name):
        raise ValueError(f"{name}: is a directory, expected a native vectors file")
    if not stat.S_ISREG(os.stat(name).st_mode):
        raise ValueError(f"{name}: not a regular file (a FIFO, socket or device); copy it to a file first")
    size = os.path.getsize(name)
    with open(name, "rb") as handle:
        start = handle.read(16)
        if not start:
            raise ValueError(f"{name}: file is empty")
        if start[:8] != NATIVE_MAGIC:
            raise ValueError(
                f"{name} byte 0: not an embedforge native vectors file (bad magic "
                f"{start[:8]!r}); use embedforge.vectors.load for other formats"
            )
        if len(start) < 16:
            raise TruncatedFileError(f"{name} byte 8: file ends inside the header length")
        (header_length,) = struct.unpack("<Q", start[8:16])
        if 16 + header_length > size:
            raise TruncatedFileError(
                f"{name} byte 16: header of {header_length} bytes runs past the end of the {size}-byte file"
            )
        raw = handle.read(header_length)
    try:
        header = json.loads(raw.decode("utf8"))
        count, dim, keys = int(header["count"]), int(header["dim"]), header["keys"]
        if header.get("format") != "embedforge.vectors" or header.get("dtype") != "<f4":
            raise ValueError("unknown format or dtype")
        if header.get("version") != 1:
            raise ValueError(f"unsupported version {header.get('version')!r}")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{name} byte 16: bad header: {exc}") from None
    if not isinstance(keys, list) or len(keys) != count or not all(isinstance(k, str) for k in keys):
        raise ValueError(f"{name} byte 16: header has {count} as count but a key list that does not match it")
    attrs: dict[str, np.ndarray] = {}
    try:
        for attr, stored in dict(header.get("attrs", {})).items():
            values = np.array(stored["values"], dtype=np.dtype(stored["dtype"]))
            if values.shape != (count,):
                raise ValueError(f"attribute {attr!r} has {values.size} values for {count} keys")
            attrs[attr] = values
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{name} byte 16: bad attributes in the header: {exc}") from None
    if len(set(keys)) != len(keys):
        seen: set[str] = set()
        duplicate = next(k for k in keys if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise ValueError(f"{name} byte 16: duplicate key {duplicate!r} in the header")
    if dim < 1 or count < 0:
        raise ValueError(f"{name} byte 16: bad shape ({count}, {dim}) in the header")
    offset = 16 + header_length
    offset += -offset % _NATIVE_ALIGN
    expected = offset + 4 * count * dim
    if size != expected:
        problem = "truncated" if size < expected else "has extra bytes"
        error = TruncatedFileError if size < expected else ValueError
        raise error(
            f"{name} byte {min(size, expected)}: file {problem}: {count} x {dim} "
            f"float32 vectors at byte {offset} need {expected} bytes, file has {size}"
        )
    if count == 0:
        return keys, np.empty((0, dim), dtype=np.float32), attrs
    if mmap is None:
        array = np.fromfile(name, dtype="<f4", count=count * dim, offset=offset)
        array = array.reshape(count, dim).astype(np.float32, copy=False)
    else:
        array = np.memmap(name, dtype="<f4", mode=mmap, offset=offset, shape=(count, dim))
    # Mapped files too (one streaming pass, in chunks): a NaN would otherwise surface later as nan
    # scores in every query, or as a file the other loaders refuse.
    step = max(1, _CHUNK // max(1, 4 * dim))
    for start in range(0, count, step):
        block = np.asarray(array[start : start + step])
        if not np.isfinite(block).all():
            row = start + int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
            raise ValueError(
                f"{name} byte {offset + 4 * row * dim}: the vector of {keys[row]!r} has a non-finite value"
            )
    return keys, array, attrs


# ---------------------------------------------------------------------------------------- dispatch
def guess_format(path: PathLike) -> str:
    """Guess a file's format from its content (and extension for ambiguous cases)."""
    name = os.fspath(path)
    if os.path.isdir(name):
        raise ValueError(f"{name}: is a directory, not a vectors file")
    with _open_read(name) as handle:
        head = handle.read(1 << 16)
    if not head:
        raise ValueError(f"{name}: file is empty")
    if head.startswith(NATIVE_MAGIC):
        return "native"
    from .fasttext_bin import is_facebook_model

    if is_facebook_model(head):  # the magic number, or the old format's plausible parameters
        return FACEBOOK_FORMAT
    newline = head.find(b"\n")
    first = head[: newline if newline >= 0 else len(head)]
    header = _parse_header(first.decode("ascii", "replace"))
    if header is None:
        return "glove"
    # word2vec text or binary: text has a first vector line of a word and `dim` numbers
    body = head[newline + 1 :] if newline >= 0 else b""
    if not body.strip():
        return "word2vec-binary" if _extension(name) == ".bin" else "word2vec"
    end = body.find(b"\n")
    line = body if end < 0 else body[:end]
    try:
        fields = _FIELD_SEPARATORS.split(line.decode("utf8").strip(" \t\r"))
    except UnicodeDecodeError:
        return "word2vec-binary"
    values = fields[1:] if end >= 0 else fields[1:-1]  # the last field may be cut off
    if end >= 0 and len(values) != header[1]:
        return "word2vec-binary"
    try:
        [float(value) for value in values]
    except ValueError:
        return "word2vec-binary"
    return "word2vec"


def load(path: PathLike, format: str | None = None, **kwargs: Any) -> KeyedVectors:
    """Load vectors in any supported format, guessing it from the content when ``format`` is None.

    ``format`` is one of :data:`FORMATS`; extra keyword arguments go to the reader (``limit``,
    ``encoding``, ``unicode_errors`` for text/binary; ``mmap`` for native).
    """
    from .keyed import KeyedVectors

    fmt = guess_format(path) if format is None else format
    if fmt == FACEBOOK_FORMAT:
        from .fasttext_bin import load_facebook_vectors

        return load_facebook_vectors(path, **kwargs)
    if fmt in ("word2vec", "fasttext"):
        return KeyedVectors.load_word2vec_format(path, binary=False, **kwargs)
    if fmt == "word2vec-binary":
        return KeyedVectors.load_word2vec_format(path, binary=True, **kwargs)
    if fmt == "glove":
        return KeyedVectors.load_glove(path, **kwargs)
    if fmt == "native":
        return KeyedVectors.load(path, **kwargs)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)} or {FACEBOOK_FORMAT}")


def save(vectors: KeyedVectors, path: PathLike, format: str = "native") -> None:
    """Save ``vectors`` in the named format (one of :data:`FORMATS`), atomically."""
    if format in ("word2vec", "fasttext"):
        vectors.save_word2vec_format(path, binary=False)
    elif format == "word2vec-binary":
        vectors.save_word2vec_format(path, binary=True)
    elif format == "glove":
        vectors.save_glove(path)
    elif format == "native":
        vectors.save(path)
    else:
        raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
