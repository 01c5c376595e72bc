"""The greedy planner (no ranks needed): bytes, row-sharding of tables above the fair share, balance."""

import embedforge
import pytest
import torch
from embedforge.distributed import TablePlacement, plan_tables, table_bytes
from embedforge.nn import EmbeddingBagConfig


def _configs():
    return [
        EmbeddingBagConfig("huge", 1000, 16, optimizer=embedforge.optim.RowWiseAdagrad(lr=0.1)),
        EmbeddingBagConfig("mid", 300, 16, optimizer=embedforge.optim.Adam()),
        EmbeddingBagConfig("small", 100, 8),
        EmbeddingBagConfig("tiny", 10, 4, optimizer=embedforge.optim.LazyAdam()),
    ]


def test_table_bytes_count_optimizer_state():
    c = _configs()
    assert table_bytes(c[0]) == 1000 * 16 * 4 + 1000 * 4
    assert table_bytes(c[1]) == 300 * 16 * 4 * 3 + 8
    assert table_bytes(c[2], torch.bfloat16) == 100 * 8 * 2
    assert table_bytes(c[3]) == 10 * 4 * 4 * 3 + 10 * 8


def test_greedy_plan_row_shards_the_big_table_and_balances_the_rest():
    plan = plan_tables(_configs(), 2)
    assert plan["huge"].kind == "row" and plan["huge"].row_starts == (0, 500, 1000)
    assert [plan[n].kind for n in ("mid", "small", "tiny")] == ["table"] * 3
    # mid (largest whole table) goes to rank 0, the next to the lighter rank
    assert plan["mid"].ranks == (0,) and plan["small"].ranks == (1,)
    text = str(plan)
    assert "huge" in text and "0 (0:500), 1 (500:1000)" in text and "world size 2" in text
    assert sum(plan.bytes_per_rank()) == sum(table_bytes(c) for c in _configs())


def test_one_rank_holds_everything_whole():
    plan = plan_tables(_configs(), 1)
    assert all(p.kind == "table" and p.ranks == (0,) for p in plan.values())


def test_explicit_plans_and_their_errors():
    plan = plan_tables(_configs(), 3, {"huge": "table", "small": "row", "tiny": 2, "mid": ("table", 1)})
    assert plan["huge"].kind == "table" and plan["small"].row_starts == (0, 33, 66, 100)
    assert plan["tiny"].ranks == (2,) and plan["mid"].ranks == (1,)
    assert plan["small"].rows_of(1) == (33, 66) and plan["tiny"].rows_of(0) == (0, 0)
    with pytest.raises(ValueError, match="does not have"):
        plan_tables(_configs(), 2, {"nope": "row"})
    with pytest.raises(ValueError, match="must be 'table', 'row' or a rank"):
        plan_tables(_configs(), 2, {"huge": "column"})
    with pytest.raises(ValueError, match="not a rank"):
        plan_tables(_configs(), 2, {"huge": 2})
    with pytest.raises(ValueError, match="fewer than the 20 ranks"):
        plan_tables(_configs(), 20, {"tiny": "row"})
    fixed = TablePlacement("row", (0, 1), (0, 10, 1000))
    assert plan_tables(_configs(), 2, {"huge": fixed})["huge"].row_starts == (0, 10, 1000)
