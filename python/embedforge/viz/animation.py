"""Training animations: snapshots of a small embedding across epochs rendered to a GIF (Pillow, no ffmpeg)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ._common import as_matrix, atomic_path

__all__ = ["animate"]


def _frames(snapshots: Any) -> list[np.ndarray]:
    if isinstance(snapshots, dict):
        snapshots = [snapshots[k] for k in sorted(snapshots)]
    frames = [as_matrix(s) for s in snapshots]
    if not frames:
        raise ValueError("no snapshots to animate")
    shape = frames[0].shape
    for k, f in enumerate(frames):
        if f.shape != shape:
            raise ValueError(f"snapshot {k} has shape {f.shape} but snapshot 0 has shape {shape}")
    if shape[1] < 2:
        raise ValueError(f"snapshots must have at least 2 columns, got {shape[1]}")
    if shape[1] > 2:  # one PCA fitted on the last frame, applied to all, so the axes stay fixed
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, svd_solver="full").fit(frames[-1])
        frames = [pca.transform(f) for f in frames]
    return frames


def animate(
    snapshots: Any,
    labels: Sequence[Any] | None,
    path: str | os.PathLike[str],
    *,
    fps: float = 4,
    titles: Sequence[str] | None = None,
    groups: Sequence[Any] | None = None,
    figsize: tuple[float, float] = (6.0, 6.0),
    dpi: float = 80,
    hold_last: int = 3,
) -> Path:
    """Write a GIF with one frame per snapshot (list or {epoch: array} of N x 2 arrays); returns the path.

    Axis limits are fixed from all snapshots so movement is visible; the last frame is held for
    `hold_last` extra frames. Wider snapshots are projected with one PCA fitted on the last snapshot.
    """
    from matplotlib.animation import PillowWriter
    from matplotlib.figure import Figure

    frames = _frames(snapshots)
    n = frames[0].shape[0]
    names = [str(x) for x in labels] if labels is not None else None
    if names is not None and len(names) != n:
        raise ValueError(f"labels has {len(names)} entries but snapshots have {n} rows")
    if titles is not None and len(titles) != len(frames):
        raise ValueError(f"titles has {len(titles)} entries but there are {len(frames)} snapshots")
    allp = np.vstack(frames)
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    pad = np.maximum((hi - lo) * 0.08, 1e-6)
    colors: Any = "tab:blue"
    palette: dict[Any, Any] = {}
    if groups is not None:
        from .plots import _group_colors

        if len(groups) != n:
            raise ValueError(f"groups has {len(groups)} entries but snapshots have {n} rows")
        colors, palette = _group_colors(list(groups))
    fig = Figure(figsize=figsize, dpi=dpi)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.08, right=0.97, bottom=0.07, top=0.92)
    pts = ax.scatter(frames[0][:, 0], frames[0][:, 1], s=18, c=colors)
    texts = (
        [ax.text(frames[0][i, 0], frames[0][i, 1], names[i], fontsize=9, ha="left", va="bottom") for i in range(n)]
        if names
        else []
    )
    if palette:
        from matplotlib.lines import Line2D

        ax.legend(
            handles=[Line2D([], [], marker="o", linestyle="", color=c, label=str(g)) for g, c in palette.items()],
            loc="upper right",
            fontsize="small",
        )
    ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
    ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
    ax.grid(alpha=0.3)
    title = ax.set_title("")
    writer = PillowWriter(fps=fps)
    with atomic_path(path, suffix=".gif") as tmp:
        with writer.saving(fig, str(tmp), dpi):
            for k, f in enumerate(frames + [frames[-1]] * max(0, hold_last)):
                kk = min(k, len(frames) - 1)
                pts.set_offsets(f)
                for i, t in enumerate(texts):
                    t.set_position((f[i, 0], f[i, 1]))
                title.set_text(titles[kk] if titles is not None else f"snapshot {kk + 1}/{len(frames)}")
                writer.grab_frame()
    return Path(path)
