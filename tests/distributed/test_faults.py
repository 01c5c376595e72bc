"""Faults never hang: a rank that raises or dies is named by the others within the group's timeout;
configs that differ between ranks and out-of-range ids are caught before anything is exchanged."""

import os
import signal
import time

import pytest
import torch
from embedforge.distributed import RankFailedError, ShardedEmbeddingBagCollection, SpawnError, TableConfig, spawn

TIMEOUT = 4.0  # the process groups' timeout in these tests


def _configs(rows=20):
    return [TableConfig("a", rows, 4), TableConfig("b", 16, 2, feature_names=["b1", "b2"])]


def _batch(seed):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 4, (3 * 4,), generator=g)
    values = torch.randint(0, 16, (int(lengths.sum()),), generator=g)
    return values, lengths


def _steps(rank, world, fault):
    sharded = ShardedEmbeddingBagCollection(_configs(), plan={"a": "row", "b": "table"})
    for step in range(6):
        values, lengths = _batch(step * 10 + rank)
        out = sharded(values, lengths=lengths)
        if step == 3 and rank == 1:
            if fault == "raise":
                raise ValueError("rank 1 gives up at step 3")
            if fault == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if fault == "hang":
                time.sleep(60)
        out.sum().backward()
    return "done"


@pytest.mark.parametrize("fault", ["raise", "kill"])
def test_failing_rank_is_named_and_nobody_hangs(fault):
    t0 = time.monotonic()
    with pytest.raises(SpawnError) as info:
        spawn(_steps, 3, args=(fault,), timeout=TIMEOUT, join_timeout=40)
    elapsed = time.monotonic() - t0
    err = info.value
    assert err.exitcodes[1] == (-signal.SIGKILL if fault == "kill" else 1)
    for r in (0, 2):
        assert err.exitcodes[r] == 1, err
        assert "RankFailedError" in err.errors[r] and "rank 1" in err.errors[r], err.errors[r]
        if fault == "raise":
            assert "gives up at step 3" in err.errors[r]
        else:
            assert "stopped responding" in err.errors[r]
    assert elapsed < TIMEOUT + 15, elapsed


def test_stuck_rank_times_out():
    t0 = time.monotonic()
    with pytest.raises(SpawnError) as info:
        spawn(_steps, 2, args=("hang",), timeout=TIMEOUT, join_timeout=40)
    err = info.value
    assert err.exitcodes[0] == 1 and "rank 1 stopped responding" in err.errors[0], err.errors[0]
    assert err.exitcodes[1] < 0  # killed by spawn after the grace period
    assert time.monotonic() - t0 < 2 * TIMEOUT + 15


def _mismatch(rank, world, what):
    rows = 20 + (rank == 1 and what == "config")
    plan = {"a": "row" if (rank == 0 or what != "plan") else "table"}
    try:
        ShardedEmbeddingBagCollection(_configs(rows), plan=plan)
    except ValueError as exc:
        return str(exc)
    return "no error"


@pytest.mark.parametrize("what", ["config", "plan"])
def test_config_or_plan_mismatch_names_the_first_difference(what):
    msgs = spawn(_mismatch, 2, args=(what,), timeout=TIMEOUT, join_timeout=30)
    for m in msgs:
        assert "differs between ranks" in m and "rank 1" in m, m
        if what == "config":
            assert "tables[0].num_embeddings" in m and "20" in m and "21" in m, m
        else:
            assert "plan.a" in m, m


def _bad_ids(rank, world):
    sharded = ShardedEmbeddingBagCollection(_configs(), plan={"a": "row", "b": "table"})
    values, lengths = _batch(rank)
    if rank == 0:
        values[int(lengths[:4].sum()) + 1] = 16  # feature b1 (table b, 16 rows), second id
        try:
            sharded(values, lengths=lengths)
        except IndexError as exc:
            return str(exc)
        return "no error"
    try:
        sharded(values, lengths=lengths)
    except RankFailedError as exc:
        return str(exc)
    return "no error"


def test_out_of_range_id_raises_on_the_sending_rank():
    msgs = spawn(_bad_ids, 2, timeout=TIMEOUT, join_timeout=30)
    assert "is out of range for table 'b' of 16 rows" in msgs[0] and "=16" in msgs[0] and "'b1'" in msgs[0], msgs[0]
    # rank 1 was already waiting in the exchange: it fails naming rank 0 (which returned, and exited)
    assert "rank 0" in msgs[1], msgs[1]
