"""The lesson figures: filter heatmaps, projection bars, the line-fit GIF (one frame per snapshot), δ beside gradients."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("matplotlib", reason="figures need matplotlib (the viz extra)")
PIL = pytest.importorskip("PIL.Image", reason="the GIF is written by Pillow (the viz extra)")

from embedforge.models import TextCNN, conv_ngrams  # noqa: E402
from embedforge.models.linear import fit_line_numpy, noisy_line  # noqa: E402
from embedforge.models.lookup_grad import one_hot, one_hot_table_grad  # noqa: E402
from embedforge.viz import animate_line_fit, conv_heatmap, one_hot_figure, projection_bars  # noqa: E402


def _pixels(path: Path) -> np.ndarray:
    with PIL.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float64)


def test_line_fit_gif_has_one_frame_per_snapshot(tmp_path: Path) -> None:
    x, y = noisy_line(40, seed=0)
    fit = fit_line_numpy(x, y, lr=0.2, steps=30, snapshot_every=3)
    path = animate_line_fit(x, y, fit.params, tmp_path / "fit.gif", frame_ms=50, hold_ms=900, dpi=50)
    with PIL.open(path) as im:
        assert im.format == "GIF" and im.size == (250, 200)
        assert im.n_frames == len(fit.steps) == 11
        durations, frames = [], []
        for k in range(im.n_frames):
            im.seek(k)
            durations.append(im.info["duration"])
            frames.append(np.asarray(im.convert("RGB"), dtype=np.float64))
    assert durations[:-1] == [50] * 10 and durations[-1] == 900  # the last frame is held
    assert np.abs(frames[0] - frames[-1]).sum() > 0  # the line moved
    with pytest.raises(ValueError, match="titles has 2 entries"):
        animate_line_fit(x, y, fit.params, tmp_path / "bad.gif", titles=["a", "b"])
    assert not (tmp_path / "bad.gif").exists()


def test_conv_heatmap_has_a_panel_per_width(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = TextCNN(20, 8, 2, widths=(1, 3), n_filters=6, hidden=4)
    r = conv_ngrams(model, [2, 3, 4, 5, 6, 7])
    fig = conv_heatmap(r, path=tmp_path / "cnn.png")
    panels = [ax for ax in fig.axes if ax.images and ax.get_ylabel().startswith("width")]
    assert len(panels) == 2
    assert [t.get_text() for t in panels[0].get_xticklabels()] == r.tokens
    assert panels[1].images[0].get_array().shape == (6, 4)
    assert _pixels(tmp_path / "cnn.png").var() > 10


def test_projection_bars_and_one_hot_figure(tmp_path: Path) -> None:
    fig = projection_bars(
        [("a", 0.4), ("b", -0.2)], axis_name="x − y", baseline=np.linspace(-0.1, 0.1, 50), path=tmp_path / "bars.png"
    )
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"] and ax.get_xlabel() == "cosine with x − y"
    with pytest.raises(ValueError, match="no projections"):
        projection_bars([])
    ids = torch.tensor([1, 4, 1])
    g = torch.randn(3, 2)
    fig = one_hot_figure(ids, one_hot(ids, 5), g, one_hot_table_grad(ids, g, 5), path=tmp_path / "onehot.png")
    shapes = [ax.images[0].get_array().shape for ax in fig.axes if ax.images]
    assert shapes == [(3, 5), (3, 2), (5, 2)]
    assert (tmp_path / "onehot.png").stat().st_size > 1000
