"""Look inside learned models: rank by bias, principal components, cosine neighbours, text-CNN n-grams."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Sequence

import numpy as np
import torch
from torch import nn

__all__ = [
    "as_matrix",
    "rank_by_bias",
    "PCAResult",
    "pca",
    "nearest_by_cosine",
    "partial_dependence",
    "ConvNgrams",
    "conv_ngrams",
]


def as_matrix(table: Any) -> np.ndarray:
    """A float64 (N, D) array from an embedding module, a tensor or an array."""
    if isinstance(table, nn.Module):
        if not hasattr(table, "weight"):
            raise TypeError(f"{type(table).__name__} has no .weight table")
        table = table.weight
    if isinstance(table, torch.Tensor):
        table = table.detach().cpu().numpy()
    arr = np.asarray(table, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(f"expected a non-empty (N, D) table, got shape {arr.shape}")
    return arr


def _labels(labels: Sequence[Hashable] | None, n: int) -> list[Hashable]:
    """Row labels (row indices when none are given), checked against the row count."""
    if labels is None:
        return list(range(n))
    labels = list(labels)
    if len(labels) != n:
        raise ValueError(f"got {len(labels)} labels for {n} rows")
    return labels


def rank_by_bias(bias: Any, labels: Sequence[Hashable] | None = None, k: int = 10) -> tuple[list, list]:
    """The ``k`` highest and ``k`` lowest items by a learned (N, 1) bias: two lists of ``(label, bias)``."""
    b = as_matrix(bias)
    if b.shape[1] != 1:
        raise ValueError(f"a bias table has one column, got shape {b.shape}")
    b = b[:, 0]
    names = _labels(labels, len(b))
    order = np.argsort(-b, kind="stable")
    top = [(names[i], float(b[i])) for i in order[:k]]
    bottom = [(names[i], float(b[i])) for i in order[::-1][:k]]
    return top, bottom


@dataclass
class PCAResult:
    """Principal axes (k, D), projections (N, k), explained-variance ratios (k,), and per-axis extremes."""

    components: np.ndarray
    projections: np.ndarray
    explained_variance_ratio: np.ndarray
    top: list[list[tuple[Hashable, float]]]
    bottom: list[list[tuple[Hashable, float]]]


def pca(table: Any, n_components: int = 3, labels: Sequence[Hashable] | None = None, k: int = 5) -> PCAResult:
    """PCA of embedding rows (centred SVD); for each component the ``k`` items scoring highest and lowest.

    Signs are fixed so each component's largest-magnitude loading is positive (deterministic output).
    """
    x = as_matrix(table)
    n, d = x.shape
    if not 1 <= n_components <= min(n, d):
        raise ValueError(f"n_components must be in [1, {min(n, d)}] for a ({n}, {d}) table, got {n_components}")
    xc = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    comps = vt[:n_components]
    signs = np.sign(comps[np.arange(n_components), np.abs(comps).argmax(axis=1)])
    comps = comps * signs[:, None]
    proj = xc @ comps.T
    var = s**2
    ratio = var[:n_components] / var.sum() if var.sum() > 0 else np.zeros(n_components)
    names = _labels(labels, n)
    top, bottom = [], []
    for j in range(n_components):
        order = np.argsort(-proj[:, j], kind="stable")
        top.append([(names[i], float(proj[i, j])) for i in order[:k]])
        bottom.append([(names[i], float(proj[i, j])) for i in order[::-1][:k]])
    return PCAResult(comps, proj, ratio, top, bottom)


def nearest_by_cosine(
    table: Any, query: int | np.ndarray, k: int = 10, labels: Sequence[Hashable] | None = None
) -> list[tuple[Hashable, float]]:
    """The ``k`` rows most cosine-similar to row ``query`` (itself excluded) or to a query vector."""
    x = as_matrix(table)
    names = _labels(labels, len(x))
    norms = np.linalg.norm(x, axis=1)
    norms[norms == 0] = 1.0
    unit = x / norms[:, None]
    exclude = None
    if isinstance(query, (int, np.integer)):
        if not 0 <= int(query) < len(x):
            raise IndexError(f"query row {query} is out of range for a table of {len(x)} rows")
        exclude = int(query)
        q = unit[exclude]
    else:
        q = np.asarray(query, dtype=np.float64).reshape(-1)
        if len(q) != x.shape[1]:
            raise ValueError(f"query vector has {len(q)} values, the table has {x.shape[1]} columns")
        q = q / (np.linalg.norm(q) or 1.0)
    sims = unit @ q
    if exclude is not None:
        sims[exclude] = -np.inf
    order = np.argsort(-sims, kind="stable")[:k]
    return [(names[i], float(sims[i])) for i in order if np.isfinite(sims[i])]


@torch.no_grad()
def partial_dependence(
    model: nn.Module, cats: torch.Tensor, conts: torch.Tensor, column: int, codes: Sequence[int]
) -> np.ndarray:
    """Mean prediction over the given rows with categorical ``column`` set to each code in turn (K,)."""
    if not 0 <= column < cats.shape[1]:
        raise IndexError(f"column {column} is out of range for {cats.shape[1]} categorical columns")
    model.eval()
    out = []
    for code in codes:
        c = cats.clone()
        c[:, column] = int(code)
        out.append(float(model(c, conts).float().mean()))
    return np.array(out)


@dataclass
class ConvNgrams:
    """What a text CNN's filters saw in one text (L tokens, F filters per width w, C classes).

    ``activations[w]``: the (F, L - w + 1) ReLU'd filter outputs, n-gram start on the second axis.
    ``picks[w]``: the (F,) start the max-pool took for each filter (-1 for a filter at zero everywhere,
    which passes 0 on and says nothing). ``influence[w]``: the (F,) share of each filter's pooled value in
    the predicted class's logit (pooled value times the logit's gradient with respect to it: exact for a
    linear head, first order through the MLP). ``votes[w]`` / ``scores[w]``: per start, how many filters
    picked it and the summed influence of those filters. ``top[w]``: the most influential n-gram of that
    width as ``(start, tokens)``, ranked by ``scores`` (``rank="influence"``) or ``votes``
    (``rank="votes"``, the lesson's count; ties go to the larger summed activation).
    """

    tokens: list[str]
    predicted: int
    probs: np.ndarray
    activations: dict[int, np.ndarray]
    picks: dict[int, np.ndarray]
    influence: dict[int, np.ndarray]
    votes: dict[int, np.ndarray]
    scores: dict[int, np.ndarray]
    top: dict[int, tuple[int, tuple[str, ...]]]

    def ngram(self, width: int, start: int) -> tuple[str, ...]:
        """The labels of the ``width`` tokens starting at ``start``."""
        return tuple(self.tokens[start : start + width])


def conv_ngrams(
    model: nn.Module,
    tokens: Sequence[int] | Sequence[str] | torch.Tensor,
    vocab: Any | None = None,
    rank: str = "influence",
) -> ConvNgrams:
    """Filter activations and the most influential n-gram per filter width of a TextCNN for one text.

    ``tokens`` are L token ids, or L strings encoded with ``vocab`` (an :class:`embedforge.data.Vocab`);
    labels come from ``vocab.itos`` when given, else the ids as text. A text shorter than the widest
    filter is padded as the model pads it (the pads then appear among the tokens). The computation is the
    model's own (its embedding, ``convs``, ReLU, max over time and ``classifier``), in eval mode.

    ``rank="votes"`` picks the start the max-pool chose for the most filters; every filter counts, also
    those the classifier ignores, whose picks land anywhere, so on a trained model the count is often
    decided by noise. ``rank="influence"`` (default) weighs each filter's pick by its share of the
    predicted logit (see :class:`ConvNgrams`), keeping the lesson's idea of "where the pool looked".
    """
    if rank not in ("influence", "votes"):
        raise ValueError(f"rank={rank!r} must be 'influence' or 'votes'")
    for part in ("embedding", "convs", "classifier"):
        if not hasattr(model, part):
            raise TypeError(f"conv_ngrams needs a TextCNN-like model with .{part}, got {type(model).__name__}")
    if isinstance(tokens, torch.Tensor):
        if tokens.dim() != 1:
            raise ValueError(f"tokens must be one text (L,), got shape {tuple(tokens.shape)}")
        ids = [int(t) for t in tokens.tolist()]
    else:
        seq = list(tokens)
        if seq and isinstance(seq[0], str):
            if vocab is None:
                raise ValueError("tokens are strings: pass vocab= to encode them")
            ids = list(vocab.encode(seq))
        else:
            ids = [int(t) for t in seq]
    if not ids:
        raise ValueError("tokens is empty: conv_ngrams needs at least one token")
    pad = getattr(model, "padding_idx", None) or 0
    widths = [int(conv.kernel_size[0]) for conv in model.convs]
    ids = ids + [pad] * max(0, max(widths) - len(ids))
    itos = getattr(vocab, "itos", None)
    labels = [str(itos[i]) if itos is not None and 0 <= i < len(itos) else str(i) for i in ids]
    was_training = model.training
    model.eval()
    try:
        x = torch.tensor([ids], dtype=torch.long, device=next(model.parameters()).device)
        with torch.no_grad():
            e = model.embedding(x).transpose(1, 2)  # (1, D, L)
            maps = [torch.relu(conv(e))[0].float() for conv in model.convs]  # (F, L - w + 1) each
        pooled = torch.cat([m.amax(dim=1) for m in maps]).requires_grad_(True)
        with torch.enable_grad():
            logits = model.classifier(pooled[None, :].to(e.dtype))[0].float()
            predicted = int(logits.argmax())
            (grad,) = torch.autograd.grad(logits[predicted], pooled)
        share = (pooled.detach() * grad).cpu().numpy().astype(np.float64)
        probs = torch.softmax(logits.detach(), dim=0).cpu().numpy()
    finally:
        model.train(was_training)
    acts, picks, infl, votes, scores, top = {}, {}, {}, {}, {}, {}
    offset = 0
    for w, m in zip(widths, maps):
        a = m.cpu().numpy().astype(np.float64)
        peak = a.max(axis=1)
        pick = np.where(peak > 0, a.argmax(axis=1), -1)
        live = pick >= 0
        f_share = share[offset : offset + len(a)]
        offset += len(a)
        v = np.bincount(pick[live], minlength=a.shape[1])
        sc = np.zeros(a.shape[1])
        np.add.at(sc, pick[live], f_share[live])
        mass = np.zeros(a.shape[1])
        np.add.at(mass, pick[live], peak[live])
        keys = (-mass, -v) if rank == "votes" else (-mass, -sc)
        best = int(np.lexsort(keys)[0])
        acts[w], picks[w], infl[w], votes[w], scores[w] = a, pick, f_share, v, sc
        top[w] = (best, tuple(labels[best : best + w]))
    return ConvNgrams(labels, predicted, probs, acts, picks, infl, votes, scores, top)
