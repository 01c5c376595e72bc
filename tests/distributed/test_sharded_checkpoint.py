"""Checkpoints written by 2 ranks load on 1 and 3 ranks with every row and optimizer state equal."""

import json
import os

import embedforge
import torch
from _dist_common import global_batch, split_batch
from embedforge.distributed import ShardedEmbeddingBagCollection, TableConfig, spawn


def _configs():
    return [
        TableConfig("wide", 50, 4, optimizer=embedforge.optim.Adam(lr=0.05)),
        TableConfig("rw", 31, 3, feature_names=["rw1", "rw2"], optimizer=embedforge.optim.RowWiseAdagrad(lr=0.1)),
        TableConfig("lazy", 13, 2, pooling="max", optimizer=embedforge.optim.LazyAdam(lr=0.05)),
        TableConfig("plain", 9, 2),
    ]


PLAN2 = {"wide": "row", "rw": "row", "lazy": "table", "plain": 1}


def _train_and_save(rank, world, directory):
    torch.manual_seed(rank)
    sharded = ShardedEmbeddingBagCollection(_configs(), plan=PLAN2)
    for step in range(3):
        values, lengths, _ = global_batch([50, 31, 31, 13, 9], 8, seed=step)
        v, l, _, _ = split_batch(values, lengths, None, 5, 8, world)[rank]
        sharded(v, lengths=l).pow(2).sum().backward()
    sharded.save(directory)
    sharded.save(directory)  # a second save replaces the first (its files are removed)
    return sharded.unsharded_state_dict()


def _load(rank, world, directory):
    torch.manual_seed(100 + rank)  # a different start: everything must come from the checkpoint
    sharded = ShardedEmbeddingBagCollection(_configs())
    sharded.load(directory)
    return sharded.unsharded_state_dict(), str(sharded.plan)


def _same(a, b, what):
    assert list(a) == list(b), what
    for k in a:
        if isinstance(a[k], torch.Tensor):
            assert torch.equal(a[k], b[k]), f"{what}: {k}"
        else:
            assert a[k] == b[k], f"{what}: {k}"


def test_checkpoint_reshards_from_two_ranks_to_one_and_three(tmp_path):
    d = str(tmp_path / "ckpt")
    saved = spawn(_train_and_save, 2, args=(d,), timeout=20, join_timeout=60)
    _same(saved[0], saved[1], "ranks agree")
    manifest = json.load(open(os.path.join(d, "manifest.json")))
    assert manifest["world_size"] == 2 and sorted(os.listdir(d)) == sorted(manifest["files"] + ["manifest.json"])
    assert saved[0]["embedding_bags.wide.optimizer_state.step"].item() == 3
    for world in (1, 3):
        loaded = spawn(_load, world, args=(d,), timeout=20, join_timeout=60)
        for r, (sd, _plan) in enumerate(loaded):
            _same(saved[0], sd, f"world {world} rank {r}")
