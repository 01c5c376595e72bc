"""Seeing embeddings: projections, figures, animations, an interactive page and a TensorBoard export.

Plotting libraries (matplotlib, scikit-learn, umap-learn, Pillow) are imported inside the functions that
need them, so importing this package is cheap; install them with `pip install 'embedforge[viz]'`.
"""

from __future__ import annotations

from ._common import save_figure
from .animation import animate
from .html import page_data, to_html
from .lessons import animate_line_fit, conv_heatmap, one_hot_figure, projection_bars
from .plots import analogy_arrows, heatmap, loss_curves, neighbor_table, scatter
from .projection import METHODS, project
from .projector import export_projector

__all__ = [
    "project",
    "METHODS",
    "scatter",
    "heatmap",
    "loss_curves",
    "neighbor_table",
    "analogy_arrows",
    "animate",
    "to_html",
    "page_data",
    "export_projector",
    "save_figure",
    "conv_heatmap",
    "projection_bars",
    "animate_line_fit",
    "one_hot_figure",
]
