"""embedforge: a PyTorch embedding engine with a native core.

Fused embedding-bag lookups, one-hot-free gradient accumulation and a native word2vec trainer,
with a thin Python layer of modules, models, vector tools and plots on top.

Importing embedforge does not import torch unless torch is already loaded: word vectors
(`Word2Vec`, `FastText`, `KeyedVectors`, `vectors`) run on numpy and a torch-free native module,
so training and querying them costs no torch import (about 220 MB and a few seconds). The torch
parts (`ops`, `nn`, `optim`, `models`, `train`, `data`, `viz`, `build_info`) load on first use;
when torch was imported before embedforge, the operators (`torch.ops.embedforge.*`) are
registered right away, as they are whenever any torch part is touched.
"""

from __future__ import annotations

import importlib
import sys

__version__ = "0.1.0"

from . import vectors  # noqa: E402  (numpy only)
from .vectors import KeyedVectors  # noqa: E402

__all__ = [
    "build_info",
    "ops",
    "optim",
    "nn",
    "data",
    "models",
    "train",
    "viz",
    "vectors",
    "KeyedVectors",
    "Word2Vec",
    "FastText",
    "__version__",
]

# Submodules loaded on first attribute access (each imports torch, or a plotting library).
_LAZY_MODULES = frozenset(
    {"ops", "optim", "nn", "data", "models", "train", "viz", "word2vec", "benchmark", "cli", "demo", "distributed"}
)
_LAZY_NAMES = {"Word2Vec": "word2vec", "FastText": "word2vec", "build_info": "_native"}


def _load(module: str):
    try:
        return importlib.import_module(f".{module}", __name__)
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        raise ModuleNotFoundError(
            f"embedforge.{module} needs PyTorch, which is not installed (word vectors work without it): "
            "pip install 'torch>=2.11'",
            name="torch",
        ) from exc


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        return _load(name)
    if name in _LAZY_NAMES:
        if name == "build_info":
            _load("ops")  # build facts imply a loaded extension: register the ops too
        return getattr(_load(_LAZY_NAMES[name]), name)
    raise AttributeError(f"module 'embedforge' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if "torch" in sys.modules:  # torch is paid for already: register torch.ops.embedforge.* now
    from . import ops  # noqa: E402,F401
