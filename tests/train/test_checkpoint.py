"""Checkpoints: atomic writes, and a resumed run ends exactly where an uninterrupted one does."""

from __future__ import annotations

import os

import pytest
import torch
from embedforge.data import tensor_loader
from embedforge.nn import Embedding
from embedforge.train import Checkpoint, EarlyStopping, Trainer
from torch import nn


class _Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = Embedding(30, 4)
        self.drop = nn.Dropout(0.3)
        self.out = nn.Linear(4, 1)

    def forward(self, ids):
        return self.out(self.drop(self.emb(ids))).squeeze(-1)


def _data():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 30, (120,), generator=g)
    return ids, torch.sin(ids.float())


def _trainer(callbacks=()):
    model = _Model()
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    return Trainer(model, nn.functional.mse_loss, opt, scheduler=sched, callbacks=callbacks)


def test_resumed_training_matches_uninterrupted_training(tmp_path):
    ids, y = _data()
    torch.manual_seed(1)
    straight = _trainer([EarlyStopping(monitor="train_loss", patience=10)])
    straight.fit(tensor_loader(ids, y, batch_size=16, shuffle=True, seed=5), epochs=4)

    path = tmp_path / "run" / "ckpt.pt"
    torch.manual_seed(1)
    first = _trainer([Checkpoint(path), EarlyStopping(monitor="train_loss", patience=10)])
    first.fit(tensor_loader(ids, y, batch_size=16, shuffle=True, seed=5), epochs=2)
    assert path.exists() and not [p for p in os.listdir(path.parent) if p.endswith(".tmp")]

    torch.manual_seed(99)  # a fresh process: different init and RNG state, all restored from the file
    resumed = _trainer([Checkpoint(path), EarlyStopping(monitor="train_loss", patience=10)])
    resumed.fit(tensor_loader(ids, y, batch_size=16, shuffle=True, seed=5), epochs=4, resume=path)
    assert resumed.epoch == 4 and len(resumed.history.epochs) == 4
    assert [e["train_loss"] for e in resumed.history.epochs] == pytest.approx(
        [e["train_loss"] for e in straight.history.epochs], rel=1e-5
    )
    for (k, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, msg=k)


def test_resume_from_missing_file_starts_fresh_and_bad_files_raise(tmp_path):
    ids, y = _data()
    t = _trainer()
    t.fit(tensor_loader(ids, y, batch_size=64), epochs=1, resume=tmp_path / "none.pt")
    assert t.epoch == 1
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        t.load_checkpoint(tmp_path / "none.pt")
    t.save_checkpoint(tmp_path / "a.pt")
    other = _trainer([EarlyStopping(monitor="train_loss")])
    with pytest.raises(ValueError, match="same callbacks"):
        other.load_checkpoint(tmp_path / "a.pt")
    torch.save({"format": 0}, tmp_path / "b.pt")
    with pytest.raises(ValueError, match="not an embedforge trainer checkpoint"):
        t.load_checkpoint(tmp_path / "b.pt")


def test_failed_save_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    ids, y = _data()
    t = _trainer()
    t.fit(tensor_loader(ids, y, batch_size=64), epochs=1)
    path = tmp_path / "c.pt"
    t.save_checkpoint(path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        t.save_checkpoint(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]
