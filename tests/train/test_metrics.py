"""Metrics against hand-computed values."""

from __future__ import annotations

import pytest
import torch
from embedforge.train import accuracy, get_metric, mse, precision_recall_f1, rmse


def test_accuracy_from_logits_and_ids():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1])) == pytest.approx(2 / 3)
    assert accuracy(torch.tensor([1, 1]), torch.tensor([1, 0])) == 0.5


def test_weighted_precision_recall_f1_by_hand():
    pred = torch.tensor([0, 0, 1, 1, 2, 0])
    target = torch.tensor([0, 1, 1, 1, 2, 2])
    # class 0: tp=1, pred=3, support=1 -> p=1/3, r=1
    # class 1: tp=2, pred=2, support=3 -> p=1,   r=2/3
    # class 2: tp=1, pred=1, support=2 -> p=1,   r=1/2
    w = torch.tensor([1, 3, 2]) / 6
    p = torch.tensor([1 / 3, 1.0, 1.0])
    r = torch.tensor([1.0, 2 / 3, 0.5])
    f = 2 * p * r / (p + r)
    got = precision_recall_f1(pred, target)
    assert got == pytest.approx(((w * p).sum().item(), (w * r).sum().item(), (w * f).sum().item()))
    # a class that is never predicted has precision 0 and contributes by its support
    assert precision_recall_f1(torch.tensor([0, 0]), torch.tensor([0, 1]))[0] == pytest.approx(0.25)


def test_regression_metrics_and_errors():
    assert mse(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0])) == pytest.approx(5.0)
    assert rmse(torch.tensor([[3.0], [4.0]]), torch.tensor([0.0, 0.0])) == pytest.approx(12.5**0.5)
    with pytest.raises(ValueError, match="2 rows but targets have 3"):
        mse(torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match="at least one"):
        accuracy(torch.zeros(0, 2), torch.zeros(0))
    assert get_metric("f1")[0] == "f1" and get_metric(mse) == ("mse", mse)
