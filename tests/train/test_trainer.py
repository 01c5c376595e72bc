"""Trainer: fitting, history, evaluation, prediction, schedules, early stopping, fused-style tables, errors."""

from __future__ import annotations

import pytest
import torch
from embedforge.data import tensor_loader
from embedforge.nn import Embedding
from embedforge.train import Callback, EarlyStopping, Trainer, flat_cross_entropy, one_cycle, reduce_on_plateau
from torch import nn


def _regression(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(n, generator=g)
    return x, y


class _Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 1)

    def forward(self, x):
        return self.lin(x).squeeze(-1)


def test_fit_records_history_and_lowers_loss():
    torch.manual_seed(0)
    x, y = _regression()
    model = _Linear()
    trainer = Trainer(
        model, nn.functional.mse_loss, torch.optim.SGD(model.parameters(), lr=0.05), metrics=["rmse", "mse"]
    )
    hist = trainer.fit(tensor_loader(x, y, batch_size=32, shuffle=True), tensor_loader(x, y, batch_size=128), epochs=3)
    assert len(hist.steps) == 3 * 8 and [s["step"] for s in hist.steps] == list(range(1, 25))
    assert [e["epoch"] for e in hist.epochs] == [1, 2, 3]
    assert hist.epochs[-1]["val_loss"] < hist.epochs[0]["val_loss"] < hist.steps[0]["loss"]
    assert hist.epochs[-1]["val_rmse"] == pytest.approx(hist.epochs[-1]["val_mse"] ** 0.5)
    assert hist.column("lr") == [0.05] * 3
    with pytest.raises(KeyError, match="recorded keys"):
        hist.column("val_f1")
    # fit continues from where it stopped
    trainer.fit(tensor_loader(x, y, batch_size=32), epochs=1)
    assert trainer.epoch == 4 and len(trainer.history.epochs) == 4


def test_evaluate_and_predict_forms():
    x, y = _regression(50)
    model = _Linear()
    trainer = Trainer(model, nn.functional.mse_loss)
    expected = model(x).detach()
    torch.testing.assert_close(trainer.predict(x, batch_size=7), expected)
    torch.testing.assert_close(trainer.predict(tensor_loader(x, y, batch_size=16)), expected)
    torch.testing.assert_close(trainer.predict(tensor_loader(x, batch_size=16)), expected)
    loss = trainer.evaluate(tensor_loader(x, y, batch_size=16))["loss"]
    assert loss == pytest.approx(nn.functional.mse_loss(expected, y).item(), rel=1e-5)
    with pytest.raises(ValueError, match="zero rows"):
        trainer.predict(torch.zeros(0, 4))


class _SelfUpdating(torch.autograd.Function):
    """Lookup whose backward applies SGD to the table in place and returns no weight gradient."""

    @staticmethod
    def forward(ctx, ids, weight, lr):
        ctx.save_for_backward(ids)
        ctx.weight, ctx.lr = weight, lr
        return weight[ids].clone()

    @staticmethod
    def backward(ctx, grad):
        (ids,) = ctx.saved_tensors
        with torch.no_grad():
            ctx.weight.index_add_(0, ids, grad, alpha=-ctx.lr)
        return None, None, None


class _FusedModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.table = nn.Parameter(torch.zeros(10, 1))
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, ids):
        return (_SelfUpdating.apply(ids, self.table, 0.5).squeeze(-1)) * self.scale


@pytest.mark.parametrize("with_dense_optimizer", [True, False])
def test_tables_that_update_themselves_have_no_grad_and_still_train(with_dense_optimizer):
    ids = torch.arange(10).repeat(5)
    target = ids.float() / 10
    model = _FusedModel()
    opt = torch.optim.Adam([model.scale], lr=0.01) if with_dense_optimizer else None
    trainer = Trainer(model, nn.functional.mse_loss, opt, grad_clip=1.0)
    hist = trainer.fit(tensor_loader(ids, target, batch_size=10, shuffle=True), epochs=8)
    assert model.table.grad is None
    assert hist.epochs[-1]["train_loss"] < 0.1 * hist.epochs[0]["train_loss"]
    if not with_dense_optimizer:
        assert model.scale.item() == 1.0  # nothing steps a dense parameter without an optimizer


def test_embedforge_sparse_table_with_sgd():
    torch.manual_seed(0)
    ids = torch.arange(20)
    target = torch.linspace(-1, 1, 20)
    table = Embedding(20, 1, sparse=True)
    model = nn.Sequential(table, nn.Flatten(0))
    trainer = Trainer(model, nn.functional.mse_loss, torch.optim.SGD(model.parameters(), lr=0.5), grad_clip=0.1)
    hist = trainer.fit(tensor_loader(ids, target, batch_size=5, shuffle=True), epochs=10)
    assert hist.epochs[-1]["train_loss"] < 0.05


def test_early_stopping_restores_best_weights():
    torch.manual_seed(0)
    x, y = _regression(64)
    model = _Linear()
    seen = {}

    class Spy(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            seen[epoch] = {k: v.clone() for k, v in trainer.model.state_dict().items()}

    # a far too large learning rate makes validation loss blow up after the first steps
    stopper = EarlyStopping(patience=1)
    trainer = Trainer(
        model, nn.functional.mse_loss, torch.optim.SGD(model.parameters(), lr=0.9), callbacks=[stopper, Spy()]
    )
    trainer.fit(tensor_loader(x, y, batch_size=64), tensor_loader(x, y, batch_size=64), epochs=30)
    assert stopper.stopped_epoch is not None and trainer.epoch == stopper.stopped_epoch < 30
    best = min(trainer.history.epochs, key=lambda e: e["val_loss"])["epoch"]
    assert stopper.best_epoch == best
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, seen[best][k])
    with pytest.raises(ValueError, match="monitors 'val_loss'"):
        Trainer(_Linear(), nn.functional.mse_loss, callbacks=[EarlyStopping()]).fit(tensor_loader(x, y), epochs=1)


def test_schedulers_step_at_the_right_granularity():
    x, y = _regression(64)
    model = _Linear()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    sched = one_cycle(opt, max_lr=0.1, epochs=2, steps_per_epoch=4)
    trainer = Trainer(model, nn.functional.mse_loss, opt, scheduler=sched)
    trainer.fit(tensor_loader(x, y, batch_size=16), epochs=2)
    lrs = trainer.history.column("lr", per="step")
    assert len(set(lrs)) == 8 and max(lrs) == pytest.approx(0.1, rel=0.05) and lrs[-1] < 0.01

    # the optimizer owns only an unused parameter, so the model never changes and the loss plateaus
    unused = nn.Parameter(torch.zeros(()))
    opt = torch.optim.SGD([unused], lr=0.1)
    trainer = Trainer(_Linear(), nn.functional.mse_loss, opt, scheduler=reduce_on_plateau(opt, factor=0.5, patience=0))
    trainer.fit(tensor_loader(x, y, batch_size=64), tensor_loader(x, y, batch_size=64), epochs=3)
    assert trainer.history.column("lr") == pytest.approx([0.1, 0.1, 0.05])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025)


def test_flat_cross_entropy_matches_manual_flattening():
    logits = torch.randn(2, 3, 5)
    target = torch.randint(0, 5, (2, 3))
    expected = nn.functional.cross_entropy(logits.reshape(6, 5), target.reshape(6))
    torch.testing.assert_close(flat_cross_entropy(logits, target), expected)


def test_progress_bar_can_be_turned_on_and_off(capsys):
    x, y = _regression(32)
    for progress in (False, True):
        trainer = Trainer(
            _Linear(), nn.functional.mse_loss, torch.optim.SGD(_Linear().parameters(), lr=0.0), progress=progress
        )
        trainer.fit(tensor_loader(x, y, batch_size=8), epochs=1)
        err = capsys.readouterr().err
        assert ("epoch 1" in err) == progress


def test_bad_inputs_raise_clear_errors():
    x, y = _regression(8)
    model = _Linear()
    trainer = Trainer(model, nn.functional.mse_loss, torch.optim.SGD(model.parameters(), lr=1e30))
    with pytest.raises(ValueError, match="training data is empty"):
        trainer.fit([], epochs=1)
    with pytest.raises(ValueError, match="validation data is empty"):
        trainer.fit(tensor_loader(x, y), [], epochs=1)
    with pytest.raises(ValueError, match=r"tuples \(\*inputs, target\)"):
        trainer.fit([x], epochs=1)
    with pytest.raises(TypeError, match="unknown Trainer option 'lr'"):
        Trainer(model, nn.functional.mse_loss, lr=0.1)
    with pytest.raises(ValueError, match="unknown metric 'auc'"):
        Trainer(model, nn.functional.mse_loss, metrics=["auc"])
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        trainer.fit(tensor_loader(x * 1e20, y, batch_size=4), epochs=3)
    with pytest.raises(ValueError, match="epochs"):
        trainer.fit(tensor_loader(x, y), epochs=-1)
