"""embedforge: a PyTorch embedding engine with a native core.

Fused embedding-bag lookups, one-hot-free gradient accumulation and a native word2vec trainer,
with a thin Python layer of modules, models, vector tools and plots on top.

Importing embedforge does not import torch unless torch is already loaded: word vectors
(`Word2Vec`, `FastText`, `KeyedVectors`, `vectors`) run on numpy and a torch-free native module,
so training and querying them costs no torch import (about 220 MB and a few seconds). The torch
parts (`ops`, `nn`, `optim`, `models`, `train`, `data`, `viz`, `build_info`) load on first use;
the operators (`torch.ops.embedforge.*`) are registered as soon as torch is loaded, whether torch
came before embedforge, after it (a hook registers them once torch's own import has finished), or
through any torch part.
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


class _RegisterOpsAfterTorch:
    """A one-shot import hook: when torch is first imported (after embedforge, as sorted imports
    put them), register torch.ops.embedforge.* right after torch's own module has run, so that
    ``import embedforge; import torch; torch.ops.embedforge.embedding_bag(...)`` works. Everything
    but ``exec_module`` is torch's own loader."""

    _busy = False

    def find_spec(self, name, path=None, target=None):
        # Stays installed until torch is really imported: a mere find_spec("torch") availability
        # check (common in libraries) gets a wrapped spec too and leaves the hook in place.
        if name != "torch" or self._busy:
            return None
        import importlib.util

        self._busy = True  # the lookup below walks sys.meta_path, this finder included
        try:
            spec = importlib.util.find_spec("torch")
        finally:
            self._busy = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _ChainLoader(spec.loader)
        return spec


class _ChainLoader:
    def __init__(self, inner) -> None:
        self._inner = inner

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module) -> None:
        _remove_hook()
        self._inner.exec_module(module)
        module.__loader__ = module.__spec__.loader = self._inner  # torch's own loader from here on
        try:
            _load("ops")
        except Exception as exc:  # torch itself works; the operators say why they do not
            import warnings

            warnings.warn(f"embedforge could not register torch.ops.embedforge.*: {exc}", RuntimeWarning, stacklevel=2)


_HOOK = _RegisterOpsAfterTorch()


def _remove_hook() -> None:
    try:
        sys.meta_path.remove(_HOOK)
    except ValueError:
        pass


if "torch" in sys.modules:  # torch is paid for already: register torch.ops.embedforge.* now
    from . import ops  # noqa: E402,F401
else:
    sys.meta_path.insert(0, _HOOK)
