"""Collaborative filtering: dot product + biases on ratings, then read the biases and factors back.

python examples/collab.py                          # planted synthetic ratings (known truth)
python examples/collab.py --ratings ml/ratings.csv # MovieLens format: userId,movieId,rating[,timestamp]
python examples/collab.py --quick
"""

from __future__ import annotations

import argparse
from typing import Sequence

import numpy as np
import torch
from embedforge.data import RatingsDataset, load_movielens_ratings, random_split, synthetic_ratings, tensor_loader
from embedforge.models import EmbeddingDotBias, pca, rank_by_bias
from embedforge.train import EarlyStopping, Trainer

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> dict:
    """Train on MovieLens-format or planted ratings; print RMSE, bias ranking and PCA extremes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", default=None, help="path to a MovieLens-format ratings.csv")
    parser.add_argument("--quick", action="store_true", help="small synthetic data, few epochs")
    parser.add_argument("--factors", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)

    truth = None
    if args.ratings:
        data = load_movielens_ratings(args.ratings)
        factors = args.factors or 32
    else:
        size = dict(n_users=120, n_items=80, density=0.6) if args.quick else dict(n_users=400, n_items=250, density=0.5)
        truth = synthetic_ratings(n_factors=3, noise=0.3, seed=args.seed, **size)
        data = truth.dataset()
        factors = args.factors or 3
    train_idx, val_idx = random_split(len(data), (0.8, 0.2), seed=args.seed)
    train, val = data.subset(train_idx), data.subset(val_idx)
    print(f"{len(data)} ratings, {data.n_users} users, {data.n_items} items, ratings in {data.rating_range}")

    lo, hi = data.rating_range
    # real ratings are bounded: squash into a slightly wider range; planted ones are unbounded sums
    y_range = (lo - 0.5, hi + 0.5) if args.ratings else None
    model = EmbeddingDotBias(data.n_users, data.n_items, n_factors=factors, y_range=y_range, init_std=0.1)
    if y_range is None:
        with torch.no_grad():
            model.global_bias.fill_(float(train.ratings.mean()))
    trainer = Trainer(
        model,
        torch.nn.functional.mse_loss,
        torch.optim.Adam(model.parameters(), lr=0.05, weight_decay=1e-6),
        metrics=["rmse"],
        callbacks=[EarlyStopping(patience=2)],
    )

    def loader(d: RatingsDataset, shuffle: bool):
        return tensor_loader(d.users, d.items, d.ratings, batch_size=1024, shuffle=shuffle, seed=args.seed)

    trainer.fit(loader(train, True), loader(val, False), epochs=3 if args.quick else args.epochs)
    val_rmse = trainer.evaluate(loader(val, False))["rmse"]
    result: dict = {"val_rmse": val_rmse, "epochs": trainer.epoch}
    if truth is not None:
        print(f"validation RMSE {val_rmse:.4f}; planted noise floor {truth.noise:.4f} ({val_rmse / truth.noise:.2f}x)")
        result["noise"] = truth.noise
    else:
        print(f"validation RMSE {val_rmse:.4f}")

    items = data.item_map.raw
    top, bottom = rank_by_bias(model.item_bias, labels=items, k=5)
    print("items with the highest learned bias:", [i for i, _ in top])
    print("items with the lowest learned bias: ", [i for i, _ in bottom])
    if truth is not None:
        planted = truth.item_bias[np.asarray(items)]
        corr = float(np.corrcoef(planted, model.item_bias.weight.detach().numpy()[:, 0])[0, 1])
        print(f"correlation of learned and planted item biases: {corr:.3f}")
        result["bias_corr"] = corr
    comps = pca(model.item_factors, n_components=min(2, factors), labels=items, k=3)
    for j in range(len(comps.top)):
        print(
            f"factor PC{j + 1} ({comps.explained_variance_ratio[j]:.0%} of variance):",
            "high",
            [i for i, _ in comps.top[j]],
            "low",
            [i for i, _ in comps.bottom[j]],
        )
    return result


if __name__ == "__main__":
    main()
