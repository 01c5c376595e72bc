"""Figures for the lessons: text-CNN filter heatmaps, projections onto a direction, the fitted line as a
GIF, and the one-hot matrix beside the gradients of a lookup. matplotlib and Pillow load lazily."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ._common import atomic_path, save_figure

__all__ = ["conv_heatmap", "projection_bars", "animate_line_fit", "one_hot_figure"]


def _figure(figsize: tuple[float, float], dpi: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, dpi=dpi, layout="constrained")


def conv_heatmap(
    result: Any,
    *,
    max_filters: int = 32,
    path: str | os.PathLike[str] | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float = 100,
) -> Any:
    """One heatmap per filter width of a :class:`embedforge.models.ConvNgrams`: filters × n-gram starts.

    The x axis is labelled with the tokens (each column is the n-gram starting there); a dot marks
    where the max-pool looked for each filter, and the most influential n-gram's column is framed.
    Returns the Figure.
    """
    from matplotlib.patches import Rectangle

    widths = sorted(result.activations)
    n_tok = len(result.tokens)
    figsize = figsize or (max(6.0, 0.45 * n_tok + 2.0), 2.2 * len(widths) + 0.6)
    fig = _figure(figsize, dpi)
    axes = fig.subplots(len(widths), 1, squeeze=False)[:, 0]
    vmax = max(float(result.activations[w].max()) for w in widths) or 1.0
    image = None
    for ax, w in zip(axes, widths):
        a = result.activations[w][:max_filters]
        image = ax.imshow(a, aspect="auto", cmap="viridis", vmin=0.0, vmax=vmax, interpolation="nearest")
        picks = result.picks[w][:max_filters]
        live = picks >= 0
        ax.scatter(picks[live], np.arange(len(picks))[live], s=6, color="white", marker="o")
        start, ngram = result.top[w]
        ax.add_patch(Rectangle((start - 0.5, -0.5), 1, len(a), fill=False, edgecolor="tab:red", linewidth=2))
        ax.set_xticks(range(a.shape[1]), result.tokens[: a.shape[1]], rotation=60, ha="right", fontsize=8)
        ax.set_ylabel(f"width {w}\nfilter")
        ax.set_title(f"{w}-grams: most influential “{' '.join(ngram)}”", fontsize=9)
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="ReLU activation")
    if path is not None:
        save_figure(fig, path)
    return fig


def projection_bars(
    scores: Sequence[tuple[str, float]],
    *,
    axis_name: str = "direction",
    baseline: np.ndarray | None = None,
    path: str | os.PathLike[str] | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float = 100,
) -> Any:
    """Horizontal bars of each word's projection onto a direction; ``baseline`` (random words) is shaded.

    The band is the 5th–95th percentile of the baseline projections: bars inside it are within what
    random words reach. Returns the Figure.
    """
    if not scores:
        raise ValueError("no projections to plot")
    words = [w for w, _ in scores]
    vals = np.array([s for _, s in scores], dtype=np.float64)
    fig = _figure(figsize or (7.0, 0.3 * len(words) + 1.5), dpi)
    ax = fig.add_subplot()
    if baseline is not None and len(baseline):
        lo, hi = np.percentile(baseline, [5, 95])
        ax.axvspan(lo, hi, color="0.85", label="random words, 5–95%")
        ax.legend(loc="lower right", fontsize="small")
    ax.barh(range(len(words)), vals, color=["tab:orange" if v > 0 else "tab:blue" for v in vals])
    ax.set_yticks(range(len(words)), words, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel(f"cosine with {axis_name}")
    if path is not None:
        save_figure(fig, path)
    return fig


def animate_line_fit(
    x: Any,
    y: Any,
    params: Any,
    path: str | os.PathLike[str],
    *,
    titles: Sequence[str] | None = None,
    frame_ms: int = 120,
    hold_ms: int = 1500,
    figsize: tuple[float, float] = (5.0, 4.0),
    dpi: float = 80,
) -> Path:
    """A GIF with one frame per snapshot of (a, b): the data and the line y = a·x + b, written by Pillow.

    No ffmpeg or other movie writer is used: each frame is drawn by matplotlib into memory and Pillow
    writes the GIF, the last frame shown ``hold_ms`` milliseconds. Returns the path.
    """
    from matplotlib.figure import Figure
    from PIL import Image

    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    ab = np.asarray(params, dtype=np.float64).reshape(-1, 2)
    if len(ab) == 0:
        raise ValueError("no snapshots to animate")
    if titles is not None and len(titles) != len(ab):
        raise ValueError(f"titles has {len(titles)} entries but there are {len(ab)} snapshots")
    xs = np.array([x.min(), x.max()])
    lines = ab[:, :1] * xs + ab[:, 1:]
    lo, hi = min(y.min(), lines.min()), max(y.max(), lines.max())
    pad = 0.05 * (hi - lo or 1.0)
    fig = Figure(figsize=figsize, dpi=dpi)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.9)
    ax.scatter(x, y, s=8, color="tab:blue")
    (line,) = ax.plot(xs, lines[0], color="tab:red", linewidth=2)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    title = ax.set_title("")
    frames = []
    for k, (a, b) in enumerate(ab):
        line.set_ydata(lines[k])
        title.set_text(titles[k] if titles is not None else f"step {k}: a={a:.2f}, b={b:.2f}")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        buf.seek(0)
        with Image.open(buf) as im:
            frames.append(im.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT))
    durations = [frame_ms] * (len(frames) - 1) + [max(frame_ms, hold_ms)]
    with atomic_path(path, suffix=".gif") as tmp:
        frames[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=frames[1:],
            duration=durations,
            loop=0,
            disposal=1,
            optimize=False,
        )
    return Path(path)


def one_hot_figure(
    ids: Any,
    delta: Any,
    grad_rows: Any,
    table_grad: Any,
    *,
    path: str | os.PathLike[str] | None = None,
    figsize: tuple[float, float] = (12.0, 4.0),
    dpi: float = 100,
) -> Any:
    """The lesson's figure: δ (N×V) beside ∂L/∂x̄ (N×D) and δᵀ·∂L/∂x̄ (V×D), one colour scale for the gradients."""
    mats = [np.asarray(getattr(m, "detach", lambda: m)(), dtype=np.float64) for m in (delta, grad_rows, table_grad)]
    ids = [int(i) for i in np.asarray(ids).reshape(-1)]
    fig = _figure(figsize, dpi)
    axes = fig.subplots(1, 3, width_ratios=[mats[0].shape[1], mats[1].shape[1], mats[2].shape[1]])
    axes[0].imshow(mats[0], aspect="auto", cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
    axes[0].set_title("δ: one-hot ids (N×V)")
    axes[0].set_yticks(range(len(ids)), [f"id {i}" for i in ids], fontsize=7)
    axes[0].set_xlabel("table row v")
    vmax = max(float(np.abs(m).max()) for m in mats[1:]) or 1.0
    image = None
    for ax, m, name, ylabel in (
        (axes[1], mats[1], "∂L/∂x̄ (N×D)", "looked-up row i"),
        (axes[2], mats[2], "δᵀ·∂L/∂x̄ = ∂L/∂W (V×D)", "table row v"),
    ):
        image = ax.imshow(m, aspect="auto", cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
        ax.set_title(name)
        ax.set_xlabel("dimension")
        ax.set_ylabel(ylabel)
    fig.colorbar(image, ax=list(axes[1:]), shrink=0.8)
    if path is not None:
        save_figure(fig, path)
    return fig
