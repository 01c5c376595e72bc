"""Letter embeddings: learn a 2-D vector per letter by predicting the next letter of stdlib docstrings.

python examples/letters.py            # ~1 minute on 2 cores
python examples/letters.py --quick    # seconds
python examples/letters.py --plot letters.png   # before/after scatter (needs matplotlib)
"""

from __future__ import annotations

import argparse
from typing import Sequence

import numpy as np
import torch
from embedforge.data import next_token_pairs, stdlib_text
from embedforge.models import letter_stream, train_letter_embeddings

__all__ = ["main", "plot_before_after"]


def plot_before_after(letters: Sequence[str], before: np.ndarray, after: np.ndarray, path: str) -> None:
    """Save side-by-side scatter plots of the initial and trained 2-D letter embeddings."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("--plot needs matplotlib: pip install 'embedforge[viz]'") from exc
    fig, axes = plt.subplots(1, 2, figsize=(10, 5))
    for ax, table, title in zip(axes, (before, after), ("before training", "after training")):
        ax.scatter(table[:, 0], table[:, 1], s=10, color="lightgray")
        for ch, (x, y) in zip(letters, table):
            ax.annotate(
                "␣" if ch == " " else ch,
                (x, y),
                ha="center",
                va="center",
                fontsize=12,
                color="crimson" if ch in "aeiou" else "black",
            )
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> dict:
    """Train, report held-out next-letter accuracy against the majority baseline, optionally plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small corpus and one epoch")
    parser.add_argument("--chars", type=int, default=200_000, help="characters of stdlib docstrings to train on")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--plot", default=None, help="save a before/after PNG here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    chars, epochs = (15_000, 1) if args.quick else (args.chars, args.epochs)

    text = stdlib_text(max_chars=chars + 20_000)
    vocab, snapshots, model = train_letter_embeddings(
        text[:chars], dim=2, epochs=epochs, snapshot_every=25, lr=0.05, seed=args.seed, return_model=True
    )
    x, y = next_token_pairs(vocab.encode(letter_stream(text[chars:])))
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    majority = torch.bincount(y).max().item() / len(y)
    print(f"held-out next-letter accuracy {accuracy:.3f} (majority-class baseline {majority:.3f})")
    letters = vocab.itos[2:]
    final = snapshots[-1][2:]
    vowels = [final[letters.index(v)] for v in "aeiou" if v in letters]
    print("vowel centroid", np.round(np.mean(vowels, axis=0), 3), "| space at", np.round(final[letters.index(" ")], 3))
    if args.plot:
        plot_before_after(letters, snapshots[0][2:], final, args.plot)
        print(f"wrote {args.plot}")
    return {"accuracy": accuracy, "majority": majority, "snapshots": len(snapshots), "letters": letters}


if __name__ == "__main__":
    main()
