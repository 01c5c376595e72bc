"""Model summaries (layer, output shape, parameter count) through torchinfo, an optional dependency.

``summary(model, *inputs)`` calls ``torchinfo.summary`` on real inputs; ``summary_rows`` gives its rows
as plain tuples to compare; ``MODEL_ZOO`` builds one small instance of every model in
``embedforge.models`` with inputs that fit it.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

__all__ = ["summary", "summary_rows", "MODEL_ZOO", "zoo", "with_torch_modules"]

_COLUMNS = ("output_size", "num_params")


def _torchinfo() -> Any:
    try:
        import torchinfo
    except ImportError as exc:
        raise ImportError(
            "model summaries need torchinfo, which is not installed: pip install 'embedforge[summary]' "
            "(or pip install torchinfo)"
        ) from exc
    return torchinfo


def summary(model: nn.Module, *inputs: Any, depth: int = 3, verbose: int = 0, **kwargs: Any) -> Any:
    """``torchinfo.summary`` of ``model`` run on ``inputs`` (a tuple of positional inputs): its ModelStatistics.

    ``str(result)`` is the table (layer, output shape, parameters); extra keyword arguments go to torchinfo.
    """
    torchinfo = _torchinfo()
    kwargs.setdefault("col_names", _COLUMNS)
    return torchinfo.summary(model, input_data=list(inputs), depth=depth, verbose=verbose, **kwargs)


def summary_rows(stats: Any) -> list[tuple[str, int, tuple[int, ...], int]]:
    """The rows of a torchinfo summary as ``(class name, depth, output shape, own parameters)``."""
    rows = []
    for layer in stats.summary_list:
        shape = tuple(int(s) for s in layer.output_size) if layer.output_size else ()
        rows.append((layer.class_name, int(layer.depth), shape, int(layer.num_params)))
    return rows


def with_torch_modules(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` with every embedforge ``Embedding`` / ``EmbeddingBag`` swapped for torch's own.

    The torch module gets the same sizes, pooling, padding row and weights (``requires_grad`` kept), so
    both models compute the same outputs: what the summaries of the two are compared on.
    """
    import copy

    from .. import nn as enn

    twin = copy.deepcopy(model)
    for name, module in list(twin.named_modules()):
        if isinstance(module, enn.EmbeddingBag):
            if getattr(module, "optimizer", None) is not None:
                raise NotImplementedError("with_torch_modules: a table with a fused optimizer has no torch twin")
            new: nn.Module = nn.EmbeddingBag(
                module.num_embeddings,
                module.embedding_dim,
                mode=module.mode,
                padding_idx=module.padding_idx,
                sparse=module.sparse,
                include_last_offset=module.include_last_offset,
            )
        elif isinstance(module, enn.Embedding):
            new = nn.Embedding(
                module.num_embeddings, module.embedding_dim, padding_idx=module.padding_idx, sparse=module.sparse
            )
        else:
            continue
        with torch.no_grad():
            new.weight.copy_(module.weight)
        new.weight.requires_grad_(module.weight.requires_grad)
        parent_name, _, child = name.rpartition(".")
        setattr(twin.get_submodule(parent_name) if parent_name else twin, child, new)
    return twin


def _ids(b: int, length: int, vocab: int) -> torch.Tensor:
    return torch.randint(2, vocab, (b, length), generator=torch.Generator().manual_seed(0))


def _zoo() -> dict[str, Callable[[], tuple[nn.Module, tuple[Any, ...]]]]:
    from . import (
        BagOfEmbeddingsClassifier,
        BengioMLP,
        Char3Model,
        EmbeddingDotBias,
        EmbeddingNet,
        LoopRNN,
        NextTokenModel,
        SequenceRNN,
        TabularConfig,
        TabularModel,
        TextCNN,
        TorchRNNModel,
    )

    def users_items() -> tuple[torch.Tensor, torch.Tensor]:
        return torch.arange(8) % 30, torch.arange(8) % 40

    def tabular() -> tuple[nn.Module, tuple[Any, ...]]:
        cfg = TabularConfig(cardinalities=(7, 30), n_cont=3, hidden=(32, 16))
        cats = torch.stack([torch.arange(8) % 7, torch.arange(8) % 30], dim=1)
        return TabularModel(cfg), (cats, torch.randn(8, 3))

    return {
        "NextTokenModel": lambda: (NextTokenModel(28, 2), (torch.arange(8) % 28,)),
        "EmbeddingDotBias": lambda: (EmbeddingDotBias(30, 40, 8, y_range=(0.5, 5.5)), users_items()),
        "EmbeddingNet": lambda: (EmbeddingNet(30, 40, 8, y_range=(0.5, 5.5)), users_items()),
        "TabularModel": tabular,
        "BengioMLP": lambda: (BengioMLP(40, block_size=3, emb_dim=8, n_hidden=32), (_ids(4, 3, 40),)),
        "Char3Model": lambda: (Char3Model(40, n_hidden=32, emb_dim=8), (_ids(4, 3, 40),)),
        "LoopRNN": lambda: (LoopRNN(40, n_hidden=32, emb_dim=8), (_ids(4, 5, 40),)),
        "TorchRNNModel": lambda: (TorchRNNModel(40, n_hidden=32, emb_dim=8), (_ids(4, 5, 40),)),
        "SequenceRNN": lambda: (SequenceRNN(40, n_hidden=32, emb_dim=8), (_ids(4, 5, 40),)),
        "TextCNN": lambda: (TextCNN(100, 16, 3, widths=(1, 2, 3), n_filters=8, hidden=16), (_ids(4, 7, 100),)),
        "BagOfEmbeddingsClassifier": lambda: (BagOfEmbeddingsClassifier(100, 16, 3), (_ids(4, 7, 100),)),
    }


#: Names of the models :func:`zoo` builds: every model class exported by ``embedforge.models``.
MODEL_ZOO = (
    "NextTokenModel",
    "EmbeddingDotBias",
    "EmbeddingNet",
    "TabularModel",
    "BengioMLP",
    "Char3Model",
    "LoopRNN",
    "TorchRNNModel",
    "SequenceRNN",
    "TextCNN",
    "BagOfEmbeddingsClassifier",
)


def zoo(name: str, seed: int = 0) -> tuple[nn.Module, tuple[Any, ...]]:
    """A small instance of model ``name`` (one of ``MODEL_ZOO``) and inputs for its forward."""
    builders = _zoo()
    if name not in builders:
        raise KeyError(f"{name!r} is not one of {', '.join(MODEL_ZOO)}")
    torch.manual_seed(seed)
    return builders[name]()
