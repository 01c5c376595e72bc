"""Export for TensorBoard's embedding projector: tensors.tsv, metadata.tsv and projector_config.pbtxt."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ._common import as_labels, as_matrix, atomic_path

__all__ = ["export_projector"]


def _cell(value: Any) -> str:
    text = str(value).replace("\t", " ").replace("\r", " ").replace("\n", " ")
    return text if text.strip() else "<empty>"


def _pbtxt_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def export_projector(
    vectors: Any,
    out_dir: str | os.PathLike[str],
    labels: Sequence[Any] | None = None,
    *,
    metadata: Mapping[str, Sequence[Any]] | None = None,
    tensor_name: str = "embeddings",
    max_points: int | None = None,
) -> Path:
    """Write a TensorBoard projector folder (load with `tensorboard --logdir DIR`) and return its path.

    metadata.tsv has one column (the labels) without a header, or a header row when `metadata` adds
    columns, as the projector expects.
    """
    x = as_matrix(vectors, dtype=np.float32)
    names = as_labels(vectors, labels, len(x))
    keep = len(x) if max_points is None else min(max_points, len(x))
    x = x[:keep]
    columns: dict[str, list[Any]] = {}
    if names is not None:
        columns["word"] = names[:keep]
    for key, values in (metadata or {}).items():
        if len(values) < keep:
            raise ValueError(f"metadata column {key!r} has {len(values)} entries but there are {keep} vectors")
        columns[str(key)] = list(values)[:keep]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "tensors.tsv") as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            for row in x:
                fh.write("\t".join(f"{v:.9g}" for v in row.tolist()) + "\n")  # 9 digits: float32 round-trips
    have_meta = bool(columns)
    if have_meta:
        with atomic_path(out / "metadata.tsv") as tmp:
            with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
                if len(columns) > 1:
                    fh.write("\t".join(_cell(k) for k in columns) + "\n")
                for i in range(keep):
                    fh.write("\t".join(_cell(col[i]) for col in columns.values()) + "\n")
    lines = ["embeddings {", f"  tensor_name: {_pbtxt_string(tensor_name)}", '  tensor_path: "tensors.tsv"']
    lines += [f"  tensor_shape: {keep}", f"  tensor_shape: {x.shape[1]}"]
    if have_meta:
        lines.append('  metadata_path: "metadata.tsv"')
    lines.append("}")
    with atomic_path(out / "projector_config.pbtxt") as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out
