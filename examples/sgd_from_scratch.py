"""SGD from scratch: fit y = a·x + b to noisy points by hand-written gradient descent, animated as a GIF.

The same descent twice, once with torch autograd (``loss.backward()``, update under ``no_grad``) and once
in numpy with the gradient written out; the fitted line over the steps is written as a GIF by Pillow (no
ffmpeg needed).

    python examples/sgd_from_scratch.py --gif sgd.gif
    python examples/sgd_from_scratch.py --quick
"""

from __future__ import annotations

import argparse
from typing import Sequence

import numpy as np
from embedforge.models.linear import fit_line_numpy, fit_line_torch, least_squares_line, noisy_line

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> dict:
    """Fit with both loops, compare them with the exact least-squares line, optionally write the GIF."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer points and steps")
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--a", type=float, default=3.0, help="true slope")
    parser.add_argument("--b", type=float, default=2.0, help="true intercept")
    parser.add_argument("--noise", type=float, default=0.5)
    parser.add_argument("--every", type=int, default=4, help="steps between snapshots (GIF frames)")
    parser.add_argument("--gif", default=None, help="write the animation here (needs matplotlib and Pillow)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    points, steps = (60, 60) if args.quick else (args.points, args.steps)

    x, y = noisy_line(points, args.a, args.b, args.noise, seed=args.seed)
    exact = least_squares_line(x, y)
    fits = {
        "torch": fit_line_torch(x, y, args.lr, steps, snapshot_every=args.every),
        "numpy": fit_line_numpy(x, y, args.lr, steps, snapshot_every=args.every),
    }
    print(
        f"{points} points of y = {args.a}·x + {args.b} + noise (sd {args.noise}); "
        f"least squares: a={exact[0]:.4f}, b={exact[1]:.4f}"
    )
    for name, fit in fits.items():
        print(
            f"  {name:5s} after {steps} steps (lr {args.lr}): a={fit.a:.4f}, b={fit.b:.4f}, "
            f"loss {fit.losses[0]:.3f} -> {fit.losses[-1]:.3f}"
        )
    gap = float(np.abs(fits["torch"].params - fits["numpy"].params).max())
    print(f"  largest gap between the torch and numpy paths: {gap:.2e}")
    out = {"exact": exact, "true": (args.a, args.b), "fits": fits, "path_gap": gap}
    if args.gif:
        from embedforge.viz import animate_line_fit

        fit = fits["torch"]
        titles = [
            f"step {s}: a={a:.2f}, b={b:.2f}, loss {l:.3f}" for s, (a, b), l in zip(fit.steps, fit.params, fit.losses)
        ]
        animate_line_fit(x, y, fit.params, args.gif, titles=titles)
        print(f"wrote {args.gif} ({len(fit.steps)} frames)")
        out["frames"] = len(fit.steps)
    return out


if __name__ == "__main__":
    main()
