"""Model files: one npz holding the tables and a JSON header of parameters, vocabulary and training state."""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from dataclasses import fields
from typing import Any

import numpy as np

from .._atomic import atomic_write

__all__ = ["FORMAT", "save", "load", "read_params"]

FORMAT = "embedforge-word2vec-1"
_STATE = ("corpus_total_words", "corpus_count", "epochs_trained")  # saved beside the parameters, all int
# parameters added after the format was fixed: a file written before them loads with their defaults
_ADDED_LATER = frozenset({"sorted_vocab", "max_final_vocab", "null_word", "batch_words"})
_TYPES = {"int": int, "float": float, "bool": bool, "int | None": (int, type(None))}


def _param_types(params_class: type) -> dict:
    """The values a model file may set, with their types: nothing else is ever set from a file."""
    saved = params_class.saved_names()
    types = {f.name: _TYPES[f.type] for f in fields(params_class) if f.name in saved}
    return {**types, **{k: int for k in _STATE}}


def save(model: Any, path: str | os.PathLike) -> None:
    """Write `model` to `path` (a temporary file in the same directory, then renamed over it)."""
    path = os.fspath(path)
    params = {k: getattr(model, k) for k in _param_types(model._params_class)}
    meta = {
        "format": FORMAT,
        "kind": model._kind,
        "params": params,
        "index_to_key": model.index_to_key,
        "id_to_key": model.id_to_key,
    }
    arrays = dict(model._arrays())
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load(cls: type, path: str | os.PathLike) -> Any:
    """Read a model file; `cls` (Word2Vec or a subclass) is the class load() was called on."""
    from .fasttext import FastText
    from .model import Word2Vec

    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise
    # a damaged zip can also claim encryption or another compression (NotImplementedError,
    # RuntimeError) or hold a corrupt deflate stream (zlib.error)
    except (
        OSError,
        ValueError,
        EOFError,
        KeyError,
        zipfile.BadZipFile,
        NotImplementedError,
        RuntimeError,
        zlib.error,
    ) as exc:
        raise ValueError(f"{path!r} is not a readable embedforge model file ({exc})") from None
    if "meta" not in data:
        raise ValueError(f"{path!r} is not an embedforge model file (no metadata)")
    try:
        meta = json.loads(bytes(data["meta"]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path!r} is a damaged embedforge model file (metadata: {exc})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path!r} is a damaged embedforge model file (metadata is not a mapping)")
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path!r} has format {meta.get('format')!r}, expected {FORMAT!r}")
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


def read_params(params_class: type, meta: dict) -> tuple[Any, dict]:
    """(params, training state) from a model file's header, every value's type checked."""
    p = meta["params"]
    if not isinstance(p, dict):
        raise TypeError("params is not a mapping")
    expected = _param_types(params_class)
    unknown = sorted(set(p) - set(expected))
    missing = sorted(set(expected) - set(p) - _ADDED_LATER)
    if unknown or missing:
        raise ValueError(f"model file parameters do not match: unknown {unknown}, missing {missing}")
    values = {}
    for k, kind in expected.items():
        if k not in p:  # one of _ADDED_LATER
            continue
        v = p[k]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = isinstance(v, kinds) and not (isinstance(v, bool) and bool not in kinds)
        if float in kinds and isinstance(v, int) and not isinstance(v, bool):
            ok, v = True, float(v)
        if not ok:
            raise ValueError(f"model file parameter {k}={v!r} is not a {'/'.join(t.__name__ for t in kinds)}")
        values[k] = v
    state = {k: values.pop(k) for k in _STATE}
    return params_class(**values), state
