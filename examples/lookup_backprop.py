"""Backpropagation through the lookup, seen: the one-hot matrix δ, δᵀ·∂L/∂x̄ = ∂L/∂W, and what δ would cost.

A lookup x̄ = W[ids] is the product δ·W with δ the one-hot matrix of the ids, so the table's gradient is
δᵀ·∂L/∂x̄. This computes it that way for a small batch, checks it against torch autograd and against
embedforge's one-hot-free backward (bit-identical to autograd's on float32), and prints the memory δ
would take for a real vocabulary beside what the backward without δ keeps.

    python examples/lookup_backprop.py --plot lookup_grad.png
    python examples/lookup_backprop.py --quick
"""

from __future__ import annotations

import argparse
from typing import Sequence

import embedforge
import torch
from embedforge.models.lookup_grad import backward_memory, one_hot, one_hot_table_grad

__all__ = ["main", "small_batch"]


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB" if n < 2**30 else f"{n / 2**30:,.1f} GiB"


def small_batch(vocab: int = 10, dim: int = 4, n: int = 6, seed: int = 0) -> dict:
    """Ids with a repeat, a table, the loss gradient of the looked-up rows, and the table gradient three ways."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (n,), generator=gen)
    ids[-1] = ids[0]  # a repeated id: its row receives the sum of two gradients
    weight = torch.randn(vocab, dim, generator=gen)
    target = torch.randn(n, dim, generator=gen)

    ref = weight.clone().requires_grad_(True)
    rows = torch.nn.functional.embedding(ids, ref)
    rows.retain_grad()
    ((rows - target) ** 2).sum().backward()  # L = Σ ||x̄_i − t_i||²
    grad_rows = rows.grad.detach()

    ours = embedforge.nn.Embedding.from_pretrained(weight.clone(), freeze=False)
    ((ours(ids) - target) ** 2).sum().backward()
    return dict(
        ids=ids,
        delta=one_hot(ids, vocab),
        grad_rows=grad_rows,
        one_hot_grad=one_hot_table_grad(ids, grad_rows, vocab),
        autograd=ref.grad.detach(),
        embedforge=ours.weight.grad.detach(),
    )


def main(argv: Sequence[str] | None = None) -> dict:
    """Show the small batch, check the three gradients, then print the memory for a real vocabulary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller 'real' vocabulary")
    parser.add_argument("--vocab", type=int, default=1_000_000, help="rows of the real-size table")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8192, help="ids in the real-size batch")
    parser.add_argument("--plot", default=None, help="save the δ / gradient figure here (needs matplotlib)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    vocab, batch = (50_000, 2048) if args.quick else (args.vocab, args.batch)

    s = small_batch(seed=args.seed)
    torch.set_printoptions(precision=3, sci_mode=False)
    print(f"ids {s['ids'].tolist()} in a 10-row table; δ (one row per id):\n{s['delta'].int()}")
    print(f"∂L/∂x̄ (one row per id):\n{s['grad_rows']}")
    print(f"δᵀ·∂L/∂x̄ (one row per table row; untouched rows are zero):\n{s['one_hot_grad']}")
    same_ours = torch.equal(s["embedforge"], s["autograd"])
    close = torch.allclose(s["one_hot_grad"], s["autograd"], rtol=1e-6, atol=1e-6)
    print(
        f"δᵀ·∂L/∂x̄ equals autograd's table gradient: {close}; "
        f"embedforge's one-hot-free backward bit-identical to autograd's: {same_ours}"
    )

    ids = torch.randint(0, vocab, (batch,), generator=torch.Generator().manual_seed(args.seed))
    mem = backward_memory(ids, vocab, args.dim)
    print(f"\n{batch:,} ids into a {vocab:,} x {args.dim} float32 table ({mem.unique:,} distinct):")
    for label, nbytes, note in (
        (f"one-hot δ ({batch:,} x {vocab:,})", mem.one_hot, "computed: never allocated"),
        ("dense .grad (V x D)", mem.dense, "measured; fresh pages: untouched rows never resident"),
        ("embedforge sparse .grad (a row per id + the ids)", mem.sparse, "measured"),
        ("embedforge fused optimizer step", mem.fused, "measured: no .grad at all"),
    ):
        print(f"  {label:<52} {_mib(nbytes):>12}  ({note})")
    if args.plot:
        from embedforge.viz import one_hot_figure

        one_hot_figure(s["ids"], s["delta"], s["grad_rows"], s["one_hot_grad"], path=args.plot)
        print(f"wrote {args.plot}")
    return {"one_hot_matches": close, "bit_identical": same_ours, "memory": mem, "small": s}


if __name__ == "__main__":
    main()
