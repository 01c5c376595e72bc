"""Static figures: pixel size, non-blank content, labels at the projected points, groups, tables, arrows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from embedforge.vectors import KeyedVectors
from embedforge.viz import analogy_arrows, heatmap, loss_curves, neighbor_table, project, scatter
from PIL import Image as PIL


def _read(path: Path) -> np.ndarray:
    with PIL.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float64)


def _check_image(path: Path, width: int, height: int) -> None:
    assert path.is_file()
    px = _read(path)
    assert px.shape == (height, width, 3)
    assert px.var() > 50.0  # not a blank canvas
    assert (px < 200).any(axis=2).mean() > 0.005  # some ink beyond the white background


def test_scatter_2d_file_size_content_and_label_positions(tmp_path: Path, clustered) -> None:
    x, labels, _ = clustered
    fig = scatter(x, labels, max_labels=10, path=tmp_path / "map.png", figsize=(6, 4), dpi=50)
    _check_image(tmp_path / "map.png", 300, 200)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == labels[:10]
    expected = project(x, "pca", 2)[:10]
    got = np.array([t.get_position() for t in ax.texts])
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    offsets = ax.collections[0].get_offsets()
    np.testing.assert_allclose(offsets, project(x, "pca", 2), atol=1e-12)


def test_scatter_label_cap_none_labels_everything_and_no_labels_without_words(clustered) -> None:
    x, labels, _ = clustered
    assert len(scatter(x, labels, max_labels=None).axes[0].texts) == len(labels)
    assert len(scatter(x).axes[0].texts) == 0


def test_scatter_keyedvectors_uses_keys_and_groups_color_points(tmp_path: Path, clustered) -> None:
    x, labels, groups = clustered
    kv = KeyedVectors(labels, x.astype(np.float32))
    fig = scatter(kv, groups=groups, max_labels=5, path=tmp_path / "g.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == labels[:5]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["fruit", "tool", "city"]
    colors = ax.collections[0].get_facecolors()
    by_group = {g: {tuple(c) for c, gg in zip(colors, groups) if gg == g} for g in legend}
    assert all(len(v) == 1 for v in by_group.values())
    assert len({next(iter(v)) for v in by_group.values()}) == 3
    _check_image(tmp_path / "g.png", 800, 600)


def test_scatter_3d_labels_at_projected_points(tmp_path: Path, clustered) -> None:
    x, labels, _ = clustered
    fig = scatter(x, labels, dims=3, max_labels=4, path=tmp_path / "m3.png", figsize=(5, 5), dpi=40)
    _check_image(tmp_path / "m3.png", 200, 200)
    expected = project(x, "pca", 3)[:4]
    got = np.array([t.get_position_3d() for t in fig.axes[0].texts])
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_scatter_two_columns_are_drawn_as_is() -> None:
    pts = np.array([[0.0, 1.0], [2.0, 3.0], [5.0, -1.0]])
    fig = scatter(pts, ["a", "b", "c"])
    np.testing.assert_allclose([t.get_position() for t in fig.axes[0].texts], pts)


def test_scatter_mismatched_labels_or_groups_raise(clustered) -> None:
    x, labels, groups = clustered
    with pytest.raises(ValueError, match="labels has 3 entries"):
        scatter(x, labels[:3])
    with pytest.raises(ValueError, match="groups has 2 entries"):
        scatter(x, labels, groups=groups[:2])


def test_heatmap_initial_vs_trained_shares_one_scale(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    init = rng.normal(scale=0.1, size=(20, 12))
    trained = init + rng.normal(size=(20, 12))
    fig = heatmap(
        init, trained, labels=[f"r{i}" for i in range(20)], max_rows=15, path=tmp_path / "h.png", figsize=(8, 4), dpi=50
    )
    _check_image(tmp_path / "h.png", 400, 200)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 2
    np.testing.assert_allclose(images[0].get_array(), init[:15])
    np.testing.assert_allclose(images[1].get_array(), trained[:15])
    vmax = np.abs(np.vstack([init[:15], trained[:15]])).max()
    assert images[0].get_clim() == images[1].get_clim() == pytest.approx((-vmax, vmax))
    with pytest.raises(ValueError, match="shape"):
        heatmap(init, trained[:5])


def test_loss_curves_from_history_forms(tmp_path: Path) -> None:
    hist = {
        "train_loss": [2.0, 1.5, 1.2],
        "val_loss": [2.1, 1.7, 1.6],
        "step_loss": [3.0, 2.5, 2.0, 1.8, 1.1],
        "lr": [0.1, 0.1, 0.01],
    }
    fig = loss_curves(hist, path=tmp_path / "loss.png", figsize=(6, 3), dpi=50)
    _check_image(tmp_path / "loss.png", 300, 150)
    step_ax, epoch_ax = fig.axes[:2]
    assert step_ax.get_xlabel() == "step" and epoch_ax.get_xlabel() == "epoch"
    lines = {ln.get_label(): ln for ln in epoch_ax.get_lines()}
    assert set(lines) == {"train_loss", "val_loss"}  # lr is not a loss
    np.testing.assert_allclose(lines["val_loss"].get_ydata(), hist["val_loss"])
    np.testing.assert_allclose(lines["val_loss"].get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(step_ax.get_lines()[0].get_ydata(), hist["step_loss"])

    records = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.1}, {"epoch": 2, "train_loss": 0.5, "val_loss": 0.7}]
    ax = loss_curves(records).axes[0]
    assert {ln.get_label() for ln in ax.get_lines()} == {"train_loss", "val_loss"}

    class Holder:
        history = {"loss": [1.0, 0.5]}

    np.testing.assert_allclose(loss_curves(Holder()).axes[0].get_lines()[0].get_ydata(), [1.0, 0.5])
    with pytest.raises(ValueError, match="no numeric series"):
        loss_curves({"note": "nothing"})


def _brute_neighbors(x: np.ndarray, i: int, k: int) -> list[int]:
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = u @ u[i]
    s[i] = -np.inf
    return list(np.argsort(-s, kind="stable")[:k])


def test_neighbor_table_matches_brute_force(clustered) -> None:
    x, labels, _ = clustered
    md = neighbor_table(x, ["fruit0", "city5"], topn=3, labels=labels)
    lines = md.splitlines()
    assert lines[0] == "| word | 1 | 2 | 3 |" and lines[1] == "|---|---|---|---|"
    for line, word in zip(lines[2:], ["fruit0", "city5"]):
        cells = [c.strip() for c in line.strip("|").split("|")]
        want = [labels[j] for j in _brute_neighbors(x, labels.index(word), 3)]
        assert cells[0] == word
        assert [c.split(" (")[0] for c in cells[1:]] == want
    kv = KeyedVectors(labels, x.astype(np.float32))
    text = neighbor_table(kv, ["tool1"], topn=2, fmt="text")
    want = [labels[j] for j in _brute_neighbors(x, labels.index("tool1"), 2)]
    assert text.splitlines()[1].split()[1::2] == want
    with pytest.raises(KeyError, match="'banana' is not in the vocabulary"):
        neighbor_table(kv, ["banana"])
    with pytest.raises(KeyError, match="'banana' is not in the vocabulary"):
        neighbor_table(x, ["banana"], labels=labels)


def test_analogy_arrows_finds_planted_answer(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    words = ["king", "man", "woman", "queen"] + [f"x{i}" for i in range(30)]
    x = rng.normal(size=(len(words), 20))
    x[:3] /= np.linalg.norm(x[:3], axis=1, keepdims=True)
    x[3] = x[0] - x[1] + x[2]  # queen = king - man + woman on unit vectors: the 3CosAdd answer
    kv = KeyedVectors(words, x.astype(np.float32))
    fig = analogy_arrows(kv, "king", "man", "woman", path=tmp_path / "arrows.png", figsize=(5, 4), dpi=50)
    assert fig.embedforge_answer == "queen"
    assert "≈ queen" in fig.axes[0].get_title()
    _check_image(tmp_path / "arrows.png", 250, 200)
    with pytest.raises(KeyError, match="'prince' is not in the vocabulary"):
        analogy_arrows(kv, "king", "man", "prince")
    with pytest.raises(ValueError, match="no words"):
        analogy_arrows(x, "king", "man", "woman")


def test_loss_curves_from_a_trainer_history() -> None:
    import torch
    from embedforge import train

    model = torch.nn.Linear(3, 1)
    trainer = train.Trainer(model, torch.nn.functional.mse_loss, torch.optim.SGD(model.parameters(), lr=0.05))
    x = torch.randn(32, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    batches = [(x[i : i + 8], y[i : i + 8]) for i in range(0, 32, 8)]
    trainer.fit(batches, epochs=3)
    fig = loss_curves(trainer)
    step_ax, epoch_ax = fig.axes[:2]
    np.testing.assert_allclose(step_ax.get_lines()[0].get_ydata(), [r["loss"] for r in trainer.history.steps])
    assert [ln.get_label() for ln in epoch_ax.get_lines()] == ["train_loss"]
    np.testing.assert_allclose(epoch_ax.get_lines()[0].get_ydata(), [r["train_loss"] for r in trainer.history.epochs])
    state = {"steps": trainer.history.steps, "epochs": trainer.history.epochs}  # the checkpoint form
    assert len(loss_curves(state).axes) == 2
