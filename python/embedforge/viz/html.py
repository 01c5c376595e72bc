"""A self-contained interactive HTML page: zoom, pan, hover labels, word search and nearest neighbours."""

from __future__ import annotations

import html as _html
import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ._common import as_labels, as_matrix, atomic_path, cosine_neighbors
from .projection import project

__all__ = ["to_html", "page_data"]


def page_data(
    vectors: Any,
    labels: Sequence[Any] | None = None,
    *,
    groups: Sequence[Any] | None = None,
    method: str = "pca",
    topn: int = 10,
    max_points: int | None = 5000,
    seed: int = 0,
) -> dict:
    """The JSON-ready data the page embeds: words, 2-D positions, groups, neighbour indices and cosines.

    Neighbours are computed in the full-dimensional space among the points kept (the first `max_points`).
    """
    x = as_matrix(vectors)
    names = as_labels(vectors, labels, len(x))
    if names is None:
        names = [str(i) for i in range(len(x))]
    if groups is not None and len(groups) != len(x):
        raise ValueError(f"groups has {len(groups)} entries but there are {len(x)} vectors")
    keep = len(x) if max_points is None else min(max_points, len(x))
    x, names = x[:keep], names[:keep]
    pts = x if x.shape[1] == 2 else project(x, method=method, dims=2, seed=seed)
    nbr, sim = cosine_neighbors(x, topn)
    return {
        "words": names,
        "x": np.round(pts[:, 0], 5).tolist(),
        "y": np.round(pts[:, 1], 5).tolist(),
        "groups": [str(g) for g in groups[:keep]] if groups is not None else None,
        "nbr": nbr.tolist(),
        "sim": np.round(sim, 4).tolist(),
    }


def _json_for_script(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_PAGE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
  body { margin: 0; font: 14px system-ui, sans-serif; display: flex; height: 100vh; color: #222; }
  #side { width: 260px; padding: 12px; box-sizing: border-box; border-right: 1px solid #ddd; overflow-y: auto; }
  #main { flex: 1; position: relative; }
  canvas { width: 100%; height: 100%; display: block; cursor: grab; }
  #tip { position: absolute; pointer-events: none; background: #fffbe6; border: 1px solid #aaa;
         padding: 2px 6px; border-radius: 3px; display: none; font-size: 13px; }
  #neighbors li { cursor: pointer; margin: 2px 0; }
  #neighbors li:hover { text-decoration: underline; }
  #status { color: #a33; min-height: 1.2em; }
  input[type=search] { width: 100%; box-sizing: border-box; padding: 4px; }
  .hint { color: #777; font-size: 12px; }
  #legend { list-style: none; padding: 0; font-size: 12px; }
  #legend span { display: inline-block; width: 10px; height: 10px; border-radius: 5px; margin-right: 6px; }
</style>
</head>
<body>
<div id="side">
  <h3 id="title">__TITLE__</h3>
  <form id="form"><input id="search" type="search" list="words" placeholder="search a word" autocomplete="off"></form>
  <datalist id="words"></datalist>
  <div id="status"></div>
  <h4 id="selected"></h4>
  <ol id="neighbors"></ol>
  <label><input id="all" type="checkbox"> show all labels</label>
  <ul id="legend"></ul>
  <p class="hint"><span id="count"></span> points. Wheel to zoom, drag to pan, double-click to reset.
  Hover a point for its word; click it to show its neighbours. Open with <code>#q=word</code> to search.</p>
</div>
<div id="main"><canvas id="plot"></canvas><div id="tip"></div></div>
<script id="data" type="application/json">__DATA__</script>
<script>
"use strict";
(function () {
  var D = JSON.parse(document.getElementById("data").textContent);
  var N = D.words.length, index = {};
  for (var i = 0; i < N; i++) if (!(D.words[i] in index)) index[D.words[i]] = i;
  var canvas = document.getElementById("plot"), ctx = canvas.getContext("2d");
  var tip = document.getElementById("tip"), list = document.getElementById("neighbors");
  var status = document.getElementById("status"), selectedEl = document.getElementById("selected");
  var showAll = document.getElementById("all");
  document.getElementById("count").textContent = String(N);
  var palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"];
  var groupColor = {}, ng = 0;
  if (D.groups) D.groups.forEach(function (g) { if (!(g in groupColor)) groupColor[g] = palette[ng++ % 10]; });
  Object.keys(groupColor).forEach(function (g) {
    var li = document.createElement("li"), sw = document.createElement("span");
    sw.style.background = groupColor[g]; li.appendChild(sw); li.appendChild(document.createTextNode(g));
    document.getElementById("legend").appendChild(li);
  });
  var dl = document.getElementById("words"), frag = document.createDocumentFragment();
  for (var j = 0; j < Math.min(N, 20000); j++) { var o = document.createElement("option"); o.value = D.words[j]; frag.appendChild(o); }
  dl.appendChild(frag);
  var minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (var k = 0; k < N; k++) {
    minX = Math.min(minX, D.x[k]); maxX = Math.max(maxX, D.x[k]);
    minY = Math.min(minY, D.y[k]); maxY = Math.max(maxY, D.y[k]);
  }
  var view = { s: 1, tx: 0, ty: 0 }, W = 1, H = 1, selected = -1, hover = -1, nset = {};
  function fit() {
    var sx = (maxX - minX) || 1, sy = (maxY - minY) || 1;
    view.s = 0.9 * Math.min(W / sx, H / sy);
    view.tx = W / 2 - view.s * (minX + maxX) / 2;
    view.ty = H / 2 + view.s * (minY + maxY) / 2;
  }
  function sx(i) { return view.tx + view.s * D.x[i]; }
  function sy(i) { return view.ty - view.s * D.y[i]; }
  function resize() {
    var r = canvas.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
    W = Math.max(1, r.width); H = Math.max(1, r.height);
    canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    draw();
  }
  function draw() {
    ctx.clearRect(0, 0, W, H);
    ctx.font = "12px system-ui, sans-serif";
    var labelled = 0;
    for (var i = 0; i < N; i++) {
      var x = sx(i), y = sy(i);
      if (x < -10 || y < -10 || x > W + 10 || y > H + 10) continue;
      ctx.fillStyle = D.groups ? groupColor[D.groups[i]] : "#1f77b4";
      ctx.globalAlpha = selected >= 0 && i !== selected && !(i in nset) ? 0.25 : 0.85;
      ctx.beginPath(); ctx.arc(x, y, 3, 0, 6.2832); ctx.fill();
      if (showAll.checked && labelled < 500) { ctx.fillStyle = "#333"; ctx.fillText(D.words[i], x + 4, y - 4); labelled++; }
    }
    ctx.globalAlpha = 1;
    var marks = Object.keys(nset).map(Number);
    if (selected >= 0) marks.push(selected);
    marks.forEach(function (m) {
      var x = sx(m), y = sy(m);
      ctx.strokeStyle = m === selected ? "#d62728" : "#ff7f0e"; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.arc(x, y, m === selected ? 7 : 5, 0, 6.2832); ctx.stroke();
      ctx.fillStyle = "#000"; ctx.font = m === selected ? "bold 14px system-ui" : "12px system-ui";
      ctx.fillText(D.words[m], x + 8, y - 6);
    });
  }
  function nearest(px, py) {
    var best = -1, bd = 64;
    for (var i = 0; i < N; i++) { var dx = sx(i) - px, dy = sy(i) - py, d = dx * dx + dy * dy; if (d < bd) { bd = d; best = i; } }
    return best;
  }
  function select(i) {
    selected = i; nset = {};
    list.innerHTML = "";
    if (i < 0) { selectedEl.textContent = ""; draw(); return; }
    selectedEl.textContent = D.words[i];
    for (var r = 0; r < D.nbr[i].length; r++) {
      var j = D.nbr[i][r]; nset[j] = true;
      var li = document.createElement("li");
      li.textContent = D.words[j] + " (" + D.sim[i][r].toFixed(3) + ")";
      li.setAttribute("data-word", D.words[j]);
      li.addEventListener("click", (function (jj) { return function () { search(D.words[jj]); }; })(j));
      list.appendChild(li);
    }
    draw();
  }
  function search(word) {
    word = (word || "").trim();
    document.getElementById("search").value = word;
    if (!word) { status.textContent = ""; select(-1); return; }
    var i = index[word];
    if (i === undefined) { var lw = word.toLowerCase(); for (var w in index) if (w.toLowerCase() === lw) { i = index[w]; break; } }
    if (i === undefined) { status.textContent = "\u201c" + word + "\u201d is not in the vocabulary"; select(-1); return; }
    status.textContent = "";
    select(i);
    var x = sx(i), y = sy(i);
    if (x < 0 || y < 0 || x > W || y > H) { view.tx += W / 2 - x; view.ty += H / 2 - y; draw(); }
  }
  document.getElementById("form").addEventListener("submit", function (e) { e.preventDefault(); search(document.getElementById("search").value); });
  document.getElementById("search").addEventListener("change", function (e) { search(e.target.value); });
  showAll.addEventListener("change", draw);
  canvas.addEventListener("wheel", function (e) {
    e.preventDefault();
    var r = canvas.getBoundingClientRect(), px = e.clientX - r.left, py = e.clientY - r.top;
    var f = Math.exp(-e.deltaY * 0.0015);
    view.tx = px - f * (px - view.tx); view.ty = py - f * (py - view.ty); view.s *= f;
    draw();
  }, { passive: false });
  var drag = null, moved = false;
  canvas.addEventListener("mousedown", function (e) { drag = { x: e.clientX, y: e.clientY }; moved = false; canvas.style.cursor = "grabbing"; });
  window.addEventListener("mouseup", function (e) {
    if (drag && !moved) { var r = canvas.getBoundingClientRect(); var i = nearest(e.clientX - r.left, e.clientY - r.top); if (i >= 0) search(D.words[i]); }
    drag = null; canvas.style.cursor = "grab";
  });
  canvas.addEventListener("mousemove", function (e) {
    var r = canvas.getBoundingClientRect(), px = e.clientX - r.left, py = e.clientY - r.top;
    if (drag) {
      var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 2) moved = true;
      view.tx += dx; view.ty += dy; drag = { x: e.clientX, y: e.clientY }; draw(); return;
    }
    var i = nearest(px, py);
    if (i !== hover) { hover = i; }
    if (i >= 0) {
      tip.style.display = "block"; tip.style.left = (px + 12) + "px"; tip.style.top = (py + 12) + "px";
      tip.textContent = D.words[i] + (D.groups ? " \u00b7 " + D.groups[i] : "");
    } else tip.style.display = "none";
  });
  canvas.addEventListener("mouseleave", function () { tip.style.display = "none"; });
  canvas.addEventListener("dblclick", function () { fit(); draw(); });
  function fromLocation() {
    var m = /[#&?]q=([^&]*)/.exec(window.location.hash || "") || /[?&]q=([^&]*)/.exec(window.location.search || "");
    if (m) search(decodeURIComponent(m[1].replace(/\+/g, " ")));
  }
  window.addEventListener("hashchange", fromLocation);
  window.addEventListener("resize", function () { resize(); });
  var r0 = canvas.getBoundingClientRect(); W = Math.max(1, r0.width); H = Math.max(1, r0.height);
  fit(); resize();
  fromLocation();
  document.documentElement.setAttribute("data-ready", "1");
})();
</script>
</body>
</html>
"""


def to_html(
    vectors: Any,
    path: str | os.PathLike[str],
    labels: Sequence[Any] | None = None,
    *,
    groups: Sequence[Any] | None = None,
    method: str = "pca",
    topn: int = 10,
    max_points: int | None = 5000,
    title: str = "embedforge: embedding explorer",
    seed: int = 0,
) -> Path:
    """Write one self-contained HTML file (data inlined as JSON, no external scripts) and return its path."""
    data = page_data(vectors, labels, groups=groups, method=method, topn=topn, max_points=max_points, seed=seed)
    page = _PAGE.replace("__TITLE__", _html.escape(title)).replace("__DATA__", _json_for_script(data))
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return Path(path)
