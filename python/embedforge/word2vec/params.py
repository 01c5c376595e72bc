"""The training parameters: one frozen object, validated once, that builds the native engine's config."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

__all__ = ["Params", "FastTextParams", "native", "check_int", "check_float", "check_gensim_vocab_options"]

_CASTS = {"int": int, "int | None": int, "float": float, "bool": bool}  # field annotation -> plain Python type
_INT32_MAX = 2**31 - 1
# distributed=True: words each rank trains between two merges of the tables. 500k kept the quality of
# one process on bench/make_corpus.sh's corpus at 0.89x its speed (1M: 0.96x, analogy 0.02 lower;
# 250k: 0.75x); one merge of word2vec's 30 MB of tables took ~30-40 ms (bench/distributed_word2vec.py).
DEFAULT_SYNC_WORDS = 500_000
# FastText's default: its subword rows drift apart faster between merges. On the same corpus, 2 ranks,
# 3 seeds (2026-12-03): at 500k analogy/WordSim were 0.018/0.023 below one process (0.78x its speed),
# at 125k 0.004/0.0035 below (0.63x), inside the 0.01 that keeps single-process quality.
FASTTEXT_SYNC_WORDS = 125_000
_INT64_MAX = 2**63 - 1
# The native trainer's field widths: a value past them would surface as a pybind11 cast error.
_INT_MAXIMUM = {
    "seed": 2**64 - 1,
    "max_vocab_size": _INT64_MAX,
    "bucket": _INT64_MAX,
    "total_examples": _INT64_MAX,
    "total_words": _INT64_MAX,
    "min_count": _INT64_MAX,
    "max_final_vocab": _INT64_MAX,
}


def native():
    """The torch-free native trainer module (embedforge._w2v)."""
    try:
        from .. import _w2v
    except ImportError as exc:  # pragma: no cover - exercised only on broken installs
        raise ImportError(
            f"embedforge's word2vec trainer module failed to load ({exc}); reinstall embedforge: `make develop` in a "
            "source checkout, or `pip install --force-reinstall --no-deps embedforge`"
        ) from exc
    return _w2v


def check_int(
    name: str, value: Any, minimum: int | None = None, allow_none: bool = False, maximum: int | None = None
) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    maximum = _INT_MAXIMUM.get(name, _INT32_MAX) if maximum is None else maximum
    if value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")


def check_float(name: str, value: Any, minimum: float | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} ({value!r})")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def check_gensim_vocab_options(update: Any, trim_rule: Any, kwargs: dict, max_vocab_size: int | None) -> None:
    """gensim build_vocab options: unknown ones fail loudly, and so do combinations not supported here."""
    if kwargs:
        raise TypeError(f"build_vocab() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
    if update not in (0, 1, True, False):
        raise ValueError(f"update must be True or False, got {update!r}")
    if trim_rule is not None and not callable(trim_rule):
        raise TypeError(f"trim_rule must be a callable (word, count, min_count) -> RULE_*, got {trim_rule!r}")
    if trim_rule is not None and max_vocab_size is not None:
        raise NotImplementedError(
            "trim_rule with max_vocab_size: the pruning while counting does not consult trim_rule "
            "(gensim's does); use one of them"
        )


def _check_flag(name: str, value: Any, meaning: str) -> None:
    if value not in (0, 1, True, False):
        raise ValueError(f"{name} must be {meaning}, got {value!r}")


@dataclass(frozen=True)
class Params:
    """Word2Vec's parameters (gensim's names), checked and normalised when made; change one with ``replace``."""

    vector_size: int = 100
    alpha: float = 0.025
    window: int = 5
    min_count: int = 5
    max_vocab_size: int | None = None
    sample: float = 1e-3
    seed: int = 1
    workers: int | None = None  # None: min(3, CPU count)
    min_alpha: float = 0.0001
    sg: int = 0
    hs: int = 0
    negative: int = 5
    ns_exponent: float = 0.75
    cbow_mean: int = 1
    epochs: int = 5
    shrink_windows: bool = True
    compute_loss: bool = False
    progress: bool = True
    deterministic: bool = False
    sorted_vocab: int = 1  # 0: the vocabulary keeps the corpus's first-occurrence order
    max_final_vocab: int | None = None  # raise min_count until at most this many words are kept
    null_word: int = 0  # 1: add gensim's "\0" pseudo-word (count 1) to the vocabulary
    batch_words: int = 10_000  # words per job handed to a worker thread (jobs also seed the random streams)
    device: str = field(default="cpu", metadata={"saved": False})
    distributed: bool = field(default=False, metadata={"saved": False})  # data-parallel over torch.distributed
    sync_words: int = field(default=DEFAULT_SYNC_WORDS, metadata={"saved": False})  # per rank, between two merges

    def __post_init__(self) -> None:
        if self.workers is None:
            self._set("workers", min(3, os.cpu_count() or 1))
        self._check()
        for f in fields(self):  # normalise: numpy scalars and 0/1 flags become plain Python values
            v = getattr(self, f.name)
            if v is not None and f.type in _CASTS:
                self._set(f.name, _CASTS[f.type](v))
        for flag in ("sg", "hs", "cbow_mean", "sorted_vocab", "null_word"):
            self._set(flag, int(bool(getattr(self, flag))))

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def _check(self) -> None:
        check_int("vector_size", self.vector_size, 1)
        check_int("window", self.window, 1)
        check_int("min_count", self.min_count, 0)
        check_int("max_vocab_size", self.max_vocab_size, 1, allow_none=True)
        check_int("seed", self.seed, 0)
        check_int("workers", self.workers, 1)
        check_int("negative", self.negative, 0)
        check_int("epochs", self.epochs, 1)
        check_float("alpha", self.alpha, 0.0)
        check_float("min_alpha", self.min_alpha, 0.0)
        check_float("sample", self.sample, 0.0)
        check_float("ns_exponent", self.ns_exponent)
        check_int("sync_words", self.sync_words, 1, maximum=_INT64_MAX)
        check_int("max_final_vocab", self.max_final_vocab, 1, allow_none=True)
        check_int("batch_words", self.batch_words, 1)
        _check_flag("sorted_vocab", self.sorted_vocab, "0 (first-occurrence order) or 1 (most frequent first)")
        _check_flag("null_word", self.null_word, "0 or 1")
        _check_flag("distributed", self.distributed, "True or False")
        _check_flag("sg", self.sg, "0 (CBOW) or 1 (skip-gram)")
        _check_flag("hs", self.hs, "0 or 1")
        _check_flag("cbow_mean", self.cbow_mean, "0 (sum) or 1 (mean)")
        if self.negative == 0 and not self.hs:
            raise ValueError("negative=0 and hs=0 leave nothing to train: set negative > 0 or hs=1")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        if self.device == "cuda":
            if not (self.sg and self.negative > 0 and not self.hs):
                raise ValueError(
                    "device='cuda' trains skip-gram with negative sampling only: use sg=1, hs=0, negative>0"
                )
            import torch

            if self.distributed:
                raise NotImplementedError("distributed=True with device='cuda': data-parallel training runs on CPU")
            if not torch.cuda.is_available():
                raise ValueError("device='cuda' was asked for but torch sees no CUDA device")

    @classmethod
    def saved_names(cls) -> tuple[str, ...]:
        """The parameters a model file stores."""
        return tuple(f.name for f in fields(cls) if f.metadata.get("saved", True))

    def native_config(self, schedule_words: int, alpha: float, min_alpha: float):
        """The native engine's TrainConfig for one train() call (lr from alpha to min_alpha over schedule_words)."""
        cfg = native().TrainConfig()
        for name in (
            "vector_size",
            "negative",
            "ns_exponent",
            "window",
            "sample",
            "shrink_windows",
            "compute_loss",
            "workers",
            "seed",
            "deterministic",
            "batch_words",
        ):
            setattr(cfg, name, getattr(self, name))
        cfg.sg, cfg.hs, cfg.cbow_mean = bool(self.sg), bool(self.hs), bool(self.cbow_mean)
        cfg.alpha, cfg.min_alpha, cfg.schedule_words = alpha, min_alpha, schedule_words
        return cfg


@dataclass(frozen=True)
class FastTextParams(Params):
    """FastText's parameters: Word2Vec's and the character n-gram range and bucket count."""

    min_n: int = 3
    max_n: int = 6
    bucket: int = 2_000_000

    def _check(self) -> None:
        check_int("min_n", self.min_n, 1)
        check_int("max_n", self.max_n, 0)
        check_int("bucket", self.bucket, 0)
        if self.max_n and self.max_n < self.min_n:
            raise ValueError(f"max_n ({self.max_n}) must be >= min_n ({self.min_n}), or 0 to disable n-grams")
        super()._check()
