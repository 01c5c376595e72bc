"""embedforge.nn.EmbeddingBag / Embedding as drop-ins for torch.nn's classes."""

from __future__ import annotations

import embedforge
import pytest
import torch
from ef_devices import device_params

DEVICES = device_params()


def twin_bags(mode="mean", padding_idx=None, **kw):
    torch.manual_seed(0)
    theirs = torch.nn.EmbeddingBag(40, 6, mode=mode, padding_idx=padding_idx, **kw)
    ours = embedforge.nn.EmbeddingBag(40, 6, mode=mode, padding_idx=padding_idx, **kw)
    ours.load_state_dict(theirs.state_dict())  # same parameter names: state dicts interchange
    return ours, theirs


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 0])
def test_embedding_bag_module_matches_torch(mode, padding_idx):
    ours, theirs = twin_bags(mode, padding_idx)
    ids = torch.randint(0, 40, (25,))
    offs = torch.tensor([0, 3, 3, 11, 20])
    torch.testing.assert_close(ours(ids, offs), theirs(ids, offs))
    ours(ids, offs).sum().backward()
    theirs(ids, offs).sum().backward()
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad)
    ids2 = torch.randint(0, 40, (4, 7))
    torch.testing.assert_close(ours(ids2), theirs(ids2))


def test_default_init_and_padding_row_like_torch():
    bag = embedforge.nn.EmbeddingBag(1000, 32, padding_idx=3)
    assert torch.equal(bag.weight[3], torch.zeros(32))
    w = bag.weight.detach()
    assert abs(w.mean().item()) < 0.05 and abs(w.std().item() - 1) < 0.05  # N(0, 1) as torch
    assert bag.mode == "mean"  # torch's default


def test_per_sample_weights_module():
    ours, theirs = twin_bags("sum")
    ids, offs = torch.randint(0, 40, (12,)), torch.tensor([0, 5])
    psw = torch.rand(12)
    torch.testing.assert_close(ours(ids, offs, per_sample_weights=psw), theirs(ids, offs, per_sample_weights=psw))


def test_from_pretrained_freeze_and_sparse():
    emb = torch.randn(10, 4)
    bag = embedforge.nn.EmbeddingBag.from_pretrained(emb, freeze=True, mode="sum")
    assert not bag.weight.requires_grad
    torch.testing.assert_close(bag(torch.tensor([[1, 2]])), (emb[1] + emb[2]).unsqueeze(0))
    bag = embedforge.nn.EmbeddingBag.from_pretrained(emb, freeze=False, sparse=True, mode="sum")
    bag(torch.tensor([[1, 2, 2]])).sum().backward()
    assert bag.weight.grad.is_sparse
    dense = bag.weight.grad.to_dense()
    assert dense[2].tolist() == [2.0] * 4 and dense[1].tolist() == [1.0] * 4 and dense[0].abs().sum() == 0
    opt = torch.optim.SparseAdam(list(bag.parameters()), lr=0.1)
    opt.step()


@pytest.mark.parametrize("device", DEVICES)
def test_embedding_module_matches_torch_any_shape(device):
    torch.manual_seed(1)
    theirs = torch.nn.Embedding(30, 5, padding_idx=2).to(device)
    ours = embedforge.nn.Embedding(30, 5, padding_idx=2).to(device)
    ours.load_state_dict(theirs.state_dict())
    with torch.no_grad():  # a non-zero padding row is returned as stored, as torch does
        ours.weight[2] = 1.5
        theirs.weight[2] = 1.5
    ids = torch.randint(0, 30, (3, 4, 2), device=device)
    ids[0, 0, 0] = 2
    a, b = ours(ids), theirs(ids)
    assert a.shape == (3, 4, 2, 5)
    torch.testing.assert_close(a, b)
    g = torch.randn(a.shape, device=device)
    (a * g).sum().backward()
    (b * g).sum().backward()
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad)
    assert ours.weight.grad[2].abs().sum() == 0


@pytest.mark.parametrize("sparse", [False, True])
def test_embedding_padding_gradient_eager_and_compiled(sparse):
    """The eager path skips the padding row in the backward; the compiled path masks it: both as torch."""
    torch.manual_seed(3)
    theirs = torch.nn.Embedding(50, 7, padding_idx=4, sparse=sparse)
    ours = embedforge.nn.Embedding(50, 7, padding_idx=4, sparse=sparse)
    ours.load_state_dict(theirs.state_dict())
    with torch.no_grad():
        ours.weight[4] = -2.0
        theirs.weight[4] = -2.0
    ids = torch.randint(0, 50, (6, 9))
    ids[1, :3] = 4
    g = torch.randn(6, 9, 7)
    (theirs(ids) * g).sum().backward()
    ref = theirs.weight.grad.to_dense()
    for fn in (ours, torch.compile(ours, fullgraph=True, backend="aot_eager")):
        ours.weight.grad = None
        out = fn(ids)
        torch.testing.assert_close(out, theirs(ids))
        (out * g).sum().backward()
        assert ours.weight.grad.is_sparse == sparse
        torch.testing.assert_close(ours.weight.grad.to_dense(), ref)
        assert ours.weight.grad.to_dense()[4].abs().sum() == 0


def test_embedding_from_pretrained_and_repr():
    emb = torch.randn(7, 3)
    layer = embedforge.nn.Embedding.from_pretrained(emb, padding_idx=0)
    assert not layer.weight.requires_grad
    torch.testing.assert_close(layer(torch.tensor([0, 6])), emb[[0, 6]])
    assert "padding_idx=0" in repr(layer)


def test_modules_train_a_small_model():
    torch.manual_seed(0)
    bag = embedforge.nn.EmbeddingBag(20, 8, mode="mean")
    head = torch.nn.Linear(8, 1)
    opt = torch.optim.Adam(list(bag.parameters()) + list(head.parameters()), lr=0.05)
    ids = torch.randint(0, 20, (64, 5))
    target = (ids < 10).float().mean(1, keepdim=True)  # fraction of "low" ids in the bag
    first = None
    for _ in range(150):
        loss = torch.nn.functional.mse_loss(head(bag(ids)), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.1 * first


@pytest.mark.parametrize(
    "ctor, error, match",
    [
        (lambda: embedforge.nn.EmbeddingBag(10, 4, max_norm=1.0), NotImplementedError, "max_norm"),
        (lambda: embedforge.nn.Embedding(10, 4, scale_grad_by_freq=True), NotImplementedError, "scale_grad_by_freq"),
        (lambda: embedforge.nn.EmbeddingBag(10, 4, mode="median"), ValueError, "mode"),
        (lambda: embedforge.nn.EmbeddingBag(10, 4, padding_idx=10), ValueError, "padding_idx=10"),
        (lambda: embedforge.nn.Embedding(0, 4), ValueError, "positive"),
        (lambda: embedforge.nn.Embedding(10, 4, _weight=torch.randn(3, 4)), ValueError, "expected"),
        (lambda: embedforge.nn.EmbeddingBag.from_pretrained(torch.randn(3)), ValueError, "2-D"),
    ],
)
def test_bad_construction(ctor, error, match):
    with pytest.raises(error, match=match):
        ctor()


def test_bad_ids_name_the_position():
    layer = embedforge.nn.Embedding(10, 4)
    with pytest.raises(IndexError, match=r"indices\[3\]=12"):
        layer(torch.tensor([[1, 2], [3, 12]]))


@pytest.mark.parametrize("cls", ["EmbeddingBag", "Embedding"])
def test_sparse_grad_coalesced_flag_is_honest_and_matches_torch(cls):
    """The sparse .grad is torch's uncoalesced layout; the modules flag it coalesced only when its
    rows are in fact unique and ascending (torch's AccumulateGrad drops the flag), never otherwise."""
    gen = torch.Generator().manual_seed(5)
    V, D = 500, 8
    ours = getattr(embedforge.nn, cls)(V, D, sparse=True)
    ref = getattr(torch.nn, cls)(V, D, sparse=True)
    with torch.no_grad():
        ref.weight.copy_(ours.weight)
    opt_a = torch.optim.SparseAdam(ours.parameters(), lr=0.05)
    opt_b = torch.optim.SparseAdam(ref.parameters(), lr=0.05)

    def check_flag(grad):
        assert grad.is_sparse
        rows = grad._indices()[0]
        ascending = bool(torch.all(rows[1:] > rows[:-1]))
        assert grad.is_coalesced() == ascending

    for step in range(4):
        if step == 3:  # unique ascending ids: flagged coalesced
            ids = torch.arange(0, V, 7)
            args = (ids, torch.arange(0, len(ids), 1)) if cls == "EmbeddingBag" else (ids.reshape(1, -1),)
        elif cls == "EmbeddingBag":
            ids = torch.randint(0, V, (200,), generator=gen)
            offs = torch.arange(0, 200, 8)
            args = (ids, offs)
        else:
            args = (torch.randint(0, V, (7, 9), generator=gen),)
        g = torch.randn(ours(*args).shape, generator=gen)
        for m in (ours, ref):
            m.weight.grad = None
            m(*args).backward(g)
        check_flag(ours.weight.grad)
        torch.testing.assert_close(ours.weight.grad.to_dense(), ref.weight.grad.to_dense())
        if step == 2:  # a second backward without zeroing: the flag must follow the real indices
            ours(*args).backward(g)
            check_flag(ours.weight.grad)
            torch.testing.assert_close(ours.weight.grad.to_dense(), 2 * ref.weight.grad.to_dense())
        else:
            opt_a.step()
            opt_b.step()
            torch.testing.assert_close(ours.weight, ref.weight, rtol=1e-5, atol=1e-6)
