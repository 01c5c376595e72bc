"""animate(): one GIF frame per snapshot, expected pixel size, frames that move, fixed axes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from embedforge.viz import animate
from PIL import Image as PIL


def _frames(path: Path) -> list[np.ndarray]:
    out = []
    with PIL.open(path) as im:
        for k in range(im.n_frames):
            im.seek(k)
            out.append(np.asarray(im.convert("RGB"), dtype=np.float64))
    return out


def test_gif_has_one_frame_per_snapshot_of_the_right_size(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    start = rng.normal(size=(6, 2))
    end = start * 3 + 1
    snaps = [torch.from_numpy(start + (end - start) * t) for t in np.linspace(0, 1, 5)]
    path = animate(
        snaps,
        list("abcdef"),
        tmp_path / "letters.gif",
        figsize=(4, 3),
        dpi=50,
        hold_last=0,
        titles=[f"epoch {k}" for k in range(5)],
    )
    assert path == tmp_path / "letters.gif"
    frames = _frames(path)
    assert len(frames) == 5
    assert all(f.shape == (150, 200, 3) for f in frames)
    assert all(f.var() > 50 for f in frames)
    assert np.abs(frames[0] - frames[-1]).mean() > 0.5  # the points moved
    with PIL.open(path) as im:
        assert im.format == "GIF"


def test_dict_snapshots_and_wide_snapshots_are_projected(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    snaps = {k: rng.normal(size=(8, 5)) for k in (2, 0, 1)}
    path = animate(snaps, None, tmp_path / "wide.gif", dpi=30, hold_last=2)
    assert len(_frames(path)) >= 3


@pytest.mark.parametrize(
    "snaps, labels, msg",
    [
        ([], None, "no snapshots"),
        ([np.zeros((3, 2)), np.zeros((4, 2))], None, "snapshot 1 has shape"),
        ([np.zeros((3, 1))], None, "at least 2 columns"),
        ([np.zeros((3, 2))], ["a"], "labels has 1 entries"),
    ],
)
def test_bad_snapshots_raise_and_write_nothing(tmp_path: Path, snaps, labels, msg) -> None:
    with pytest.raises(ValueError, match=msg):
        animate(snaps, labels, tmp_path / "bad.gif")
    assert list(tmp_path.iterdir()) == []


def test_groups_add_a_legend_and_must_match_rows(tmp_path: Path) -> None:
    snaps = [np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]]) * k for k in (1, 2)]
    animate(snaps, ["a", "b", "c"], tmp_path / "g.gif", groups=["vowel", "consonant", "consonant"], dpi=30)
    assert (tmp_path / "g.gif").is_file()
    with pytest.raises(ValueError, match="groups has 1 entries"):
        animate(snaps, ["a", "b", "c"], tmp_path / "bad.gif", groups=["vowel"])
    assert not (tmp_path / "bad.gif").exists()
