"""Trainer(distributed=True): DistributedSampler shares, losses and metrics averaged over ranks, bar on rank 0."""

import torch
from embedforge.distributed import data_parallel, spawn
from embedforge.train import Trainer
from torch.utils.data import DataLoader, TensorDataset


def _fit(rank, world):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(48, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.1 * torch.randn(48, 1, generator=g)
    data = TensorDataset(x, y)
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 1)
    model = data_parallel(net)
    seen = []
    net.register_forward_hook(lambda m, i, o: seen.append(len(i[0])) if m.training else None)
    t = Trainer(
        model,
        torch.nn.functional.mse_loss,
        torch.optim.SGD(model.parameters(), lr=0.1),
        distributed=True,
        metrics=["mse"],
        progress=True,
    )
    hist = t.fit(DataLoader(data, batch_size=8, shuffle=True), val=DataLoader(data, batch_size=8), epochs=3)
    full = Trainer(net, torch.nn.functional.mse_loss).evaluate(DataLoader(data, batch_size=48))
    return hist.epochs, full, sum(seen), t.config.progress, {k: v.clone() for k, v in net.state_dict().items()}


def test_trainer_distributed_mode():
    res = spawn(_fit, 2, timeout=20, join_timeout=60)
    (e0, full0, seen0, bar0, w0), (e1, full1, seen1, bar1, w1) = res
    assert seen0 == seen1 == 3 * 24  # each rank trains on its half of the 48 samples per epoch
    assert bar0 is True and bar1 is False
    assert e0 == e1  # averaged logs: the same on every rank
    for k in w0:
        assert torch.equal(w0[k], w1[k])  # DDP kept the replicas equal
    # the averaged validation loss is the loss over the whole dataset
    assert abs(e0[-1]["val_loss"] - full0["loss"]) < 1e-5 and abs(e0[-1]["val_mse"] - full0["loss"]) < 1e-5
    assert e0[-1]["train_loss"] < e0[0]["train_loss"]
