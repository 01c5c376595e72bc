"""Data-parallel Word2Vec and FastText on torch.distributed (gloo); imported only for ``distributed=True``.

Run under ``torchrun`` (the process group is made from its environment when none exists) or
``embedforge.distributed.spawn``. W ranks, rank r.

Vocabulary: every rank counts its part of the corpus — a ``corpus_file`` by byte range (rank r
starts at the first line that begins at or after byte ``size * r / W``; no rank reads the whole
file), an iterable by sentence index (the sentences i with ``i % W == r``) — and the counts are
all-gathered and merged, so every rank holds the vocabulary one process would build: the same
words, counts and order (ties broken by first occurrence, as one process does). ``max_vocab_size``
is supported for token-id corpora (it keeps the most frequent ids, which merged counts reproduce);
for words and files one process prunes while it reads, which depends on the reading order, so
distributed mode raises NotImplementedError there.

Training: each rank reads its part once into token-id arrays (4 bytes a token), then trains it
with its own ``workers`` threads. Every epoch is cut into the same number of segments on every
rank (each at most ``sync_words`` words of the rank's part); after each segment the tables are
merged with all_reduce — so also at each epoch's end: every rank gets the tables of the last merge
plus the sum of all ranks' updates since (the all_reduce sum minus W - 1 times the last merged
tables, kept in a copy). A plain average would divide every rank's updates by W, as a W times
smaller learning rate: on bench/make_corpus.sh's corpus (1 epoch, 2 ranks) WordSim-353 rho fell
from 0.24 to 0.14 with it, against 0.24 with the sum. The learning rate follows the global word
count: each segment starts at the words all ranks have trained (``words_before``), and within the
segment a rank's word counts W times (the schedule runs over ``total * epochs / W`` words).

Faults: after each step (parameter check, vocabulary scan, reading the part, each segment, the
callbacks) the ranks all-gather a status; a rank that raised makes every rank raise
``RankFailedError`` naming it and its error (the failing rank's is chained to the original). A
rank that dies or hangs is caught by the process group's timeout (``comm.guarded``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from itertools import islice
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from ..distributed import comm
from ..distributed.comm import RankFailedError
from .corpus import CHUNK_TOKENS, FileCorpus, IdCorpus, IdCounter, Scan, id_remap_lookup, merge_id_counts, token_chunks
from .params import native
from .training import run_epochs

__all__ = ["scan", "train", "rank", "RankFailedError"]

_READ_BLOCK = 1 << 23  # bytes of a corpus file read at a time


def rank() -> int:
    """This process's rank (0 outside a process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def _group():
    """The group the tables are averaged over: the default one when it is gloo, else a gloo group."""
    if not dist.is_initialized():
        comm.init_process_group("gloo", timeout=comm.default_timeout())  # torchrun's environment
    if dist.get_backend() == "gloo":
        return None
    return dist.new_group(backend="gloo")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:500] if text else ''}"


def _status(group, what: str, err: BaseException | None, extra: Any = None) -> list:
    """All-gathers (error or None, extra); raises RankFailedError on every rank if any rank failed."""
    world = dist.get_world_size(group)
    out: list = [None] * world
    msg = None if err is None else _describe(err)
    comm.guarded(f"all_gather_object ({what})", lambda: dist.all_gather_object(out, (msg, extra), group=group))
    bad = [(r, m) for r, (m, _) in enumerate(out) if m is not None]
    if bad:
        text = "; ".join(f"rank {r} failed: {m}" for r, m in bad)
        raise RankFailedError(f"rank {dist.get_rank()}: {what} stopped because {text}", [r for r, _ in bad]) from err
    return [e for _, e in out]


def _description(model: Any, corpus: Any, **more: Any) -> dict:
    params = model.params
    desc = {"model": type(model).__name__, "corpus": type(corpus).__name__}
    desc.update({n: getattr(params, n) for n in params.saved_names() if n != "progress"})
    desc["sync_words"] = params.sync_words
    if model.id_to_key is not None:
        desc["id_to_key"] = hashlib.sha256("\n".join(model.id_to_key).encode()).hexdigest()[:16]
    desc.update(more)
    return desc


def _check_same(group, model: Any, corpus: Any, err: BaseException | None = None, **more: Any) -> None:
    """Every rank has the same parameters (and whatever ``more`` names), else ValueError on every rank."""
    desc = json.loads(json.dumps(_description(model, corpus, **more), default=str))
    descs = _status(group, "the parameter check", err, desc)
    for r, d in enumerate(descs):
        if d == descs[0]:
            continue
        for k in list(descs[0]) + [k for k in d if k not in descs[0]]:
            a, b = descs[0].get(k, "<missing>"), d.get(k, "<missing>")
            if a != b:
                raise ValueError(
                    f"distributed training needs the same parameters on every rank: {k} is {a!r} on rank 0 "
                    f"but {b!r} on rank {r}"
                )


# ---- the corpus, split over ranks ------------------------------------------------------------------
def _line_start(f, pos: int) -> int:
    """The offset of the first line that starts at or after byte `pos`."""
    if pos <= 0:
        return 0
    f.seek(pos - 1)
    f.readline()
    return f.tell()


def file_range(path: str, me: int, world: int) -> tuple[int, int]:
    """Rank `me`'s byte range [start, end) of a corpus file: whole lines, about size / world bytes."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        start = _line_start(f, size * me // world)
        end = size if me == world - 1 else _line_start(f, size * (me + 1) // world)
    return start, max(start, end)


def _range_lines(path: str, start: int, end: int) -> Iterator[str]:
    """The lines of bytes [start, end) of a file (split at '\\n' only, decoded as UTF-8 with replacement)."""
    with open(path, "rb") as f:
        f.seek(start)
        left, carry = end - start, b""
        while left > 0:
            data = f.read(min(_READ_BLOCK, left))
            if not data:
                break
            left -= len(data)
            data = carry + data
            cut = data.rfind(b"\n") + 1 if left > 0 else len(data)
            carry = data[cut:]
            lines = data[:cut].decode("utf-8", "replace").split("\n")
            if lines and lines[-1] == "":
                lines.pop()  # the text ended with a newline
            yield from lines
        if carry:
            yield carry.decode("utf-8", "replace")


def _mine(sentences: Any, me: int, world: int) -> Iterator[tuple[int, Any]]:
    """(global index, sentence) of the sentences of rank `me`."""
    for i, sent in enumerate(sentences):
        if i % world == me:
            yield i, sent


def _check_token_sentence(i: int, sent: Any) -> list:
    if isinstance(sent, (str, bytes)) or not hasattr(sent, "__iter__"):
        raise TypeError(f"sentence {i} must be a list of str tokens, got {type(sent).__name__}")
    if isinstance(sent, np.ndarray) and sent.dtype.kind in "iu":
        raise TypeError(f"sentence {i} is an array of token ids, but the vocabulary was built from str tokens")
    return sent if isinstance(sent, list) else list(sent)


def _check_id_sentence(corpus: IdCorpus, i: int, sent: Any) -> np.ndarray:
    a = sent if isinstance(sent, np.ndarray) else None
    if a is None or a.ndim != 1 or a.dtype.kind not in "iu":
        got = type(sent).__name__ if a is None else f"a {a.ndim}-D {a.dtype} array"
        raise TypeError(
            f"sentence {i} must be a 1-D integer numpy array of token ids (the corpus was given as ids), got {got}"
        )
    return corpus._checked([a], i)


def _local_counts(corpus: Any, me: int, world: int) -> tuple:
    """This rank's counts: (words, counts, first-occurrence keys, sentences), or for ids ((sorted ids, counts), sentences)."""
    if isinstance(corpus, IdCorpus):
        counter = IdCounter()
        n = 0
        buf: list = []
        size = 0
        for i, sent in _mine(corpus.sentences, me, world):
            buf.append(_check_id_sentence(corpus, i, sent))
            n += 1
            size += buf[-1].shape[0]
            if size >= CHUNK_TOKENS:
                counter.add(np.concatenate(buf))
                buf, size = [], 0
        if buf:
            counter.add(np.concatenate(buf))
        return counter.result(), n
    counter: Counter = Counter()
    keys: list = []
    n = 0
    if isinstance(corpus, FileCorpus):
        start, end = file_range(corpus.path, me, world)
        for line in _range_lines(corpus.path, start, end):
            toks = line.split()
            if toks:
                n += 1
                counter.update(toks)
        keys = [(me, j) for j in range(len(counter))]  # ranks hold consecutive parts: rank, then local order
    else:
        for i, sent in _mine(corpus.sentences, me, world):
            sent = _check_token_sentence(i, sent)
            n += 1
            before = len(counter)
            counter.update(sent)
            grew = len(counter) - before
            if grew:
                new = list(islice(reversed(counter), grew))[::-1]
                keys.extend((i, sent.index(w)) for w in new)
        for w in counter:
            if not isinstance(w, str):
                raise TypeError(f"tokens must be str, got {type(w).__name__} ({w!r})")
            break
    return list(counter.keys()), np.fromiter(counter.values(), np.int64, len(counter)), keys, n


def scan(model: Any, corpus: Any) -> Scan:
    """build_vocab's scan, merged over all ranks: the Scan one process would make of the whole corpus."""
    group = _group()
    me, world = dist.get_rank(group), dist.get_world_size(group)
    _check_same(group, model, corpus)
    if model.max_vocab_size is not None and not isinstance(corpus, IdCorpus):  # the same on every rank
        raise NotImplementedError(
            "max_vocab_size with distributed=True needs a corpus of token ids: for words and files one "
            "process prunes while it reads, which depends on the reading order; use min_count"
        )
    err, local = None, None
    try:
        local = _local_counts(corpus, me, world)
    except Exception as exc:  # every rank raises, naming this one
        err = exc
    parts = _status(group, "the vocabulary scan", err, local)
    if isinstance(corpus, IdCorpus):
        present, counts = merge_id_counts([p[0] for p in parts])
        return corpus.scan_of_counts(present, counts, sum(p[1] for p in parts), model.max_vocab_size)
    merged: dict = {}
    for words, counts, keys, _ in parts:
        for w, c, k in zip(words, counts.tolist(), keys):
            m = merged.get(w)
            if m is None:
                merged[w] = [c, k]
            else:
                m[0] += c
                if k < m[1]:
                    m[1] = k
    words = sorted(merged, key=lambda w: merged[w][1])
    counts = np.fromiter((merged[w][0] for w in words), np.int64, len(words))
    return Scan(words, counts, sum(p[3] for p in parts), 0)


def _local_part(model: Any, corpus: Any, me: int, world: int, chunk: int) -> list:
    """This rank's part as (ids int32, -1 for unknown words; sentence ends) chunks of about `chunk` tokens."""
    if isinstance(corpus, IdCorpus):
        out, buf, size = [], [], 0
        remap = corpus.remap

        def emit():
            ids = id_remap_lookup(remap, np.concatenate(buf))
            out.append((ids, np.cumsum([a.shape[0] for a in buf], dtype=np.int64)))

        for i, sent in _mine(corpus.sentences, me, world):
            buf.append(_check_id_sentence(corpus, i, sent))
            size += buf[-1].shape[0]
            if size >= chunk:
                emit()
                buf, size = [], 0
        if buf:
            emit()
        return out
    if isinstance(corpus, FileCorpus):
        start, end = file_range(corpus.path, me, world)
        sentences = (line.split() for line in _range_lines(corpus.path, start, end))
    else:
        sentences = (_check_token_sentence(i, s) for i, s in _mine(corpus.sentences, me, world))
    return list(token_chunks(sentences, model.key_to_index, chunk))


def _segments(parts: list, n_seg: int) -> list:
    """The chunks cut into n_seg consecutive groups of about equal word counts (some may be empty)."""
    words = np.array([int((ids >= 0).sum()) for ids, _ in parts], dtype=np.int64)
    total = int(words.sum())
    segs: list = [[] for _ in range(n_seg)]
    before = 0
    for part, w in zip(parts, words.tolist()):
        k = min(n_seg - 1, before * n_seg // total) if total else 0
        segs[k].append(part)
        before += w
    return segs


class _Guard:
    """A callback whose exceptions are kept for the next status exchange instead of raised."""

    def __init__(self, cb: Any, engine: _Engine) -> None:
        self._cb, self._engine = cb, engine

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self._cb, name)

        def call(*args: Any) -> Any:
            try:
                return fn(*args)
            except Exception as exc:
                if self._engine.pending is None:
                    self._engine.pending = exc
                return None

        return call

    def __call__(self, *args: Any) -> Any:
        if callable(self._cb):
            return self.__getattr__("__call__")(*args)
        return None


class _Engine:
    """run_epochs' engine for one rank: its part in segments, the tables averaged after each."""

    def __init__(self, model: Any, group, segments: list, total: int, epochs: int, alpha: float, min_alpha: float):
        self.model, self.group, self.segments = model, group, segments
        self.me, self.world = dist.get_rank(group), dist.get_world_size(group)
        cfg = model._config(max(1, math.ceil(total * epochs / self.world)), alpha, min_alpha)
        cfg.seed = (model.seed + self.me * 0x9E3779B97F4A7C15) % 2**64  # each rank its own random streams
        sub_offsets, sub_rows = model._subwords()
        self.trainer = native().Word2VecTrainer(
            model._in, model.syn1neg, model.syn1, model.counts, None, sub_offsets, sub_rows, cfg
        )
        self.tables = [t for t in (model._in, model.syn1neg, model.syn1) if t is not None]
        # the tables as of the last merge (the same bits on every rank: the same initial tables)
        self.base = [torch.from_numpy(t.copy()) for t in self.tables] if self.world > 1 else []
        self.done = 0  # words all ranks have trained in this train() call
        self.pending: BaseException | None = None  # a callback's exception, reported at the next exchange
        self.sync_seconds: list[float] = []
        self.epoch_start_lr: list[float] = []  # the learning rate each epoch started at (global position)

    def average(self) -> None:
        """Merges the ranks' tables in place (torch.from_numpy shares the numpy memory)."""
        if self.world == 1:
            return
        t0 = time.perf_counter()
        for i, a in enumerate(self.tables):
            t = torch.from_numpy(a)
            comm.guarded("all_reduce (merging the tables)", lambda: dist.all_reduce(t, group=self.group))
            base = self.base[i]  # the last merged tables plus every rank's updates since: sum - (W - 1) * last
            t.sub_(base, alpha=self.world - 1)
            base.copy_(t)
        self.sync_seconds.append(time.perf_counter() - t0)

    def epoch(self, epoch: int, progress) -> dict:
        t0 = time.perf_counter()
        words = examples = 0
        loss = 0.0
        base = self.done
        n = len(self.segments)
        tr = self.trainer
        for k, seg in enumerate(self.segments):
            err, st = None, None
            try:
                if self.pending is not None:
                    exc, self.pending = self.pending, None
                    raise exc
                tr.words_before = self.done // self.world
                tr.begin_epoch(epoch * n + k)  # seeds the jobs' random streams: one per segment
                if k == 0:
                    self.epoch_start_lr.append(float(tr.lr))
                show = None
                if self.me == 0:

                    def show(w, lr):
                        progress(self.done - base + w * self.world, lr)

                try:
                    for ids, ends in seg:
                        tr.push(ids, ends)
                        if show is not None:
                            show(tr.words_done, tr.lr)
                    st = tr.end_epoch(show)
                except BaseException:
                    tr.abort()
                    raise
            except Exception as exc:  # every rank raises, naming this one
                err = exc
            figures = _status(
                self.group,
                f"epoch {epoch} (part {k + 1} of {n})",
                err,
                None if st is None else (int(st["words"]), int(st["examples"]), float(st["loss"])),
            )
            words += sum(f[0] for f in figures)
            examples += sum(f[1] for f in figures)
            loss += sum(f[2] for f in figures)
            self.done = base + words
            self.average()
        if self.me == 0:
            progress(words, tr.lr)
        return {"words": words, "examples": examples, "loss": loss, "seconds": time.perf_counter() - t0}


def train(model: Any, corpus: Any, epochs: int, alpha: float, min_alpha: float, callbacks: tuple) -> tuple[int, int]:
    """train() over all ranks; returns (examples, words) summed over the ranks, as one process's train()."""
    group = _group()
    me, world = dist.get_rank(group), dist.get_world_size(group)
    vocab = hashlib.sha256("\n".join(model.index_to_key).encode() + model.counts.tobytes()).hexdigest()[:16]
    _check_same(
        group, model, corpus, None, vocabulary=vocab, epochs=epochs, alpha=alpha, min_alpha=min_alpha, world=world
    )
    chunk = max(1, min(CHUNK_TOKENS, model.params.sync_words // 4))
    err, parts, local = None, [], 0
    try:
        parts = _local_part(model, corpus, me, world, chunk)
        local = sum(int((ids >= 0).sum()) for ids, _ in parts)
    except Exception as exc:
        err = exc
    sizes = _status(group, "reading the corpus", err, local)
    total = sum(sizes)
    n_seg = max(1, math.ceil(max(sizes) / model.params.sync_words))
    engine = _Engine(model, group, _segments(parts, n_seg), total, epochs, alpha, min_alpha)
    guarded = tuple(_Guard(cb, engine) for cb in callbacks)
    shown = model.params.progress
    if me != 0 and shown:
        model.params = replace(model.params, progress=False)  # rank 0 shows the global progress
    try:
        result = run_epochs(model, engine, epochs, guarded)
    finally:
        if model.params.progress != shown:
            model.params = replace(model.params, progress=shown)
    _status(group, "the callbacks", engine.pending)
    s = engine.sync_seconds
    model.sync_stats = {
        "syncs": len(s),
        "seconds": float(sum(s)),
        "median_seconds": float(np.median(s)) if s else 0.0,
        "segments_per_epoch": n_seg,
        "bytes": int(sum(t.nbytes for t in engine.tables)),
        "epoch_start_lr": engine.epoch_start_lr,
    }
    return result
