"""The interactive page in a real browser: headless Chromium loads it from file://, searches, lists neighbours."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from embedforge.vectors import KeyedVectors
from embedforge.viz import to_html

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs a headless Chromium on PATH (Debian: apt-get install -y chromium)"
)


def _dump_dom(page: Path, query: str, profile: Path) -> str:
    url = page.resolve().as_uri() + "#q=" + urllib.parse.quote(query)
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        "--window-size=1000,700",
        "--dump-dom",
        url,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _neighbours(dom: str) -> list[str]:
    m = re.search(r'<ol id="neighbors">(.*?)</ol>', dom, re.S)
    assert m is not None, dom[:2000]
    return [html.unescape(w) for w in re.findall(r'<li data-word="([^"]*)"', m.group(1))]


def _brute(x: np.ndarray, i: int, k: int) -> list[int]:
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = u @ u[i]
    s[i] = -np.inf
    return list(np.argsort(-s, kind="stable")[:k])


def test_search_in_headless_chromium_lists_the_neighbours(tmp_path: Path, clustered) -> None:
    x, labels, groups = clustered
    labels = list(labels)
    labels[4] = "café au lait"  # non-ASCII and a space survive the URL and the lookup
    x = x.astype(np.float32)
    kv = KeyedVectors(labels, x)
    page = to_html(kv, tmp_path / "explore.html", groups=groups, topn=5)

    dom = _dump_dom(page, "café au lait", tmp_path / "profile")
    assert 'data-ready="1"' in dom  # the whole script ran without throwing
    got = _neighbours(dom)
    assert got == [labels[j] for j in _brute(x.astype(np.float64), 4, 5)]
    assert all(w.startswith("fruit") for w in got)  # planted cluster
    assert '<h4 id="selected">café au lait</h4>' in dom

    dom = _dump_dom(page, "no-such-word", tmp_path / "profile")
    assert _neighbours(dom) == []
    status = re.search(r'<div id="status">(.*?)</div>', dom, re.S)
    assert status is not None and "is not in the vocabulary" in html.unescape(status.group(1))


def _screenshot(page: Path, fragment: str, profile: Path, shot: Path) -> np.ndarray:
    from PIL import Image

    url = page.resolve().as_uri() + fragment
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        "--window-size=900,600",
        "--hide-scrollbars",
        f"--screenshot={shot}",
        url,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    with Image.open(shot) as im:
        return np.asarray(im.convert("RGB")).astype(int)


def _count(px: np.ndarray, rgb: tuple[int, int, int], tol: int = 40) -> int:
    return int((np.abs(px - np.array(rgb)).sum(axis=2) < tol).sum())


def test_canvas_draws_points_and_highlights_the_search(tmp_path: Path, clustered) -> None:
    x, labels, _ = clustered
    page = to_html(x, tmp_path / "plain.html", labels)  # no groups: every point is drawn in one blue
    plain = _screenshot(page, "", tmp_path / "profile", tmp_path / "plain.png")
    canvas = plain[:, 300:]  # right of the 260-px side panel
    assert _count(canvas, (31, 119, 180), tol=120) > 200  # blue points drawn
    assert _count(canvas, (214, 39, 40)) == 0  # nothing selected: no red ring
    chosen = _screenshot(page, "#q=tool3", tmp_path / "profile", tmp_path / "chosen.png")[:, 300:]
    assert _count(chosen, (214, 39, 40)) > 20  # the selected word's red ring
    assert _count(chosen, (255, 127, 14)) > 20  # its neighbours' orange rings
