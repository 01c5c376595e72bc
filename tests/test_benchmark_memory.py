"""The lookup-speed and table-memory helpers: bytes read from tensors, the dict holds the same rows."""

from __future__ import annotations

import numpy as np
import torch
from embedforge.benchmark import dict_of_vectors, lookup_vs_dict, table_memory


def test_table_memory_is_read_from_the_tensors() -> None:
    rows = table_memory((1_000, 10_000), dim=24)
    assert [(r["rows"], r["dtype"]) for r in rows] == [
        (n, d) for n in (1_000, 10_000) for d in ("float32", "float16", "bfloat16")
    ]
    for r in rows:
        assert r["bytes"] == r["rows"] * 24 * (4 if r["dtype"] == "float32" else 2)
        assert r["bytes_per_row"] == r["bytes"] / r["rows"]


def test_dict_of_vectors_holds_the_rows_and_costs_more_than_the_table() -> None:
    table = torch.randn(500, 16)
    vectors, used = dict_of_vectors(table)
    assert len(vectors) == 500 and np.array_equal(vectors[123], table[123].numpy())
    assert used > table.untyped_storage().nbytes()  # headers and dict entries on top of the row data


def test_lookup_vs_dict_returns_the_same_rows() -> None:
    out = lookup_vs_dict(rows=2_000, dim=8, batch=64, iters=2)
    assert out["same_rows"] is True
    assert all(out[k] > 0 for k in ("embedforge_ms", "torch_index_ms", "dict_ms"))
