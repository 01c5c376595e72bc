"""Static figures: labelled scatter (2-D/3-D), heatmaps, loss curves, neighbour tables, analogy arrows."""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import numpy as np

from ._common import as_labels, as_matrix, cosine_neighbors, save_figure
from .projection import project

__all__ = ["scatter", "heatmap", "loss_curves", "neighbor_table", "analogy_arrows", "lookup"]


def _new_figure(figsize: tuple[float, float], dpi: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, dpi=dpi, layout="constrained")


def _group_colors(groups: Sequence[Any]) -> tuple[list[Any], dict[Any, Any]]:
    import matplotlib

    names = list(dict.fromkeys(groups))
    cmap = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
    palette = {g: cmap(i % cmap.N) for i, g in enumerate(names)}
    return [palette[g] for g in groups], palette


def lookup(vectors: Any, labels: Sequence[Any] | None = None) -> tuple[np.ndarray, list[str], dict[str, int]]:
    """Return (matrix, labels, label->row) for a labelled vector set; raises if it has no labels."""
    x = as_matrix(vectors)
    names = as_labels(vectors, labels, len(x))
    if names is None:
        raise ValueError("these vectors have no words: pass labels= (one per row) or a KeyedVectors")
    index = {w: i for i, w in enumerate(names)}
    return x, names, index


def _row(index: Mapping[str, int], word: str) -> int:
    try:
        return index[word]
    except KeyError:
        raise KeyError(f"{word!r} is not in the vocabulary ({len(index)} words)") from None


def scatter(
    vectors: Any,
    labels: Sequence[Any] | None = None,
    *,
    groups: Sequence[Any] | None = None,
    method: str = "pca",
    dims: int = 2,
    max_labels: int | None = 60,
    title: str | None = None,
    path: str | os.PathLike[str] | None = None,
    figsize: tuple[float, float] = (8.0, 6.0),
    dpi: float = 100,
    point_size: float = 14.0,
    seed: int = 0,
    projection_kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """Labelled scatter of vectors (projected with `method` unless already `dims` wide); returns the Figure.

    Only the first `max_labels` rows get a text label (KeyedVectors are ordered by frequency, so those are
    the most frequent words); `None` labels every point. `projection_kwargs` go to the projector
    (e.g. `{"max_iter": 500}` for t-SNE).
    """
    x = as_matrix(vectors)
    names = as_labels(vectors, labels, len(x))
    pts = x if x.shape[1] == dims else project(x, method=method, dims=dims, seed=seed, **(projection_kwargs or {}))
    if groups is not None and len(groups) != len(pts):
        raise ValueError(f"groups has {len(groups)} entries but there are {len(pts)} vectors")
    fig = _new_figure(figsize, dpi)
    ax = fig.add_subplot(projection="3d" if dims == 3 else None)
    coords = [pts[:, j] for j in range(dims)]
    if groups is not None:
        colors, palette = _group_colors(list(groups))
        ax.scatter(*coords, c=colors, s=point_size)
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], marker="o", linestyle="", color=c, label=str(g)) for g, c in palette.items()]
        ax.legend(handles=handles, loc="best", fontsize="small")
    else:
        ax.scatter(*coords, s=point_size, color="tab:blue")
    if names is not None:
        n_lab = len(names) if max_labels is None else min(max_labels, len(names))
        for i in range(n_lab):
            ax.text(*(float(c[i]) for c in coords), names[i], fontsize=8, ha="left", va="bottom")
    axis_name = {"pca": "PC", "tsne": "t-SNE ", "umap": "UMAP "}[method] if x.shape[1] != dims else "dim "
    ax.set_xlabel(f"{axis_name}1")
    ax.set_ylabel(f"{axis_name}2")
    if dims == 3:
        ax.set_zlabel(f"{axis_name}3")
    if title:
        ax.set_title(title)
    if path is not None:
        save_figure(fig, path)
    return fig


def heatmap(
    initial: Any,
    trained: Any | None = None,
    *,
    labels: Sequence[Any] | None = None,
    max_rows: int = 40,
    max_cols: int = 64,
    titles: tuple[str, str] = ("initial", "trained"),
    path: str | os.PathLike[str] | None = None,
    figsize: tuple[float, float] = (10.0, 6.0),
    dpi: float = 100,
) -> Any:
    """Heatmap of an embedding matrix, or initial and trained side by side on one colour scale."""
    mats = [as_matrix(initial)[:max_rows, :max_cols]]
    if trained is not None:
        t = as_matrix(trained)
        if t.shape != as_matrix(initial).shape:
            raise ValueError(f"initial has shape {as_matrix(initial).shape} but trained has shape {t.shape}")
        mats.append(t[:max_rows, :max_cols])
    names = as_labels(initial, labels, len(as_matrix(initial)))
    vmax = max(float(np.abs(m).max()) if m.size else 0.0 for m in mats) or 1.0
    fig = _new_figure(figsize, dpi)
    axes = fig.subplots(1, len(mats), squeeze=False)[0]
    image = None
    for k, (ax, m) in enumerate(zip(axes, mats)):
        image = ax.imshow(m, aspect="auto", cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
        ax.set_xlabel("dimension")
        if len(mats) > 1:
            ax.set_title(titles[k])
        if names is not None:
            ax.set_yticks(range(len(m)), names[: len(m)], fontsize=7)
        else:
            ax.set_ylabel("row")
    fig.colorbar(image, ax=list(axes), shrink=0.8)
    if path is not None:
        save_figure(fig, path)
    return fig


def _records_to_series(records: Sequence[Any]) -> dict[str, list[float]]:
    if not all(isinstance(r, Mapping) for r in records):
        raise TypeError("history records must be dicts")
    merged: dict[str, list[Any]] = {}
    for r in records:
        for k, v in r.items():
            merged.setdefault(str(k), []).append(v)
    return _numeric(merged)


def _numeric(history: Mapping[Any, Any]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for k, v in history.items():
        if isinstance(v, (str, bytes)) or not hasattr(v, "__len__"):
            continue
        try:
            series = [float(e) for e in v]
        except (TypeError, ValueError):
            continue
        if series:
            out[str(k)] = series
    return out


def _history_series(history: Any) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """(per-step series, per-epoch series) from a Trainer, its History, a dict of series or of records."""
    if hasattr(history, "history") and not isinstance(history, Mapping):  # a Trainer
        history = history.history
    if hasattr(history, "steps") and hasattr(history, "epochs"):  # a History
        return _records_to_series(history.steps), _records_to_series(history.epochs)
    if (
        isinstance(history, Mapping)
        and ("steps" in history or "epochs" in history)
        and all(isinstance(v, Sequence) and all(isinstance(r, Mapping) for r in v) for v in history.values())
    ):
        return _records_to_series(history.get("steps", [])), _records_to_series(history.get("epochs", []))
    if isinstance(history, Sequence) and not isinstance(history, (str, bytes)):
        return {}, _records_to_series(list(history))
    if not isinstance(history, Mapping):
        raise TypeError(f"history must be a Trainer, a History or a dict of series, got {type(history).__name__}")
    series = _numeric(history)
    per_step = {k: v for k, v in series.items() if "step" in k.lower() or "batch" in k.lower()}
    return per_step, {k: v for k, v in series.items() if k not in per_step}


def _plottable(series: dict[str, list[float]]) -> dict[str, list[float]]:
    lossy = {k: v for k, v in series.items() if "loss" in k.lower()}
    return lossy or {k: v for k, v in series.items() if k.lower() not in ("epoch", "step", "lr")}


def loss_curves(
    history: Any,
    *,
    path: str | os.PathLike[str] | None = None,
    log_scale: bool = False,
    figsize: tuple[float, float] = (8.0, 4.5),
    dpi: float = 100,
) -> Any:
    """Loss curves from a Trainer (or its History), a dict of series, or a list of per-epoch dicts.

    Per-step records (or series named with "step"/"batch") go in a per-step panel, per-epoch ones in a
    per-epoch panel; series whose name contains "loss" are drawn when there are any.
    """
    per_step, per_epoch = (_plottable(s) for s in _history_series(history))
    panels = [(name, group) for name, group in (("step", per_step), ("epoch", per_epoch)) if group]
    if not panels:
        raise ValueError("history holds no numeric series to plot")
    fig = _new_figure(figsize, dpi)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (unit, group) in zip(axes, panels):
        for k, v in group.items():
            xs = np.arange(len(v)) + (1 if unit == "epoch" else 0)
            ax.plot(xs, v, marker="o" if unit == "epoch" and len(v) <= 50 else None, label=k)
        ax.set_xlabel(unit)
        ax.set_ylabel("loss" if any("loss" in k.lower() for k in group) else "value")
        if log_scale:
            ax.set_yscale("log")
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
    if path is not None:
        save_figure(fig, path)
    return fig


def _neighbors_of(
    vectors: Any, labels: Sequence[Any] | None, word: str, topn: int, cache: dict[str, Any]
) -> list[tuple[str, float]]:
    if labels is None and hasattr(vectors, "most_similar"):
        if hasattr(vectors, "key_to_index") and word not in vectors.key_to_index:
            raise KeyError(f"{word!r} is not in the vocabulary ({len(vectors.key_to_index)} words)")
        return [(str(w), float(s)) for w, s in vectors.most_similar(word, topn=topn)]
    if "m" not in cache:
        cache["m"], cache["names"], cache["index"] = lookup(vectors, labels)
    i = _row(cache["index"], word)
    idx, sim = cosine_neighbors(cache["m"], topn, rows=[i])
    return [(cache["names"][j], float(s)) for j, s in zip(idx[0], sim[0])]


def neighbor_table(
    vectors: Any, words: Sequence[str], topn: int = 5, *, labels: Sequence[Any] | None = None, fmt: str = "markdown"
) -> str:
    """Table of the `topn` cosine neighbours of each word, as Markdown (`fmt="markdown"`) or plain text."""
    if fmt not in ("markdown", "text"):
        raise ValueError(f"fmt={fmt!r} must be 'markdown' or 'text'")
    cache: dict[str, Any] = {}
    rows = [[w] + [f"{n} ({s:.2f})" for n, s in _neighbors_of(vectors, labels, w, topn, cache)] for w in words]
    width = max((len(r) for r in rows), default=1)
    header = ["word"] + [str(k) for k in range(1, width)]
    rows = [r + [""] * (width - len(r)) for r in rows]
    if fmt == "markdown":
        esc = [[c.replace("|", "\\|") for c in r] for r in [header] + rows]
        lines = ["| " + " | ".join(esc[0]) + " |", "|" + "---|" * width]
        lines += ["| " + " | ".join(r) + " |" for r in esc[1:]]
        return "\n".join(lines)
    cols = [max(len(r[j]) for r in [header] + rows) for j in range(width)]
    return "\n".join("  ".join(c.ljust(cols[j]) for j, c in enumerate(r)).rstrip() for r in [header] + rows)


def analogy_arrows(
    vectors: Any,
    a: str,
    b: str,
    c: str,
    *,
    labels: Sequence[Any] | None = None,
    context: int = 3,
    path: str | os.PathLike[str] | None = None,
    figsize: tuple[float, float] = (7.0, 6.0),
    dpi: float = 100,
) -> Any:
    """Plot the analogy a − b + c ≈ d: arrows b→a and c→(a − b + c), d being the nearest other word.

    Vectors are unit-normalised first (3CosAdd, as in word2vec's analogy test); the figure's axes are the
    2-D PCA of the four words, the target point and `context` neighbours of each word.
    Returns the Figure; `fig.embedforge_answer` holds d.
    """
    x, names, index = lookup(vectors, labels)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = x / np.where(norms == 0, 1.0, norms)
    ia, ib, ic = (_row(index, w) for w in (a, b, c))
    target = unit[ia] - unit[ib] + unit[ic]
    sims = unit @ (target / (np.linalg.norm(target) or 1.0))
    sims[[ia, ib, ic]] = -np.inf
    idd = int(np.argmax(sims))
    core = [ia, ib, ic, idd]
    extra: list[int] = []
    if context > 0:
        nb, _ = cosine_neighbors(unit, context, rows=core)
        extra = [int(j) for j in dict.fromkeys(nb.ravel().tolist()) if j not in core]
    rows = core + extra
    pts = project(np.vstack([unit[rows], target[None, :]]), "pca", dims=2)
    pos = {r: pts[k] for k, r in enumerate(rows)}
    tgt = pts[-1]
    fig = _new_figure(figsize, dpi)
    ax = fig.add_subplot()
    if extra:
        ex = np.array([pos[r] for r in extra])
        ax.scatter(ex[:, 0], ex[:, 1], s=10, color="0.7")
        for r in extra:
            ax.text(pos[r][0], pos[r][1], names[r], fontsize=7, color="0.5")
    for r, color in zip(core, ("tab:red", "tab:blue", "tab:green", "tab:purple")):
        ax.scatter([pos[r][0]], [pos[r][1]], s=40, color=color, zorder=3)
        ax.text(pos[r][0], pos[r][1], " " + names[r], fontsize=10, color=color, zorder=4)
    ax.scatter([tgt[0]], [tgt[1]], s=60, marker="x", color="black", zorder=3)
    ax.text(tgt[0], tgt[1], f" {a} − {b} + {c}", fontsize=8)
    arrow = dict(arrowstyle="->", lw=1.5)
    ax.annotate("", xy=pos[ia], xytext=pos[ib], arrowprops={**arrow, "color": "tab:red"})
    ax.annotate("", xy=tgt, xytext=pos[ic], arrowprops={**arrow, "color": "tab:green", "linestyle": "--"})
    ax.set_title(f"{a} − {b} + {c} ≈ {names[idd]}  (cos {float(sims[idd]):.2f})")
    ax.set_xlabel("PC1")
    ax.set_ylabel("PC2")
    ax.margins(0.15)
    fig.embedforge_answer = names[idd]
    if path is not None:
        save_figure(fig, path)
    return fig
