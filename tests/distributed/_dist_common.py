"""Shared pieces of the multi-rank tests: global batches split over ranks and single-process references."""

from __future__ import annotations

import embedforge
import torch
from embedforge.nn import EmbeddingBagCollection, EmbeddingBagConfig

TOL = dict(rtol=1e-5, atol=1e-5)


def global_batch(rows_per_feature, B, seed, max_len=5, padding=None, dtype=torch.int64, psw=False):
    """A jagged batch of F features × B bags (some empty): values, lengths [F*B], per-sample weights."""
    g = torch.Generator().manual_seed(seed)
    F = len(rows_per_feature)
    lens = torch.randint(0, max_len + 1, (F * B,), generator=g)
    vals = []
    for i, n in enumerate(lens.tolist()):
        v = torch.randint(0, rows_per_feature[i // B], (n,), generator=g)
        pad = padding[i // B] if padding else None
        if pad is not None and n:
            v[torch.rand(n, generator=g) < 0.3] = pad
        vals.append(v)
    values = torch.cat(vals).to(dtype)
    w = torch.rand(values.numel(), generator=g) + 0.5 if psw else None
    return values, lens.to(dtype), w


def split_batch(values, lengths, psw, F, B, parts):
    """Rank r's share: bags [cuts[r], cuts[r+1]) of every feature (the same slice of the batch)."""
    cuts = [(r * B) // parts for r in range(parts + 1)]
    offs = torch.zeros(lengths.numel() + 1, dtype=torch.int64)
    torch.cumsum(lengths.long(), 0, out=offs[1:])
    out = []
    for r in range(parts):
        vs, ls, ps = [], [], []
        for f in range(F):
            a, b = f * B + cuts[r], f * B + cuts[r + 1]
            s, e = int(offs[a]), int(offs[b])
            vs.append(values[s:e])
            ls.append(lengths[a:b])
            if psw is not None:
                ps.append(psw[s:e])
        out.append((torch.cat(vs), torch.cat(ls), torch.cat(ps) if psw is not None else None, (cuts[r], cuts[r + 1])))
    return out


def reference(configs, state, values, lengths, psw, B, G):
    """Single-process output of the whole batch and the gradients of ``(out * G).sum()``: the
    collection itself for sum/mean; for max (the collection pools sum and mean only) the same
    tables through ``embedforge.ops.embedding_bag``. Returns out, {table: weight grad}, psw grad."""
    psw = psw.clone().requires_grad_() if psw is not None else None
    if all(c.pooling != "max" for c in configs):
        ebc = EmbeddingBagCollection(
            [
                EmbeddingBagConfig(c.name, c.num_embeddings, c.embedding_dim, c.feature_names, c.pooling, c.padding_idx)
                for c in configs
            ]
        )
        ebc.load_state_dict({k: v for k, v in state.items() if k.endswith("weight")}, strict=False)
        out = ebc(values, lengths=lengths, per_sample_weights=psw)
        (out * G).sum().backward()
        grads = {c.name: ebc.embedding_bags[c.name].weight.grad for c in configs}
        return out.detach(), grads, (psw.grad if psw is not None else None)
    offs = torch.zeros(lengths.numel() + 1, dtype=torch.int64)
    torch.cumsum(lengths.long(), 0, out=offs[1:])
    outs, f, ws = [], 0, {}
    for c in configs:
        w = ws[c.name] = state[f"embedding_bags.{c.name}.weight"].clone().requires_grad_()
        for _ in c.feature_names:
            s, e = int(offs[f * B]), int(offs[(f + 1) * B])
            p = psw[s:e] if psw is not None else None
            outs.append(
                embedforge.ops.embedding_bag(
                    w,
                    values[s:e].long(),
                    offs[f * B : (f + 1) * B] - s,
                    mode=c.pooling,
                    per_sample_weights=p,
                    padding_idx=c.padding_idx,
                )
            )
            f += 1
    out = torch.cat(outs, 1)
    (out * G).sum().backward()
    return out.detach(), {n: w.grad for n, w in ws.items()}, (psw.grad if psw is not None else None)
