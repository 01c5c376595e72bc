"""Bounded fuzz targets, one per loader and per direct op (issue 14: "never a crash").

Every case either gives the right answer (checked against torch or the file's own contents) or
raises one of the documented Python exceptions; a crash, a hang or another exception fails.
Examples per target: EMBEDFORGE_FUZZ_EXAMPLES (default 40, fixed seed, so `make test` stays fast
and reproducible); `make fuzz` runs many more.
"""

import importlib
import os

import embedforge.ops  # noqa: F401  (registers torch.ops.embedforge)
import numpy as np
import pytest
import torch
from embedforge import FastText, Word2Vec
from embedforge.data.vocab import Tokenizer, Vocab
from embedforge.vectors import KeyedVectors, fasttext_bin, formats
from hypothesis import HealthCheck, event, given, seed, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("EMBEDFORGE_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ops = torch.ops.embedforge
LOADER_ERRORS = (ValueError, EOFError)  # UnicodeDecodeError is a ValueError
OP_ERRORS = (ValueError, IndexError, TypeError, RuntimeError)


# ---- loaders ------------------------------------------------------------------------------------
def _valid_file(kind: str, tmp_path, rng: np.random.Generator) -> bytes:
    n, d = int(rng.integers(1, 6)), int(rng.integers(1, 5))
    kv = KeyedVectors([f"w{i}é" for i in range(n)], rng.standard_normal((n, d)).astype(np.float32))
    path = tmp_path / f"seed.{kind}"
    if kind == "fasttext-bin":
        bucket, minn, maxn = int(rng.integers(0, 20)), int(rng.integers(1, 3)), int(rng.integers(0, 4))
        args = dict(
            dim=d,
            ws=5,
            epoch=1,
            min_count=1,
            neg=5,
            word_ngrams=1,
            loss=2,
            model=2,
            bucket=bucket,
            minn=minn,
            maxn=maxn,
            lr_update_rate=100,
            t=1e-4,
        )
        wv = fasttext_bin.FacebookKeyedVectors(
            list(kv.index_to_key), kv.vectors, rng.standard_normal((bucket, d)).astype(np.float32), minn, maxn, bucket
        )
        model = fasttext_bin.FacebookModel(
            args, wv, np.arange(n, 0, -1), 10 * n, rng.standard_normal((n, d)).astype(np.float32), 12
        )
        fasttext_bin.save_facebook_model(model, path)
    elif kind == "native":
        kv.save(path)
    elif kind in ("model", "fasttext-model"):
        sentences = [[f"w{int(i)}é" for i in rng.integers(0, 8, 6)] for _ in range(12)]
        cls = FastText if kind == "fasttext-model" else Word2Vec
        extra = dict(bucket=int(rng.integers(1, 30)), min_n=2, max_n=3) if kind == "fasttext-model" else {}
        cls(
            sentences, vector_size=d, min_count=1, epochs=1, workers=1, seed=int(rng.integers(100)), sample=0, **extra
        ).save(path)
    elif kind == "tokenizer":
        Tokenizer.fit(["the cat sat", "a dög ran", "東京 the"], level=str(rng.choice(["char", "word"]))).save(path)
    elif kind == "vocab":
        Vocab([f"w{i}é" for i in range(n)], {f"w{i}é": int(c) for i, c in enumerate(rng.integers(1, 9, n))}).save(path)
    elif kind == "corpus":
        words = ["a", "bé", "c\u00a0d", "東京", "ß", "x-y"]
        path.write_text("\n".join(" ".join(rng.choice(words, 5)) for _ in range(6)) + "\n", encoding="utf-8")
    elif kind == "fvocab":
        kv.set_vecattr(kv.index_to_key, "count", np.arange(n, 0, -1))
        kv.save_word2vec_format(tmp_path / "v.txt", path)
    else:
        kv.save_word2vec_format(path, binary=kind == "binary", write_header=kind != "glove")
    return path.read_bytes()


def _load(kind: str, path):
    if kind == "fasttext-bin":
        model = fasttext_bin.load_facebook_model(path)
        model.wv["an unseen word"]  # the n-gram path never crashes either
        return model.wv
    if kind == "text":
        return KeyedVectors.load_word2vec_format(path)
    if kind == "binary":
        return KeyedVectors.load_word2vec_format(path, binary=True)
    if kind == "glove":
        return KeyedVectors.load_glove(path)
    if kind == "native":
        return KeyedVectors.load(path, mmap=None)
    if kind in ("model", "fasttext-model"):
        model = Word2Vec.load(path)
        if kind == "fasttext-model":
            model.wv["an unseen word"]
        return model.wv
    if kind == "tokenizer":
        tok = Tokenizer.load(path)
        assert tok.decode(tok.encode("the cat")) is not None
        return {}
    if kind == "vocab":
        vocab = Vocab.load(path)
        assert all(isinstance(t, str) for t in vocab.itos) and len(set(vocab.itos)) == len(vocab.itos)
        return {}
    if kind == "corpus":  # the native trainer's file reader on whatever bytes are there
        return Word2Vec(corpus_file=str(path), vector_size=3, min_count=1, epochs=1, workers=1, seed=1, sample=0).wv
    return formats.read_vocab_counts(path)


_mutation = st.lists(
    st.tuples(
        st.sampled_from(["flip", "cut", "insert", "dup"]), st.integers(0, 10**6), st.binary(min_size=1, max_size=8)
    ),
    min_size=1,
    max_size=4,
)


@pytest.mark.parametrize(
    "kind",
    [
        "text",
        "binary",
        "glove",
        "native",
        "fvocab",
        "fasttext-bin",
        "model",
        "fasttext-model",
        "vocab",
        "tokenizer",
        "corpus",
    ],
)
@seed(14)
@FUZZ
@given(mutations=_mutation, base_seed=st.integers(0, 2**16))
def test_fuzz_loader(tmp_path, kind, mutations, base_seed):
    data = bytearray(_valid_file(kind, tmp_path, np.random.default_rng(base_seed)))
    for op, where, blob in mutations:
        at = where % (len(data) + 1)
        if op == "flip" and data:
            data[at % len(data)] ^= blob[0] or 1
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = blob
        else:
            data[at:at] = data[at : at + 32]
    path = tmp_path / f"fuzz.{kind}"
    path.write_bytes(bytes(data))
    try:
        loaded = _load(kind, path)
    except LOADER_ERRORS as exc:
        event(f"refused: {type(exc).__name__}")
        return
    except (NotImplementedError, KeyError) as exc:  # a flipped quantized/labels field; a model without buckets
        if kind == "fasttext-bin":
            event(f"refused: {type(exc).__name__}")
            return
        raise
    event("accepted")
    if kind in ("vocab", "tokenizer"):
        return
    if kind == "fvocab":
        assert all(isinstance(k, str) and isinstance(c, int) and c >= 0 for k, c in loaded.items())
        return
    assert loaded.vectors.dtype == np.float32 and loaded.vectors.ndim == 2
    assert np.isfinite(loaded.vectors).all()  # never a NaN that surfaces later
    assert len(loaded.index_to_key) == len(set(loaded.index_to_key)) == loaded.vectors.shape[0]


# ---- direct ops ---------------------------------------------------------------------------------
def _reference(w, ids, offsets, mode, psw, pad, ilo):
    """Float64 bag by bag: torch's embedding_bag semantics with padding skipped and not counted
    (torch's own function lacks per-sample weights for mean, so it is not the reference here)."""
    return _bags64(w.double(), ids, offsets, mode, psw, pad, ilo).float()


def _bags64(w, ids, offsets, mode, psw, pad, ilo):
    """The bags of :func:`_reference` in float64, differentiable in `w` (the gradient reference)."""
    bounds = offsets.tolist() + ([] if ilo else [ids.numel()])
    out = [torch.zeros(w.shape[1], dtype=torch.float64) for _ in range(len(bounds) - 1)]
    for b in range(len(bounds) - 1):
        rows = [
            (int(ids[j]), 1.0 if psw is None else float(psw[j]))
            for j in range(bounds[b], bounds[b + 1])
            if int(ids[j]) != pad
        ]
        if not rows:
            continue
        vectors = torch.stack([w[i] * s for i, s in rows])
        out[b] = vectors.max(0).values if mode == 2 else vectors.sum(0) / (len(rows) if mode == 1 else 1)
    return torch.stack(out) if out else torch.zeros(0, w.shape[1], dtype=torch.float64)


@seed(14)
@FUZZ
@given(
    V=st.integers(0, 6),
    D=st.integers(0, 5),
    n=st.integers(0, 8),
    mode=st.sampled_from([0, 1, 2] * 3 + [-1, 3]),  # mostly valid, so accepted cases get checked too
    ids_lo=st.sampled_from([0] * 4 + [-1, -3]),
    ids_hi=st.integers(0, 9),
    n_off=st.integers(0, 5),
    off_noise=st.sampled_from([0] * 6 + [-2, -1, 1, 2]),
    use_psw=st.booleans(),
    pad=st.sampled_from([-1] * 4 + [-2, 0, 1, 3, 7]),
    ilo=st.booleans(),
    int32=st.booleans(),
    r=st.randoms(),
)
def test_fuzz_embedding_bag_op(V, D, n, mode, ids_lo, ids_hi, n_off, off_noise, use_psw, pad, ilo, int32, r):
    g = torch.Generator().manual_seed(r.randint(0, 2**31))
    w = torch.randn(V, D, generator=g)
    dt = torch.int32 if int32 else torch.int64
    ids = torch.randint(ids_lo, ids_hi + 1, (n,), generator=g).to(dt)
    cuts = sorted(r.randint(0, n) for _ in range(n_off))
    offsets = torch.tensor(([0] if n_off else []) + cuts[1:], dtype=dt)
    if ilo and n_off:
        offsets = torch.cat([offsets, torch.tensor([n], dtype=dt)])
    if off_noise and len(offsets):
        offsets[r.randrange(len(offsets))] += off_noise
    psw = torch.rand(n, generator=g) if use_psw else None
    try:
        out, _ = ops.embedding_bag(w, ids, offsets, mode, psw, pad, ilo, False)
    except OP_ERRORS as exc:
        event(f"refused: {type(exc).__name__}")
        return
    event("accepted")
    # accepted: the inputs are valid, so torch computes the same bags
    assert 0 <= mode <= 2 and -1 <= pad < V and (psw is None or mode != 2)
    assert ((ids >= 0) & (ids < V)).all()
    torch.testing.assert_close(out, _reference(w, ids, offsets, mode, psw, pad, ilo), rtol=1e-5, atol=1e-5)


@seed(14)
@FUZZ
@given(
    V=st.integers(-2, 6),
    D=st.integers(0, 4),
    gD=st.integers(0, 6),
    B=st.integers(0, 4),
    gB=st.integers(0, 5),
    which=st.sampled_from(["dense", "rows", "psw", "positions"]),
    mode=st.integers(0, 2),
    huge=st.booleans(),
    r=st.randoms(),
)
def test_fuzz_backward_ops(V, D, gD, B, gB, which, mode, huge, r):
    g = torch.Generator().manual_seed(r.randint(0, 2**31))
    rows = max(V, 1)
    ids = torch.randint(0, rows, (B * 2,), generator=g)
    offsets = torch.arange(0, B * 2, 2)
    grad = torch.randn(gB, gD, generator=g)
    max_rows = torch.randint(-1, rows, (gB, gD), generator=g) if mode == 2 else torch.empty(0, 0, dtype=torch.long)
    num_rows = 2**61 + V if huge else V
    try:
        if which == "dense":
            out = ops.embedding_bag_backward_dense(grad, ids, offsets, num_rows, mode, None, max_rows, -1, False)
            assert out.shape == (num_rows, gD)
        elif which == "rows":
            r_ids, r_grads = ops.embedding_bag_backward_rows(
                grad, ids, offsets, num_rows, mode, None, max_rows, -1, False
            )
            assert r_grads.shape == (r_ids.numel(), gD)
        elif which == "positions":
            p_ids, p_vals = ops.embedding_bag_backward_positions(
                grad, ids, offsets, num_rows, mode, None, -1, False, True
            )
            assert mode != 2  # sum and mean only
            assert p_ids.tolist() == ids.tolist() and p_vals.shape == (ids.numel(), gD)
            scale = 0.5 if mode >= 1 else 1.0  # every bag holds 2 ids
            torch.testing.assert_close(p_vals, grad.repeat_interleave(2, 0) * scale)
        else:
            w = torch.randn(max(V, 0), D, generator=g)
            out = ops.embedding_bag_backward_psw(grad, w, ids, offsets, mode, -1, False)
            assert gD == D and out.shape == (ids.numel(),)
    except OP_ERRORS as exc:
        event(f"refused: {type(exc).__name__}")
        return
    event("accepted")
    assert gB == B
    assert not huge or which != "dense" or gD == 0  # a dense [2**61, D > 0] gradient never fits


@seed(14)
@FUZZ
@given(
    V=st.integers(0, 6),
    D=st.integers(0, 4),
    shape=st.lists(st.integers(0, 3), max_size=3),
    ids_lo=st.sampled_from([0] * 4 + [-1, -7]),
    ids_hi=st.integers(0, 8),
    pad=st.sampled_from([None] * 4 + [0, 2, -1, 5, 9, 1.0]),
    dtype=st.sampled_from([torch.float32, torch.float16, torch.float64, torch.int64]),
    id_dtype=st.sampled_from([torch.int64, torch.int32, torch.float32]),
    grad=st.booleans(),
    sparse=st.booleans(),
    native_gather=st.booleans(),
    r=st.randoms(),
)
def test_fuzz_embedding_lookup(V, D, shape, ids_lo, ids_hi, pad, dtype, id_dtype, grad, sparse, native_gather, r):
    """The Python lookup (its CPU fast paths on both sides of the gather-size rule) against torch."""
    eb = importlib.import_module("embedforge.ops.embedding_bag")
    g = torch.Generator().manual_seed(r.randint(0, 2**31))
    w = torch.randn(V, D, generator=g, dtype=torch.float64).to(dtype)
    if grad and dtype.is_floating_point:
        w.requires_grad_(True)
    ids = torch.randint(ids_lo, ids_hi + 1, shape, generator=g).to(id_dtype)
    old = eb._TORCH_GATHER_MAX
    eb._TORCH_GATHER_MAX = 0 if native_gather else old
    try:
        out = eb.embedding(w, ids, padding_idx=pad, sparse=sparse)
        if w.requires_grad:
            gout = torch.randn(out.shape, generator=g, dtype=torch.float64).to(dtype)
            out.backward(gout)
    except OP_ERRORS as exc:
        event(f"refused: {type(exc).__name__}")
        return
    finally:
        eb._TORCH_GATHER_MAX = old
    event("accepted")
    assert dtype.is_floating_point and id_dtype in (torch.int64, torch.int32)
    assert ((ids >= 0) & (ids < V)).all() and (pad is None or (type(pad) is int and -V <= pad < V))
    ref_w = w.detach().clone().requires_grad_(w.requires_grad)
    # (1-D ids for torch: its sparse backward with padding fails on 0-d ids)
    ref = torch.nn.functional.embedding(ids.long().reshape(-1), ref_w, padding_idx=pad, sparse=sparse)
    torch.testing.assert_close(out.detach(), ref.detach().reshape(out.shape), rtol=0, atol=0)
    if w.requires_grad:
        ref.backward(gout.reshape(ref.shape))
        assert w.grad.is_sparse == sparse
        tol = 1e-5 if dtype != torch.float16 else 3e-3
        torch.testing.assert_close(w.grad.to_dense(), ref_w.grad.to_dense(), rtol=tol, atol=tol)


@seed(14)
@FUZZ
@given(
    F=st.integers(0, 4),
    batch=st.one_of(st.integers(-1, 3), st.sampled_from([2**31, 2**62, 2**63 - 1])),
    n_off=st.integers(0, 9),
    n_val=st.integers(0, 6),
    pool=st.integers(-1, 2),
    r=st.randoms(),
)
def test_fuzz_embedding_bag_collection_op(F, batch, n_off, n_val, pool, r):
    g = torch.Generator().manual_seed(r.randint(0, 2**31))
    tables = [torch.randn(5, 3, generator=g), torch.randn(4, 2, generator=g)]
    values = torch.randint(-1, 6, (n_val,), generator=g)
    offsets = torch.tensor(sorted(r.randint(0, n_val) for _ in range(n_off)), dtype=torch.int64)
    feature_table = [r.randint(-1, 2) for _ in range(F)]
    try:
        out = ops.embedding_bag_collection(tables, values, offsets, feature_table, [pool] * F, [-1] * F, None, batch)
    except OP_ERRORS as exc:
        event(f"refused: {type(exc).__name__}")
        return
    event("accepted")
    assert out.shape[0] == batch
    assert 0 <= batch <= 3 or out.shape[1] == 0  # a huge batch only with no feature (an empty [B, 0] output)


@seed(14)
@FUZZ
@given(
    V=st.integers(1, 6),
    D=st.integers(1, 4),
    N=st.integers(0, 5),
    K=st.integers(0, 3),
    bad=st.integers(-1, 8),
    lr=st.one_of(st.floats(0, 1), st.sampled_from([float("nan"), float("inf"), -1.0])),
    r=st.randoms(),
)
def test_fuzz_sgns_step_op(V, D, N, K, bad, lr, r):
    g = torch.Generator().manual_seed(r.randint(0, 2**31))
    a, b = torch.randn(V, D, generator=g), torch.randn(V, D, generator=g)
    centers = torch.randint(0, V, (N,), generator=g)
    contexts = torch.randint(0, V, (N,), generator=g)
    negatives = torch.randint(0, V, (K,), generator=g)
    if N and r.random() < 0.5:
        contexts[0] = bad
    try:
        loss = ops.sgns_step(a, b, centers, contexts, negatives, lr)
    except OP_ERRORS as exc:
        event(f"refused: {type(exc).__name__}")
        assert torch.isfinite(a).all() and torch.isfinite(b).all()
        return
    event("accepted")
    assert 0 <= lr < float("inf") and loss.shape == (N,)
    assert torch.isfinite(a).all() and torch.isfinite(b).all() and torch.isfinite(loss).all()


_FUSED = ["sgd", "adagrad", "rowwise_adagrad", "adam", "lazy_adam"]


@seed(14)
@FUZZ
@given(
    opt=st.sampled_from(_FUSED),
    V=st.integers(0, 6),
    D=st.integers(0, 4),
    lengths=st.lists(st.integers(0, 3), max_size=4),
    ids_lo=st.sampled_from([0] * 4 + [-1, -2]),
    ids_hi=st.integers(0, 8),
    mode=st.sampled_from([0, 1, 2] * 3 + [-1, 3]),
    pad=st.sampled_from([-1] * 4 + [-2, 0, 1, 2, 6]),
    use_psw=st.booleans(),
    bad_grad=st.sampled_from([None] * 6 + ["rows", "cols", "dtype"]),
    bad_state=st.sampled_from([None] * 8 + ["shape", "dtype", "alias", "step"]),
    lr=st.one_of(
        st.floats(0.001, 1), st.floats(0.001, 1), st.sampled_from([0.0, float("nan"), float("inf"), -1.0, 1e39])
    ),
    eps=st.one_of(st.floats(1e-8, 1e-2), st.floats(1e-8, 1e-2), st.sampled_from([0.0, float("nan"), -1.0, 1e-50])),
    r=st.randoms(),
)
def test_fuzz_fused_step_ops(opt, V, D, lengths, ids_lo, ids_hi, mode, pad, use_psw, bad_grad, bad_state, lr, eps, r):
    """Every fused optimizer op: a rejected step leaves table and state exactly as they were; an
    accepted one equals the float64 step on the float64 gradient of the bags (zero initial state)."""
    g = torch.Generator().manual_seed(r.randint(0, 2**31))
    w = torch.randn(V, D, generator=g)
    n = sum(lengths)
    ids = torch.randint(ids_lo, ids_hi + 1, (n,), generator=g)
    offsets = torch.tensor([0] + list(np.cumsum(lengths)[:-1]) if lengths else [], dtype=torch.int64)
    psw = torch.rand(n, generator=g) if use_psw else None
    B = len(lengths)
    grad = torch.randn(B + (bad_grad == "rows"), D + (bad_grad == "cols"), generator=g)
    if bad_grad == "dtype":
        grad = grad.double()
    max_rows = torch.full((B, D), -1, dtype=torch.int64)
    if mode == 2 and ((ids >= 0) & (ids < V)).all() and -1 <= pad < V and psw is None:
        max_rows = ops.embedding_bag(w, ids, offsets, 2, None, pad, False, False)[1]
    state_shape = (V,) if opt == "rowwise_adagrad" else (V, D)
    states = [torch.zeros(state_shape) for _ in range(2 if "adam" in opt else 1)]
    step = torch.zeros(V if opt == "lazy_adam" else 1, dtype=torch.int64)
    broken = False  # whether a bad_state was applied to a tensor this optimizer uses
    if bad_state == "shape" and opt != "sgd":
        states[0], broken = torch.zeros(V + 1, *state_shape[1:]), True
    elif bad_state == "dtype" and opt != "sgd":
        states[0], broken = states[0].double(), True
    elif bad_state == "alias" and opt != "sgd" and 0 < states[0].numel() <= w.numel():
        states[0], broken = w.view(-1)[: states[0].numel()].view(state_shape), True
    elif bad_state == "step" and "adam" in opt and step.numel():
        step -= 3
        broken = opt == "adam" or bool(((ids >= 0) & (ids < V)).any())  # lazy: only touched rows count
    before = [t.clone() for t in (w, *states, step)]
    common = (grad, ids, offsets, mode, psw, max_rows, pad, False)
    try:
        if opt == "sgd":
            ops.fused_sgd_step(w, *common, lr, 0.0, False, 0)
        elif opt == "adagrad":
            ops.fused_adagrad_step(w, states[0], *common, lr, eps, 0.0, False, 0)
        elif opt == "rowwise_adagrad":
            ops.fused_rowwise_adagrad_step(w, states[0], *common, lr, eps, 0.0, False, 0)
        else:
            ops.fused_adam_step(
                w, states[0], states[1], step, *common, lr, 0.9, 0.999, eps, 0.0, opt == "lazy_adam", False, 0
            )
    except OP_ERRORS as exc:
        event(f"refused: {type(exc).__name__}")
        for t, b in zip((w, *states, step), before):
            assert torch.equal(t, b) or (t.data_ptr() == w.data_ptr())  # untouched (an alias is w itself)
        return
    event("accepted")
    # accepted: the inputs were valid
    assert bad_grad is None and not broken
    assert 0 <= mode <= 2 and -1 <= pad < V and (psw is None or mode != 2)
    assert ((ids >= 0) & (ids < V)).all() and 0 <= lr < float("inf")
    w64 = before[0].double().requires_grad_()
    bags = _bags64(w64, ids, offsets, mode, psw, pad, False)
    (G,) = (
        torch.autograd.grad((bags * grad.double()).sum() + 0 * w64.sum(), w64, allow_unused=True)
        if bags.numel()
        else (None,)
    )
    G = torch.zeros_like(w64) if G is None else G
    w0 = before[0].double()
    if opt == "sgd":
        want = w0 - lr * G
    elif opt == "adagrad":
        want = w0 - lr * G / (G.square().sqrt() + eps)
    elif opt == "rowwise_adagrad":
        s = G.square().mean(1, keepdim=True) if D else torch.zeros(V, 1, dtype=torch.float64)
        want = w0 - lr * G / (s.sqrt() + eps)
    else:  # the first Adam step from zero moments: bias-corrected m / sqrt(v) = g / |g|
        want = w0 - lr * G / (G.abs() + eps)
    torch.testing.assert_close(w.double(), want, rtol=1e-4, atol=1e-5)
    assert torch.isfinite(w).all() and all(torch.isfinite(t).all() for t in states)
