"""to_html() and page_data(): one self-contained file, inlined JSON, neighbours in the full space, atomic writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from embedforge.vectors import KeyedVectors
from embedforge.viz import page_data, project, to_html
from embedforge.viz._common import atomic_path


def _embedded(page: str) -> dict:
    m = re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S)
    assert m is not None
    return json.loads(m.group(1))


def test_page_is_self_contained_and_carries_the_data(tmp_path: Path, clustered) -> None:
    x, labels, groups = clustered
    kv = KeyedVectors(labels, x.astype(np.float32))
    path = to_html(kv, tmp_path / "explore.html", groups=groups, topn=4, title="Fruit & tools")
    page = path.read_text(encoding="utf-8")
    assert "<script src" not in page and "<link" not in page
    assert "http://" not in page and "https://" not in page
    assert page.count("<script") == 2  # the JSON block and the inline program
    assert "<title>Fruit &amp; tools</title>" in page
    data = _embedded(page)
    assert data["words"] == labels and data["groups"] == groups
    pts = project(x.astype(np.float32), "pca", 2)
    np.testing.assert_allclose(np.c_[data["x"], data["y"]], pts, atol=1e-4)
    unit = x.astype(np.float32).astype(np.float64)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    for i in (0, 13, 30):
        s = unit @ unit[i]
        s[i] = -np.inf
        assert data["nbr"][i] == list(np.argsort(-s, kind="stable")[:4])
        np.testing.assert_allclose(data["sim"][i], np.sort(s)[::-1][:4], atol=1e-4)


def test_words_that_look_like_markup_cannot_break_out_of_the_script(tmp_path: Path) -> None:
    labels = ["</script><script>alert(1)</script>", "a&b", "plain", "<!--"]
    x = np.eye(4) + 0.1
    page = to_html(x, tmp_path / "p.html", labels).read_text(encoding="utf-8")
    assert page.count("</script>") == 2
    assert _embedded(page)["words"] == labels


def test_max_points_keeps_the_first_rows_and_neighbours_stay_among_them(clustered) -> None:
    x, labels, _ = clustered
    data = page_data(x, labels, max_points=10, topn=3)
    assert data["words"] == labels[:10]
    assert all(0 <= j < 10 for row in data["nbr"] for j in row)
    assert page_data(x[:2], labels[:2], topn=5)["nbr"] == [[1], [0]]


def test_atomic_path_leaves_the_old_file_on_error(tmp_path: Path) -> None:
    target = tmp_path / "out.html"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.html"]
    with pytest.raises(ValueError, match="groups has 1 entries"):
        to_html(np.eye(3), target, ["a", "b", "c"], groups=["g"])
    assert target.read_text() == "old"
