"""A DLRM-style click model with its embedding tables sharded over ranks (torch.distributed).

Run it with two ranks on this machine::

    torchrun --nproc-per-node 2 examples/distributed_ranking.py
    python examples/distributed_ranking.py --spawn 2        # the same, started by embedforge.distributed.spawn

Synthetic impressions: five categorical features drawn from Zipf distributions over tables of very
different sizes (users 200k rows, items 50k, plus a bag of recently seen items, categories, hours,
devices), four dense features, and a click drawn from a hidden logistic model. The tables live in an
``embedforge.distributed.ShardedEmbeddingBagCollection`` (the planner row-shards the large ones) and
update themselves with RowWiseAdagrad during backward; the bottom and top MLPs train under DDP.
Rank 0 prints the plan, the loss and the bytes each step sends.
"""

from __future__ import annotations

import argparse
import time

import embedforge
import torch
import torch.distributed as dist
from embedforge.distributed import ShardedEmbeddingBagCollection, data_parallel, init_process_group, spawn
from embedforge.nn import EmbeddingBagConfig

DIM = 16
TABLES = {"user": 200_000, "item": 50_000, "category": 500, "hour": 24, "device": 8}
FEATURES = [
    ("user", "user"),
    ("item", "item"),
    ("item", "recent_items"),
    ("category", "category"),
    ("hour", "hour"),
    ("device", "device"),
]  # (table, feature)
RECENT = 8  # ids in the recent-items bag


def zipf_sampler(rows: int, exponent: float = 1.05):
    """Draws ids with P(k) ∝ 1/(k+1)^exponent, over a random permutation of the rows."""
    p = 1.0 / torch.arange(1, rows + 1, dtype=torch.float64) ** exponent
    cdf = torch.cumsum(p / p.sum(), 0)
    perm = torch.randperm(rows, generator=torch.Generator().manual_seed(rows))

    def draw(n: int, g: torch.Generator) -> torch.Tensor:
        u = torch.rand(n, generator=g, dtype=torch.float64)
        return perm[torch.searchsorted(cdf, u).clamp_(max=rows - 1)]

    return draw


class ClickData:
    """Deterministic synthetic batches: step s of rank r draws from seed (s, r); the hidden model is fixed."""

    def __init__(self, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.samplers = {t: zipf_sampler(v) for t, v in TABLES.items()}
        self.hidden = {t: 0.8 * torch.randn(v, generator=g) for t, v in TABLES.items()}
        self.dense_w = torch.randn(4, generator=g)

    def batch(self, B: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        values, lengths, logit = [], [], torch.zeros(B)
        for table, feature in FEATURES:
            n = RECENT if feature == "recent_items" else 1
            ids = self.samplers[table](B * n, g)
            values.append(ids)
            lengths.append(torch.full((B,), n))
            logit += self.hidden[table][ids].view(B, n).mean(1)
        dense = torch.randn(B, 4, generator=g)
        logit += dense @ self.dense_w - 1.0
        click = (torch.rand(B, generator=g) < torch.sigmoid(logit)).float()
        return torch.cat(values), torch.cat(lengths), dense, click


class DLRM(torch.nn.Module):
    """Sharded tables + bottom MLP (dense features) + pairwise dot interactions + top MLP → click logit."""

    def __init__(self, tables: ShardedEmbeddingBagCollection):
        super().__init__()
        self.tables = tables
        F = len(FEATURES)
        self.bottom = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.ReLU(), torch.nn.Linear(32, DIM))
        n = F + 1
        self.top = torch.nn.Sequential(
            torch.nn.Linear(DIM + n * (n - 1) // 2, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1)
        )
        self._iu = torch.triu_indices(n, n, 1)

    def forward(self, values, lengths, dense):
        B = dense.shape[0]
        emb = self.tables(values, lengths=lengths).view(B, len(FEATURES), DIM)
        x = self.bottom(dense)
        z = torch.cat([x.unsqueeze(1), emb], 1)  # [B, F+1, D]
        dots = torch.bmm(z, z.transpose(1, 2))[:, self._iu[0], self._iu[1]]
        return self.top(torch.cat([x, dots], 1)).squeeze(1)


def train(rank: int, world: int, steps: int, batch: int, log_every: int) -> dict:
    torch.manual_seed(0)
    configs = [
        EmbeddingBagConfig(
            t,
            v,
            DIM,
            feature_names=[f for tt, f in FEATURES if tt == t],
            pooling="mean",
            optimizer=embedforge.optim.RowWiseAdagrad(lr=0.1),
        )
        for t, v in TABLES.items()
    ]
    tables = ShardedEmbeddingBagCollection(configs, average_gradients=True)
    with torch.no_grad():
        for shard in tables.embedding_bags.values():
            shard.weight.mul_(0.05)
    model = data_parallel(DLRM(tables))
    opt = torch.optim.Adam(model.module.top.parameters(), lr=3e-3)
    opt.add_param_group({"params": model.module.bottom.parameters()})
    data = ClickData()
    if rank == 0:
        print(tables.plan, flush=True)
    losses, t0 = [], time.perf_counter()
    for step in range(steps):
        values, lengths, dense, click = data.batch(batch, seed=1_000_003 * step + rank)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(values, lengths, dense), click)
        opt.zero_grad()
        loss.backward()
        opt.step()
        t = torch.tensor([loss.item()])
        dist.all_reduce(t)
        losses.append(t.item() / world)
        if rank == 0 and (step + 1) % log_every == 0:
            sent = tables.last_step_bytes
            print(
                f"step {step + 1:4d}  loss {sum(losses[-log_every:]) / log_every:.4f}  "
                f"sent fwd {sent['forward'] / 1024:.0f} KiB bwd {sent['backward'] / 1024:.0f} KiB",
                flush=True,
            )
    elapsed = time.perf_counter() - t0
    # held-out log loss against the label rate's entropy (what predicting the mean click rate scores)
    with torch.no_grad():
        values, lengths, dense, click = data.batch(batch, seed=-1 - rank)
        held = torch.nn.functional.binary_cross_entropy_with_logits(model(values, lengths, dense), click)
        rate = click.mean().clamp(1e-6, 1 - 1e-6)
        base = -(rate * rate.log() + (1 - rate) * (1 - rate).log())
        t = torch.stack([held, base])
        dist.all_reduce(t)
        held, base = (t / world).tolist()
    result = {
        "first_loss": sum(losses[:log_every]) / log_every,
        "last_loss": sum(losses[-log_every:]) / log_every,
        "heldout_logloss": held,
        "baseline_logloss": base,
        "steps_per_s": steps / elapsed,
        "bytes_per_step": dict(tables.last_step_bytes),
    }
    if rank == 0:
        print(
            f"held-out log loss {held:.4f} (predicting the click rate: {base:.4f}); "
            f"{steps / elapsed:.1f} steps/s on {world} ranks",
            flush=True,
        )
    return result


def _spawned(rank, world, steps, batch, log_every):
    return train(rank, world, steps, batch, log_every)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=256, help="impressions per rank per step")
    ap.add_argument("--spawn", type=int, default=0, help="start this many local ranks instead of torchrun")
    ap.add_argument("--quick", action="store_true", help="a short run (tests)")
    args = ap.parse_args(argv)
    steps = 60 if args.quick else args.steps
    log_every = 20 if args.quick else 50
    if args.spawn:
        return spawn(_spawned, args.spawn, args=(steps, args.batch, log_every), timeout=60)[0]
    torch.set_num_threads(1)
    init_process_group(timeout=60)
    try:
        return train(dist.get_rank(), dist.get_world_size(), steps, args.batch, log_every)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
