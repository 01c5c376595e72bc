"""The sharded forward (and its gradients, no optimizer) equals one process on the whole batch.

One global batch is split over 2 or 3 real gloo ranks (loopback); each rank's output and its
shards' gradients are compared with the single-process collection on the whole batch.
"""

import pytest
import torch
from _dist_common import TOL, global_batch, reference, split_batch
from embedforge.distributed import ShardedEmbeddingBagCollection, TableConfig, spawn

B = 7  # bags per feature in the global batch


def _configs(pooling, padding):
    return [
        TableConfig("small", 11, 4, pooling=pooling, padding_idx=2 if padding else None),
        TableConfig(
            "big", 40, 8, feature_names=["big_a", "big_b"], pooling=pooling, padding_idx=5 if padding else None
        ),
        TableConfig("odd", 9, 3, pooling="sum"),
    ]


CASES = [  # pooling, padding, per-sample weights, id dtype, plan
    ("sum", False, False, torch.int64, {"small": "table", "big": "row", "odd": "row"}),
    ("sum", True, True, torch.int32, {"small": "row", "big": "table", "odd": 0}),
    ("mean", True, False, torch.int64, {"small": "row", "big": "row", "odd": "table"}),
    ("mean", False, True, torch.int32, None),
    ("max", True, False, torch.int64, {"small": "row", "big": "row", "odd": "row"}),
    ("max", False, False, torch.int32, {"small": "table", "big": "table", "odd": "row"}),
]


def _run_cases(rank, world):
    checked = 0
    for i, (pooling, padding, use_psw, dtype, plan) in enumerate(CASES):
        configs = _configs(pooling, padding)
        rows = [c.num_embeddings for c in configs for _ in c.feature_names]
        pads = [c.padding_idx for c in configs for _ in c.feature_names]
        torch.manual_seed(100 + i)
        state = {f"embedding_bags.{c.name}.weight": torch.randn(c.num_embeddings, c.embedding_dim) for c in configs}
        values, lengths, psw = global_batch(
            rows, B, seed=i, padding=pads if padding else None, dtype=dtype, psw=use_psw
        )
        G = torch.randn(
            B,
            sum(c.embedding_dim * len(c.feature_names) for c in configs),
            generator=torch.Generator().manual_seed(7 + i),
        )
        ref_out, ref_grads, ref_psw_grad = reference(configs, state, values, lengths, psw, B, G)

        sharded = ShardedEmbeddingBagCollection(configs, plan=plan)
        sharded.load_unsharded_state_dict(state)
        v, l, p, (a, b) = split_batch(values, lengths, psw, len(rows), B, world)[rank]
        if p is not None:
            p = p.clone().requires_grad_()
        out = sharded(v, lengths=l, per_sample_weights=p)
        torch.testing.assert_close(out, ref_out[a:b], **TOL, msg=lambda m: f"case {i} forward: {m}")
        (out * G[a:b]).sum().backward()
        for name, shard in sharded.embedding_bags.items():
            torch.testing.assert_close(
                shard.weight.grad,
                ref_grads[name][shard.row_start : shard.row_end],
                **TOL,
                msg=lambda m: f"case {i} grad of {name}: {m}",
            )
        if p is not None:
            _, _, ref_p, _ = split_batch(values, lengths, ref_psw_grad, len(rows), B, world)[rank]
            torch.testing.assert_close(p.grad, ref_p, **TOL, msg=lambda m: f"case {i} psw grad: {m}")
        checked += 1
    return checked


@pytest.mark.parametrize("world", [2, 3])
def test_sharded_forward_and_gradients_equal_one_process(world):
    assert spawn(_run_cases, world, timeout=20, join_timeout=90) == [len(CASES)] * world


def _dict_output_and_eval(rank, world):
    configs = _configs("sum", False)
    torch.manual_seed(3)
    sharded = ShardedEmbeddingBagCollection(configs, output="dict", poll_collectives=False)  # blocking waits
    values, lengths, _ = global_batch([11, 40, 40, 9], B, seed=5)
    v, l, _, _ = split_batch(values, lengths, None, 4, B, world)[rank]
    with torch.no_grad():  # no backward follows: every rank skips it alike
        d = sharded(v, lengths=l)
    assert list(d) == ["small", "big_a", "big_b", "odd"]
    assert d["big_b"].shape[1] == 8
    # an empty local batch on one rank still takes part in the exchange
    if rank == 1:
        v, l = v[:0], l[:0]
    out = sharded(v, lengths=l)
    torch.cat(list(out.values()), 1).sum().backward()
    return str(sharded.plan)


def test_dict_output_no_grad_and_empty_local_batch():
    plans = spawn(_dict_output_and_eval, 2, timeout=20, join_timeout=60)
    assert plans[0] == plans[1] and "big" in plans[0] and "ranks" in plans[0]


def _bytes(rank, world):
    rows, D, b, L = 1000, 8, 16, 5
    sharded = ShardedEmbeddingBagCollection([TableConfig("t", rows, D)], plan={"t": "row"})
    g = torch.Generator().manual_seed(rank)
    values = torch.randint(0, rows, (b * L,), generator=g)
    sharded(values, lengths=torch.full((b,), L)).sum().backward()
    lo, hi = sharded.plan["t"].rows_of(rank)
    leaving = int(((values < lo) | (values >= hi)).sum())
    # docs/scaling.md: counts, ids (int32), one bag length per bag per other rank, partial pools back
    expect_fwd = 24 * (world - 1) + 4 * leaving + 4 * b * (world - 1) + 4 * b * D * (world - 1)
    expect_bwd = 4 * b * D * (world - 1)
    return sharded.last_step_bytes == {"forward": expect_fwd, "backward": expect_bwd}


def test_bytes_sent_match_the_formula():
    assert spawn(_bytes, 3, timeout=20, join_timeout=60) == [True] * 3
