"""20 training steps with each fused optimizer: sharded tables + DDP dense layers equal one process.

The single-process reference trains the same model (collection + MLP) on the whole global batch
with a mean loss; the sharded run splits each batch over the ranks, its MLP under DDP and its
tables with ``average_gradients=True``. Every row of every table, its optimizer state and the MLP
must agree within float32 tolerance.
"""

import embedforge
import pytest
import torch
from _dist_common import global_batch, split_batch
from embedforge.distributed import ShardedEmbeddingBagCollection, data_parallel, spawn
from embedforge.nn import EmbeddingBagCollection, EmbeddingBagConfig

B = 12  # global bags per feature (divisible by 2 and 3: DDP's average is then the global mean)
STEPS = 20
OPTIMIZERS = {
    "SGD": lambda: embedforge.optim.SGD(lr=0.3, weight_decay=0.01),
    "Adagrad": lambda: embedforge.optim.Adagrad(lr=0.2),
    "RowWiseAdagrad": lambda: embedforge.optim.RowWiseAdagrad(lr=0.2, initial_accumulator_value=0.1),
    "Adam": lambda: embedforge.optim.Adam(lr=0.05),
    "LazyAdam": lambda: embedforge.optim.LazyAdam(lr=0.05),
}


class Model(torch.nn.Module):
    def __init__(self, ebc, dense_in=3):
        super().__init__()
        self.ebc = ebc
        width = sum(c.embedding_dim * len(c.feature_names) for c in ebc.configs)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(width + dense_in, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1))

    def forward(self, values, lengths, dense):
        return self.mlp(torch.cat([self.ebc(values, lengths=lengths), dense], 1)).squeeze(1)


def _configs(opt):
    return [
        EmbeddingBagConfig("user", 30, 4, optimizer=opt()),
        EmbeddingBagConfig(
            "item", 60, 8, feature_names=["item", "last_item"], pooling="mean", padding_idx=0, optimizer=opt()
        ),
        EmbeddingBagConfig("site", 7, 2, optimizer=opt()),
    ]


ROWS = [30, 60, 60, 7]
PADS = [None, 0, 0, None]


def _batch(step):
    values, lengths, _ = global_batch(ROWS, B, seed=1000 + step, padding=PADS)
    g = torch.Generator().manual_seed(2000 + step)
    return values, lengths, torch.randn(B, 3, generator=g), torch.randn(B, generator=g)


def _single_process(opt_name):
    torch.manual_seed(0)
    model = Model(EmbeddingBagCollection(_configs(OPTIMIZERS[opt_name])))
    start = {k: v.clone() for k, v in model.state_dict().items() if not k.endswith("_extra_state")}
    dense_opt = torch.optim.SGD(model.mlp.parameters(), lr=0.1)
    for step in range(STEPS):
        values, lengths, dense, y = _batch(step)
        loss = torch.nn.functional.mse_loss(model(values, lengths, dense), y)
        dense_opt.zero_grad()
        loss.backward()
        dense_opt.step()
    return start, model


def _train(rank, world, opt_names, plan):
    results = {}
    for opt_name in opt_names:
        torch.manual_seed(0)
        ref_ebc = EmbeddingBagCollection(_configs(OPTIMIZERS[opt_name]))
        ref_model = Model(ref_ebc)  # same seed: the start point of the single-process run
        sharded = ShardedEmbeddingBagCollection.from_unsharded(ref_ebc, plan=plan, average_gradients=True)
        model = Model.__new__(Model)
        torch.nn.Module.__init__(model)
        model.ebc, model.mlp = sharded, ref_model.mlp
        ddp = data_parallel(model)
        dense_opt = torch.optim.SGD(model.mlp.parameters(), lr=0.1)
        for step in range(STEPS):
            values, lengths, dense, y = _batch(step)
            v, l, _, (a, b) = split_batch(values, lengths, None, len(ROWS), B, world)[rank]
            loss = torch.nn.functional.mse_loss(ddp(v, l, dense[a:b]), y[a:b])
            dense_opt.zero_grad()
            loss.backward()
            dense_opt.step()
        results[opt_name] = (
            sharded.unsharded_state_dict(),
            {k: v.detach().clone() for k, v in model.mlp.state_dict().items()},
        )
    return results


def _check(results, opt_names):
    for opt_name in opt_names:
        _, ref = _single_process(opt_name)
        ref_sd = ref.ebc.state_dict()
        for rank, res in enumerate(results):
            tables, mlp = res[opt_name]
            assert list(tables) == list(ref_sd), f"{opt_name}: keys differ"
            for k, v in ref_sd.items():
                if k.endswith("_extra_state"):
                    assert tables[k] == v, f"{opt_name} rank {rank} {k}: {tables[k]} != {v}"
                else:
                    torch.testing.assert_close(
                        tables[k], v, rtol=1e-4, atol=2e-5, msg=lambda m: f"{opt_name} rank {rank} {k}: {m}"
                    )
            for k, v in ref.mlp.state_dict().items():
                torch.testing.assert_close(
                    mlp[k], v, rtol=1e-4, atol=2e-5, msg=lambda m: f"{opt_name} rank {rank} mlp {k}: {m}"
                )


def test_twenty_steps_each_fused_optimizer_two_ranks():
    names = list(OPTIMIZERS)
    results = spawn(
        _train, 2, args=(names, {"user": "row", "item": "row", "site": "table"}), timeout=20, join_timeout=120
    )
    _check(results, names)


@pytest.mark.parametrize("names", [["RowWiseAdagrad", "LazyAdam"]])
def test_twenty_steps_three_ranks_planner_chooses(names):
    results = spawn(_train, 3, args=(names, None), timeout=20, join_timeout=120)
    _check(results, names)


def test_tables_moved_from_start():
    """The comparison above is not vacuous: training changed the tables and the MLP."""
    start, ref = _single_process("Adam")
    sd = ref.state_dict()
    assert not torch.allclose(start["ebc.embedding_bags.user.weight"], sd["ebc.embedding_bags.user.weight"])
    assert not torch.allclose(start["mlp.0.weight"], sd["mlp.0.weight"])
