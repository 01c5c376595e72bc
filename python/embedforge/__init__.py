"""embedforge: a PyTorch embedding engine with a native core.

Fused embedding-bag lookups, one-hot-free gradient accumulation and a native word2vec trainer,
with a thin Python layer of modules, models, vector tools and plots on top.
"""

from __future__ import annotations

__version__ = "0.1.0"

from ._native import build_info  # noqa: E402  (loads the extension and registers the ops)
from . import ops  # noqa: E402
from . import optim  # noqa: E402
from . import nn  # noqa: E402
from . import vectors  # noqa: E402
from .vectors import KeyedVectors  # noqa: E402

__all__ = ["build_info", "ops", "optim", "nn", "vectors", "KeyedVectors", "Word2Vec", "FastText", "__version__"]


def __getattr__(name: str):
    # Word2Vec / FastText load on first use so `import embedforge` stays fast.
    if name in ("Word2Vec", "FastText"):
        from . import word2vec

        return getattr(word2vec, name)
    raise AttributeError(f"module 'embedforge' has no attribute {name!r}")
