"""EmbeddingBagCollection: many tables from one jagged batch, one native lookup call."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from embedforge.nn import EmbeddingBagCollection, EmbeddingBagConfig
from embedforge.optim import SGD, RowWiseAdagrad


def make_batch(gen, sizes, B, max_len, pads):
    """values/offsets for features whose tables have `sizes` rows; padding ids sprinkled in."""
    vals, lens = [], []
    for V, pad in zip(sizes, pads):
        lengths = torch.randint(0, max_len + 1, (B,), generator=gen)
        v = torch.randint(0, V, (int(lengths.sum()),), generator=gen)
        v[v % 3 == 0] = v[0] if v.numel() else 0  # duplicates
        if pad is not None and v.numel():
            v[torch.rand(v.numel(), generator=gen) < 0.2] = pad
        vals.append(v)
        lens.append(lengths)
    lengths = torch.cat(lens)
    offsets = torch.zeros(lengths.numel() + 1, dtype=torch.int64)
    offsets[1:] = torch.cumsum(lengths, 0)
    return torch.cat(vals), offsets, lengths


def feature_slices(ebc, values, offsets, B):
    out = []
    for f in range(len(ebc.feature_names)):
        s, e = int(offsets[f * B]), int(offsets[(f + 1) * B])
        out.append((values[s:e], offsets[f * B : (f + 1) * B] - s, slice(s, e)))
    return out


def configs(optimizers=(None, None, None)):
    return [
        EmbeddingBagConfig("user", 50, 8, pooling="sum", optimizer=optimizers[0]),
        EmbeddingBagConfig(
            "item", 80, 12, feature_names=["item", "last_item"], pooling="mean", padding_idx=0, optimizer=optimizers[1]
        ),
        EmbeddingBagConfig("tag", 7, 4, pooling="sum", optimizer=optimizers[2]),
    ]


def reference(ebc, values, offsets, B, psw=None):
    """Per-feature torch embedding_bag on float64 copies of the tables, concatenated."""
    tables = {n: b.weight.detach().double().requires_grad_() for n, b in ebc.embedding_bags.items()}
    outs = []
    for (v, o, sl), f in zip(feature_slices(ebc, values, offsets, B), ebc.feature_names):
        cfg = ebc.configs[ebc._feature_table[ebc.feature_names.index(f)]]
        outs.append(
            F.embedding_bag(
                v,
                tables[cfg.name],
                o,
                mode=cfg.pooling,
                padding_idx=cfg.padding_idx,
                per_sample_weights=None if psw is None else psw[sl],
            )
        )
    return torch.cat(outs, 1), tables


def test_forward_and_gradients_match_torch():
    gen = torch.Generator().manual_seed(0)
    B = 6
    ebc = EmbeddingBagCollection(configs())
    values, offsets, _ = make_batch(gen, [50, 80, 80, 7], B, 5, [None, 0, 0, None])
    out = ebc(values, offsets)
    assert out.shape == (B, 8 + 12 + 12 + 4)
    ref, tables = reference(ebc, values, offsets, B)
    torch.testing.assert_close(out.double(), ref, rtol=1e-6, atol=1e-6)
    g = torch.randn(B, out.shape[1], generator=gen)
    out.backward(g)
    ref.backward(g.double())
    for name, bag in ebc.embedding_bags.items():
        torch.testing.assert_close(bag.weight.grad.double(), tables[name].grad, rtol=1e-6, atol=1e-6)


def test_per_sample_weights_and_their_gradient():
    gen = torch.Generator().manual_seed(1)
    B = 5
    cfg = [EmbeddingBagConfig("a", 30, 4), EmbeddingBagConfig("b", 40, 8, feature_names=["b1", "b2"])]
    ebc = EmbeddingBagCollection(cfg)
    values, offsets, _ = make_batch(gen, [30, 40, 40], B, 6, [None] * 3)
    psw = torch.rand(values.numel(), generator=gen, requires_grad=True)
    out = ebc(values, offsets, per_sample_weights=psw)
    psw64 = psw.detach().double().requires_grad_()
    ref, _ = reference(ebc, values, offsets, B, psw64)
    torch.testing.assert_close(out.double(), ref, rtol=1e-6, atol=1e-6)
    g = torch.randn(out.shape, generator=gen)
    out.backward(g)
    ref.backward(g.double())
    torch.testing.assert_close(psw.grad.double(), psw64.grad, rtol=1e-5, atol=1e-6)


def test_fused_tables_update_themselves_and_plain_tables_get_grads():
    gen = torch.Generator().manual_seed(2)
    B = 8
    ebc = EmbeddingBagCollection(configs((SGD(lr=0.5), RowWiseAdagrad(lr=0.3, eps=1e-8), None)))
    before = {n: b.weight.detach().double().clone() for n, b in ebc.embedding_bags.items()}
    values, offsets, _ = make_batch(gen, [50, 80, 80, 7], B, 5, [None, 0, 0, None])
    out = ebc(values, offsets)
    ref, tables = reference(ebc, values, offsets, B)
    g = torch.randn(out.shape, generator=gen)
    out.backward(g)
    ref.backward(g.double())
    bags = ebc.embedding_bags
    assert bags["user"].weight.grad is None and bags["item"].weight.grad is None
    torch.testing.assert_close(
        bags["user"].weight.detach().double(), before["user"] - 0.5 * tables["user"].grad, rtol=1e-6, atol=1e-6
    )
    # Row-wise Adagrad on the item table: both of its features' gradients summed into one step.
    G = tables["item"].grad
    touched = G.abs().sum(1) > 0
    s = (G * G).mean(1)
    expected = before["item"] - 0.3 * G / (s.sqrt() + 1e-8).unsqueeze(1)
    expected[~touched] = before["item"][~touched]
    torch.testing.assert_close(bags["item"].weight.detach().double(), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(bags["tag"].weight.grad.double(), tables["tag"].grad, rtol=1e-6, atol=1e-6)
    assert "embedding_bags.item.optimizer_state.state_sum" in ebc.state_dict()


def test_dict_output_and_lengths_input():
    gen = torch.Generator().manual_seed(3)
    B = 4
    a = EmbeddingBagCollection(configs())
    b = EmbeddingBagCollection(configs(), output="dict")
    b.load_state_dict(a.state_dict())
    values, offsets, lengths = make_batch(gen, [50, 80, 80, 7], B, 3, [None, 0, 0, None])
    cat = a(values, offsets)
    d = b(values, lengths=lengths)
    assert list(d) == ["user", "item", "last_item", "tag"]
    torch.testing.assert_close(torch.cat(list(d.values()), 1), cat)


def test_same_bits_for_one_and_two_threads():
    gen = torch.Generator().manual_seed(4)
    B = 300
    ebc = EmbeddingBagCollection([EmbeddingBagConfig("big", 5000, 32), EmbeddingBagConfig("small", 20, 8)])
    values, offsets, _ = make_batch(gen, [5000, 20], B, 40, [None, None])
    old = torch.get_num_threads()
    try:
        outs = []
        for t in (1, 2):
            torch.set_num_threads(t)
            with torch.no_grad():
                outs.append(ebc(values, offsets))
    finally:
        torch.set_num_threads(old)
    assert torch.equal(outs[0], outs[1])


def test_opcheck():
    gen = torch.Generator().manual_seed(5)
    w = [torch.randn(10, 4, generator=gen), torch.randn(6, 8, generator=gen)]
    # F=2 features (tables 0 and 1), B=2 bags each: F*B+1 = 5 offsets.
    offsets = torch.tensor([0, 2, 4, 5, 8])
    values = torch.tensor([1, 2, 3, 9, 5, 0, 1, 5])
    args = (w, values, offsets, [0, 1], [0, 1], [-1, 0], None, 2)
    torch.library.opcheck(torch.ops.embedforge.embedding_bag_collection.default, args)


def test_bad_inputs_name_the_feature():
    ebc = EmbeddingBagCollection([EmbeddingBagConfig("a", 10, 4), EmbeddingBagConfig("b", 3, 4)])
    with pytest.raises(IndexError, match=r"values\[3\]=5 \(feature 1\)"):
        ebc(torch.tensor([1, 2, 0, 5]), torch.tensor([0, 2, 3, 4, 4]))
    with pytest.raises(ValueError, match="offsets"):
        ebc(torch.tensor([1, 2]), torch.tensor([0, 2]))  # 2 entries: not F*B+1 for F=2
    with pytest.raises(ValueError, match="non-decreasing"):
        ebc(torch.tensor([1, 2, 0, 1]), torch.tensor([0, 2, 1, 3, 4]))
    with pytest.raises(ValueError, match="pooling"):
        EmbeddingBagConfig("c", 3, 4, pooling="max")
    with pytest.raises(ValueError, match="two tables"):
        EmbeddingBagCollection([EmbeddingBagConfig("a", 3, 4), EmbeddingBagConfig("b", 3, 4, feature_names=["a"])])
