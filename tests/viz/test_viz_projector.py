"""export_projector(): the three files, read back with numpy and with TensorBoard's own config parser."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from embedforge.vectors import KeyedVectors
from embedforge.viz import export_projector


def _parse_config(path: Path):
    pb2 = pytest.importorskip(
        "tensorboard.plugins.projector.projector_config_pb2",
        reason="tensorboard is not installed (pip install tensorboard)",
    )
    text_format = pytest.importorskip("google.protobuf.text_format", reason="protobuf is not installed")
    return text_format.Parse(path.read_text(encoding="utf-8"), pb2.ProjectorConfig())


def test_several_metadata_columns_get_a_header(tmp_path: Path, clustered) -> None:
    x, labels, groups = clustered
    labels = list(labels)
    labels[1] = "tab\there"
    kv = KeyedVectors(labels, x.astype(np.float32))
    out = export_projector(kv, tmp_path / "proj", metadata={"group": groups}, tensor_name='words "v1"')
    tensors = np.loadtxt(out / "tensors.tsv", delimiter="\t", dtype=np.float32)
    np.testing.assert_array_equal(tensors, x.astype(np.float32))
    meta = (out / "metadata.tsv").read_text(encoding="utf-8").splitlines()
    assert meta[0] == "word\tgroup"
    assert len(meta) == len(x) + 1
    assert meta[1] == f"{labels[0]}\t{groups[0]}"
    assert meta[2].split("\t") == ["tab here", groups[1]]
    cfg = _parse_config(out / "projector_config.pbtxt")
    assert len(cfg.embeddings) == 1
    emb = cfg.embeddings[0]
    assert emb.tensor_name == 'words "v1"'
    assert emb.tensor_path == "tensors.tsv" and emb.metadata_path == "metadata.tsv"
    assert list(emb.tensor_shape) == [len(x), x.shape[1]]
    assert (out / emb.tensor_path).is_file() and (out / emb.metadata_path).is_file()


def test_single_column_has_no_header_and_unlabelled_has_no_metadata(tmp_path: Path, clustered) -> None:
    x, labels, _ = clustered
    out = export_projector(x, tmp_path / "one", labels, max_points=5)
    assert (out / "metadata.tsv").read_text(encoding="utf-8").splitlines() == labels[:5]
    assert np.loadtxt(out / "tensors.tsv", delimiter="\t").shape == (5, x.shape[1])
    bare = export_projector(x, tmp_path / "bare")
    assert not (bare / "metadata.tsv").exists()
    cfg = _parse_config(bare / "projector_config.pbtxt")
    assert cfg.embeddings[0].metadata_path == ""
    with pytest.raises(ValueError, match="metadata column 'g' has 2 entries"):
        export_projector(x, tmp_path / "bad", labels, metadata={"g": [1, 2]})
