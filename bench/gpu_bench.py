#!/usr/bin/env python3
"""embedforge vs torch on one device: embedding-bag forward, forward+backward, fused training steps,
and the word2vec op path's words/s. Written for `make gpu-check` (CUDA), runnable on CPU for a smoke test.

Usage: python bench/gpu_bench.py [--device cuda] [--workloads W1 W4] [--repeats 5] [--iters 20]
                                 [--scale 1.0] [--w2v-tokens 2000000] [--json FILE]
Every row times ours and torch alternately (repeats x iters, median of the per-repeat medians); on CUDA
each timing is bracketed by torch.cuda.synchronize(). Each row also records the largest difference of
ours from torch on the same inputs (outputs, or the table after one step), so a fast wrong kernel shows.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time

import embedforge
import torch
from embedforge import optim
from embedforge.benchmark import WORKLOADS, make_inputs
from embedforge.ops import embedding_bag

LR = 0.05


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _median_ms(fn, iters: int, device: str) -> float:
    times = []
    for _ in range(iters):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _interleaved(ours, theirs, repeats: int, iters: int, device: str) -> tuple[float, float, float, float]:
    """Medians (ours, torch) and the spread (min..max of the per-repeat ratio) of alternating timings."""
    ours(), theirs()  # warm up (kernel loading, allocator)
    a, b = [], []
    for _ in range(repeats):
        a.append(_median_ms(ours, iters, device))
        b.append(_median_ms(theirs, iters, device))
    ratios = [y / x for x, y in zip(a, b)]
    return statistics.median(a), statistics.median(b), min(ratios), max(ratios)


def _inputs(name: str, scale: float, device: str) -> dict:
    inp = make_inputs(WORKLOADS[name], scale=scale)
    return {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in inp.items()}


def lookup_rows(name: str, inp: dict, repeats: int, iters: int, device: str) -> list[dict]:
    """forward (no grad) and fwd+bwd dense, ours vs torch.nn.functional.embedding_bag."""
    kw = dict(mode=inp["mode"], padding_idx=inp["padding_idx"])
    idx, off, psw = inp["indices"], inp["offsets"], inp["psw"]
    w = inp["weight"]

    def ours_call(weight):
        return embedding_bag(weight, idx, off, per_sample_weights=psw, **kw)

    def torch_call(weight):
        return torch.nn.functional.embedding_bag(idx, weight, off, per_sample_weights=psw, **kw)

    rows = []
    with torch.no_grad():
        err = float((ours_call(w) - torch_call(w)).abs().max())

    def fwd(call):
        def run():
            with torch.no_grad():
                call(w)

        return run

    rows.append(_row(name, "forward", _interleaved(fwd(ours_call), fwd(torch_call), repeats, iters, device), err))
    wa, wb = w.clone().requires_grad_(), w.clone().requires_grad_()
    grad = torch.randn(off.numel(), w.shape[1], device=device)

    def fwd_bwd(call, wg):
        def run():
            wg.grad = None
            call(wg).backward(grad)

        return run

    fwd_bwd(ours_call, wa)(), fwd_bwd(torch_call, wb)()
    err = float((wa.grad - wb.grad).abs().max())
    timing = _interleaved(fwd_bwd(ours_call, wa), fwd_bwd(torch_call, wb), repeats, iters, device)
    rows.append(_row(name, "fwd+bwd dense", timing, err))
    return rows


def _torch_step(inp: dict, kind: str, device: str):
    V, D = inp["weight"].shape
    emb = torch.nn.EmbeddingBag(V, D, mode=inp["mode"], padding_idx=inp["padding_idx"], device=device)
    with torch.no_grad():
        emb.weight.copy_(inp["weight"])
    # torch's default optimizer implementations (foreach on CUDA): Adagrad's fused kernel is CPU-only.
    if kind == "SGD":
        opt = torch.optim.SGD(emb.parameters(), lr=LR)
    else:  # Adagrad; torch has no row-wise Adagrad, so RowWiseAdagrad is compared with it too
        opt = torch.optim.Adagrad(emb.parameters(), lr=LR, eps=1e-8)
    return emb, opt


def step_rows(name: str, inp: dict, repeats: int, iters: int, device: str) -> list[dict]:
    """One training step (forward, backward, optimizer update): our fused optimizers vs torch + torch.optim."""
    idx, off, psw = inp["indices"], inp["offsets"], inp["psw"]
    # Positive output gradients: a row's reduced gradient is then a sum of positive terms, never a
    # near-cancellation, whose sign Adagrad's first step (about lr * g / |g|) would amplify from rounding.
    grad = torch.rand(off.numel(), inp["weight"].shape[1], device=device) + 0.5
    cfgs = {
        "SGD": lambda: optim.SGD(lr=LR),
        "Adagrad": lambda: optim.Adagrad(lr=LR, eps=1e-8),
        "RowWiseAdagrad": lambda: optim.RowWiseAdagrad(lr=LR, eps=1e-8),
    }
    rows = []
    for kind, cfg in cfgs.items():
        V, D = inp["weight"].shape
        bag = embedforge.nn.EmbeddingBag(
            V, D, mode=inp["mode"], padding_idx=inp["padding_idx"], _weight=inp["weight"].clone(), optimizer=cfg()
        )
        emb, opt = _torch_step(inp, "SGD" if kind == "SGD" else "Adagrad", device)

        def ours():
            bag(idx, off, per_sample_weights=psw).backward(grad)

        def theirs():
            opt.zero_grad(set_to_none=True)
            emb(idx, off, per_sample_weights=psw).backward(grad)
            opt.step()

        ours(), theirs()
        # Same maths for SGD and Adagrad: one step from the same table must agree.
        err = float((bag.weight.detach() - emb.weight.detach()).abs().max()) if kind != "RowWiseAdagrad" else None
        rows.append(_row(name, f"step {kind}", _interleaved(ours, theirs, repeats, iters, device), err))
    return rows


def _row(name: str, what: str, timing: tuple, err) -> dict:
    ours_ms, torch_ms, lo, hi = timing
    return dict(
        workload=name,
        what=what,
        ours_ms=ours_ms,
        torch_ms=torch_ms,
        ratio=torch_ms / ours_ms,
        ratio_min=lo,
        ratio_max=hi,
        max_abs_err=err,
    )


def word2vec_rows(tokens: int, device: str, seed: int = 0) -> list[dict]:
    """Skip-gram NS words/s on a Zipf corpus: the op path on `device` and the CPU engine on all cores."""
    import numpy as np

    rng = np.random.default_rng(seed)
    vocab = 20_000
    p = 1.0 / np.arange(1, vocab + 1)
    ids = rng.choice(vocab, size=tokens, p=p / p.sum())
    words = [f"w{i}" for i in range(vocab)]
    sentences = [[words[i] for i in ids[s : s + 20]] for s in range(0, tokens, 20)]
    rows = []
    targets = [device] if device == "cpu" else [device, "cpu"]
    for dev in targets:
        model = embedforge.Word2Vec(
            vector_size=100, window=5, min_count=1, sg=1, negative=5, epochs=1, progress=False, device=dev, seed=1
        )
        model.build_vocab(sentences)
        t0 = time.perf_counter()
        model.train(sentences, total_examples=model.corpus_count, epochs=1)
        seconds = time.perf_counter() - t0
        finite = bool(np.isfinite(model.wv.vectors).all())
        rows.append(
            dict(workload=f"word2vec sg/ns {tokens} tokens", what=f"train on {dev}", words_per_s=tokens / seconds,
                 seconds=seconds, finite=finite)
        )  # fmt: skip
    return rows


def format_rows(rows: list[dict]) -> str:
    out = [
        f"{'workload':<30} {'what':<22} {'ours ms':>9} {'torch ms':>9} {'torch/ours':>10} {'spread':>13} {'max err':>9}"
    ]
    for r in rows:
        if "words_per_s" in r:
            out.append(
                f"{r['workload']:<30} {r['what']:<22} {r['words_per_s'] / 1e6:8.2f}M words/s in {r['seconds']:.1f} s"
                f" (finite vectors: {r['finite']})"
            )
            continue
        err = "-" if r["max_abs_err"] is None else f"{r['max_abs_err']:.1e}"
        out.append(
            f"{r['workload']:<30} {r['what']:<22} {r['ours_ms']:9.3f} {r['torch_ms']:9.3f} {r['ratio']:10.2f}"
            f" {r['ratio_min']:6.2f}-{r['ratio_max']:<6.2f} {err:>9}"
        )
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--workloads", nargs="+", default=["W1", "W2", "W3", "W4"], choices=list(WORKLOADS))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--scale", type=float, default=1.0, help="shrink tables by this factor for a quick run")
    ap.add_argument("--w2v-tokens", type=int, default=2_000_000, help="0 skips the word2vec rows")
    ap.add_argument("--json", default=None, help="also write the rows and the environment to this file")
    args = ap.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_bench: no CUDA device visible to torch; use --device cpu for a smoke run", file=sys.stderr)
        return 2
    info = embedforge.build_info()
    env = dict(
        embedforge=embedforge.__version__,
        torch=torch.__version__,
        device=torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu",
        cuda_kernels=info.get("cuda"),
        threads=torch.get_num_threads(),
        scale=args.scale,
        repeats=args.repeats,
        iters=args.iters,
    )
    print("# " + ", ".join(f"{k} {v}" for k, v in env.items()), flush=True)
    rows: list[dict] = []
    for name in args.workloads:
        inp = _inputs(name, args.scale, args.device)
        for part in (lookup_rows, step_rows):
            new = part(name, inp, args.repeats, args.iters, args.device)
            print(format_rows(new).split("\n", 1)[1], flush=True)
            rows += new
        del inp
    if args.w2v_tokens > 0:
        new = word2vec_rows(args.w2v_tokens, args.device)
        print(format_rows(new).split("\n", 1)[1], flush=True)
        rows += new
    print()
    print(format_rows(rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(dict(env=env, rows=rows), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
