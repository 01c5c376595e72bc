"""Drop-in replacements for ``torch.nn.EmbeddingBag`` and ``torch.nn.Embedding`` on the fused op."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .. import _huge_pages
from ..ops.embedding_bag import MODES, embedding, embedding_bag
from ..ops.fused_optim import embedding_bag_with_update
from ..optim import FusedOptimizer, FusedState, check_table, owned_tables

__all__ = ["EmbeddingBag", "Embedding"]


def _unsupported(max_norm: Optional[float], scale_grad_by_freq: bool) -> None:
    if max_norm is not None:
        raise NotImplementedError(
            "max_norm is not supported by embedforge (it renormalises rows in place during the forward); "
            "renormalise the weight yourself between steps, or use torch.nn.Embedding for this layer"
        )
    if scale_grad_by_freq:
        raise NotImplementedError("scale_grad_by_freq is not supported by embedforge")


def _flag_coalesced(param: Tensor) -> None:
    """Post-accumulate-grad hook: says that a sparse ``.grad`` is coalesced when it is.

    For sum and mean the op's sparse gradient is torch's uncoalesced layout (one entry per id); for
    max it is the touched rows, coalesced, but torch's AccumulateGrad stores a sparse gradient as a
    new tensor without the flag, and torch optimizers (SparseAdam, sparse Adagrad) would then sort it
    again. One vectorised pass over the rows checks that they are strictly increasing before the
    flag is set, so the flag is never claimed for repeated or unsorted rows.
    """
    g = param.grad
    if g is None or not g.is_sparse or g.is_coalesced() or g.sparse_dim() != 1:
        return
    rows = g._indices()[0]
    if rows.numel() < 2 or bool((rows[1:] > rows[:-1]).all()):
        g._coalesced_(True)


def _watch_sparse_grad(weight: Tensor) -> None:
    if weight.requires_grad:
        weight.register_post_accumulate_grad_hook(_flag_coalesced)


def _init_weight(num_embeddings: int, embedding_dim: int, weight: Optional[Tensor], device, dtype) -> Tensor:
    if num_embeddings <= 0 or embedding_dim <= 0:
        raise ValueError(f"num_embeddings and embedding_dim must be positive, got {num_embeddings}, {embedding_dim}")
    if weight is None:
        return torch.empty((num_embeddings, embedding_dim), device=device, dtype=dtype)
    if tuple(weight.shape) != (num_embeddings, embedding_dim):
        raise ValueError(f"_weight has shape {tuple(weight.shape)}, expected ({num_embeddings}, {embedding_dim})")
    return weight


def _check_padding(padding_idx: Optional[int], num_embeddings: int) -> Optional[int]:
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"padding_idx={padding_idx} is out of range for a table of {num_embeddings} rows")
    return padding_idx % num_embeddings


def _reset_weight(weight: Tensor, padding_idx: Optional[int]) -> None:
    torch.nn.init.normal_(weight)
    if padding_idx is not None:
        with torch.no_grad():
            weight[padding_idx].fill_(0)


class EmbeddingBag(torch.nn.EmbeddingBag):
    """Sums, averages or max-pools bags of embeddings without materialising the gathered rows.

    Shapes: V ``num_embeddings``, D ``embedding_dim``, B bags, N ids, L ids per bag.
    ``forward(input [N], offsets [B])`` or ``forward(input [B, L])`` → [B, D].

    With ``optimizer=`` an ``embedforge.optim`` config, the table trains itself: ``backward()``
    updates the touched rows in place (no ``.grad``, no V×D gradient); its optimizer state is in
    ``optimizer_state`` and in ``state_dict()``.

    >>> bag = EmbeddingBag(10, 3, mode="sum")
    >>> bag(torch.tensor([1, 2, 4, 5, 4, 3, 2, 9]), torch.tensor([0, 4])).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        max_norm: Optional[float] = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: str = "mean",
        sparse: bool = False,
        _weight: Optional[Tensor] = None,
        include_last_offset: bool = False,
        padding_idx: Optional[int] = None,
        device=None,
        dtype=None,
        optimizer: Optional[FusedOptimizer] = None,
    ) -> None:
        # A torch.nn.EmbeddingBag / Embedding for isinstance checks (torchinfo, wrap policies,
        # quantisation passes), built here: torch's own __init__ would allocate and fill a table.
        torch.nn.Module.__init__(self)
        _unsupported(max_norm, scale_grad_by_freq)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode!r}")
        if optimizer is not None and sparse:
            raise ValueError("sparse=True asks for a sparse .grad, but a table with a fused optimizer has no .grad")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.norm_type, self.scale_grad_by_freq = max_norm, norm_type, scale_grad_by_freq
        self.mode, self.sparse, self.include_last_offset = mode, sparse, include_last_offset
        self.padding_idx = _check_padding(padding_idx, num_embeddings)
        self.weight = torch.nn.Parameter(_init_weight(num_embeddings, embedding_dim, _weight, device, dtype))
        _huge_pages.advise(self.weight.detach())  # before the first write of a fresh table: no copy
        _watch_sparse_grad(self.weight)
        if _weight is None:
            self.reset_parameters()
        self.optimizer_state: Optional[FusedState] = None
        if optimizer is not None:
            if self.weight.dtype not in (torch.float32, torch.bfloat16, torch.float16):
                raise TypeError(
                    f"a fused optimizer updates float32, bfloat16 or float16 tables, not {self.weight.dtype} "
                    "(float64 tables train with a torch optimizer)"
                )
            self.optimizer_state = FusedState(optimizer, self.weight)
            owned_tables.claim(self.weight, self)

    @property
    def optimizer(self) -> Optional[FusedOptimizer]:
        """The fused optimizer config that updates this table during backward, or None."""
        return None if self.optimizer_state is None else self.optimizer_state.optimizer

    def reset_parameters(self) -> None:
        """N(0, 1) initialisation as torch's, with the padding row zeroed."""
        _reset_weight(self.weight, self.padding_idx)

    def forward(
        self, input: Tensor, offsets: Optional[Tensor] = None, per_sample_weights: Optional[Tensor] = None
    ) -> Tensor:
        """Pools each bag: [N] ids with [B] offsets, or [B, L] ids → [B, D]."""
        if self.optimizer_state is not None and torch.is_grad_enabled():
            check_table(self.weight, self)
            return embedding_bag_with_update(
                self.weight,
                input,
                self.optimizer_state.update,
                offsets,
                mode=self.mode,
                per_sample_weights=per_sample_weights,
                padding_idx=self.padding_idx,
                include_last_offset=self.include_last_offset,
            )
        return embedding_bag(
            self.weight,
            input,
            offsets,
            mode=self.mode,
            per_sample_weights=per_sample_weights,
            padding_idx=self.padding_idx,
            include_last_offset=self.include_last_offset,
            sparse=self.sparse,
        )

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}, mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.sparse:
            s += ", sparse=True"
        if self.include_last_offset:
            s += ", include_last_offset=True"
        if self.optimizer is not None:
            s += f", optimizer={self.optimizer!r}"
        return s

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Tensor,
        freeze: bool = True,
        max_norm: Optional[float] = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: str = "mean",
        sparse: bool = False,
        include_last_offset: bool = False,
        padding_idx: Optional[int] = None,
        optimizer: Optional[FusedOptimizer] = None,
    ) -> "EmbeddingBag":
        """A bag layer over a given [V, D] matrix (kept as is, padding row included)."""
        if embeddings.dim() != 2:
            raise ValueError(f"embeddings must be 2-D, got shape {tuple(embeddings.shape)}")
        bag = cls(
            embeddings.shape[0],
            embeddings.shape[1],
            max_norm=max_norm,
            norm_type=norm_type,
            scale_grad_by_freq=scale_grad_by_freq,
            mode=mode,
            sparse=sparse,
            _weight=embeddings,
            include_last_offset=include_last_offset,
            padding_idx=padding_idx,
            optimizer=optimizer,
        )
        bag.weight.requires_grad = not freeze
        return bag


class Embedding(torch.nn.Embedding):
    """A lookup table: ids of any shape [*] → [*, D], on embedforge's one-hot-free kernels.

    Shapes: V ``num_embeddings``, D ``embedding_dim``. The padding row is returned as stored and
    never receives a gradient, as in ``torch.nn.Embedding``.

    >>> emb = Embedding(10, 3, padding_idx=0)
    >>> emb(torch.tensor([[0, 2], [4, 9]])).shape
    torch.Size([2, 2, 3])
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: Optional[int] = None,
        max_norm: Optional[float] = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Optional[Tensor] = None,
        _freeze: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        # A torch.nn.EmbeddingBag / Embedding for isinstance checks (torchinfo, wrap policies,
        # quantisation passes), built here: torch's own __init__ would allocate and fill a table.
        torch.nn.Module.__init__(self)
        _unsupported(max_norm, scale_grad_by_freq)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.norm_type, self.scale_grad_by_freq = max_norm, norm_type, scale_grad_by_freq
        self.sparse = sparse
        self.padding_idx = _check_padding(padding_idx, num_embeddings)
        self.weight = torch.nn.Parameter(
            _init_weight(num_embeddings, embedding_dim, _weight, device, dtype), requires_grad=not _freeze
        )
        _huge_pages.advise(self.weight.detach())
        _watch_sparse_grad(self.weight)
        if _weight is None:
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """N(0, 1) initialisation as torch's, with the padding row zeroed."""
        _reset_weight(self.weight, self.padding_idx)

    def forward(self, input: Tensor) -> Tensor:
        """Looks up every id: [*] → [*, D]."""
        return embedding(self.weight, input, self.padding_idx, self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.sparse:
            s += ", sparse=True"
        return s

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Tensor,
        freeze: bool = True,
        padding_idx: Optional[int] = None,
        max_norm: Optional[float] = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> "Embedding":
        """A table over a given [V, D] matrix (kept as is, padding row included)."""
        if embeddings.dim() != 2:
            raise ValueError(f"embeddings must be 2-D, got shape {tuple(embeddings.shape)}")
        return cls(
            embeddings.shape[0],
            embeddings.shape[1],
            padding_idx=padding_idx,
            max_norm=max_norm,
            norm_type=norm_type,
            scale_grad_by_freq=scale_grad_by_freq,
            sparse=sparse,
            _weight=embeddings,
            _freeze=freeze,
        )
