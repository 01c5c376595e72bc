"""Direct op calls with a meta tensor among CPU ones (issue 14 §2: devices of every tensor).

The dispatcher sends such a call to the fake (meta) kernel. Those used to return an uninitialised
CPU tensor, or do nothing for the in-place steps; now they raise as the native kernels do for any other
device mix. Also under FakeTensorMode (torch.compile's tracing) the fakes check what they can.
"""

from __future__ import annotations

import pytest
import torch
from embedforge.ops.word2vec import sgns_step
from torch._subclasses.fake_tensor import FakeTensorMode

ops = torch.ops.embedforge
EMPTY = torch.empty(0, dtype=torch.long)


def _meta(t):
    return t.to("meta")


def _fused_args(table, ids, grad):
    return (table, grad, ids, torch.tensor([0]), 0, None, EMPTY, -1, False)


CASES = {
    "sgns_step centers": lambda I, O, ids: sgns_step(I, O, _meta(ids), ids, ids, 0.1),
    "sgns_step out_table": lambda I, O, ids: sgns_step(I, _meta(O), ids, ids, ids, 0.1),
    "embedding_bag indices": lambda I, O, ids: ops.embedding_bag(
        I, _meta(ids), torch.tensor([0]), 0, None, -1, False, False
    ),
    "embedding_bag offsets": lambda I, O, ids: ops.embedding_bag(
        I, ids, _meta(torch.tensor([0])), 0, None, -1, False, False
    ),
    "backward_dense grad": lambda I, O, ids: ops.embedding_bag_backward_dense(
        _meta(torch.ones(1, 4)), ids, torch.tensor([0]), 10, 0, None, EMPTY, -1, False
    ),
    "collection values": lambda I, O, ids: ops.embedding_bag_collection(
        [I], _meta(ids), torch.tensor([0, 2]), [0], [0], [-1], None, 1
    ),
    "collection second table": lambda I, O, ids: ops.embedding_bag_collection(
        [I, _meta(O)], ids, torch.tensor([0, 1, 2]), [0, 1], [0, 0], [-1, -1], None, 1
    ),
    "fused_sgd_step indices": lambda I, O, ids: ops.fused_sgd_step(
        *_fused_args(I, _meta(ids), torch.ones(1, 4)), 0.1, 0.0, False, 0
    ),
    "fused_adagrad_step state": lambda I, O, ids: ops.fused_adagrad_step(
        I, _meta(torch.zeros_like(I)), *_fused_args(I, ids, torch.ones(1, 4))[1:], 0.1, 1e-8, 0.0, False, 0
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_meta_tensor_among_cpu_ones_raises_and_changes_nothing(case):
    gen = torch.Generator().manual_seed(3)
    I, O = torch.randn(10, 4, generator=gen), torch.randn(10, 4, generator=gen)
    before = I.clone(), O.clone()
    ids = torch.tensor([1, 2])
    with pytest.raises(ValueError, match="same device"):
        CASES[case](I, O, ids)
    assert torch.equal(I, before[0]) and torch.equal(O, before[1])


def test_fake_sgns_step_checks_shapes_under_fake_mode():
    with FakeTensorMode():
        I, O = torch.randn(10, 4), torch.zeros(10, 4)
        assert sgns_step(I, O, torch.tensor([1, 2]), torch.tensor([3, 4]), torch.tensor([5]), 0.1).shape == (2,)
        with pytest.raises(RuntimeError, match="same length"):
            ops.sgns_step(I, O, torch.tensor([1, 2]), torch.tensor([2]), torch.tensor([3]), 0.1)
        with pytest.raises(RuntimeError, match="columns"):
            ops.sgns_step(I, torch.zeros(10, 5), torch.tensor([1]), torch.tensor([2]), torch.tensor([3]), 0.1)
        with pytest.raises(RuntimeError, match="int64"):
            ops.sgns_step(I, O, torch.tensor([1], dtype=torch.int32), torch.tensor([2]), torch.tensor([3]), 0.1)


def test_fake_collection_checks_table_ids_under_fake_mode():
    with FakeTensorMode():
        w = torch.randn(10, 4)
        out = ops.embedding_bag_collection([w], torch.tensor([1, 2]), torch.tensor([0, 1, 2]), [0], [0], [-1], None, 2)
        assert out.shape == (2, 4)
        with pytest.raises(RuntimeError, match="out of range"):
            ops.embedding_bag_collection([w], torch.tensor([1, 2]), torch.tensor([0, 1, 2]), [1], [0], [-1], None, 2)
