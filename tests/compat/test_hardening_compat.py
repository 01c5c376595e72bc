"""Silent wrong results and crashes through direct op calls and loaders, now refused (issue 14, §1–2).

Each case names what torch or gensim does beside it; where we deliberately differ the reason is
in the test.
"""

import math

import embedforge  # noqa: F401  (registers torch.ops.embedforge)
import numpy as np
import pytest
import torch
from embedforge.ops import embedding_bag
from embedforge.ops.word2vec import sgns_step
from embedforge.vectors import KeyedVectors

ops = torch.ops.embedforge
E = torch.empty(0, 0, dtype=torch.long)


def test_include_last_offset_must_end_at_len_indices():
    w = torch.randn(10, 4)
    ids, offsets = torch.tensor([1, 2, 3, 1]), torch.tensor([0, 2, 3])
    # torch silently drops the ids after offsets[-1]; its documentation defines offsets[-1] as
    # len(indices), so we refuse rather than compute a bag the user did not describe.
    torch.nn.functional.embedding_bag(ids, w, offsets, include_last_offset=True)
    for fn in (
        lambda: embedding_bag(w, ids, offsets, include_last_offset=True),
        lambda: ops.embedding_bag(w, ids, offsets, 0, None, -1, True, False),
        lambda: embedforge.nn.EmbeddingBag(10, 4, include_last_offset=True)(ids, offsets),
    ):
        with pytest.raises((ValueError, RuntimeError), match=r"offsets\[2\]=3 must equal the number of indices"):
            fn()
    good = torch.tensor([0, 2, 4])
    torch.testing.assert_close(
        embedding_bag(w, ids, good, mode="mean", include_last_offset=True),
        torch.nn.functional.embedding_bag(ids, w, good, mode="mean", include_last_offset=True),
    )


def test_direct_backward_ops_check_shapes_and_sizes():
    w = torch.randn(10, 4)
    ids, off = torch.tensor([1, 2, 3]), torch.tensor([0, 1])
    with pytest.raises(RuntimeError, match=r"grad is \[2, 400\] but weight has 4 columns"):
        ops.embedding_bag_backward_psw(torch.randn(2, 400), w, ids, off, 0, -1, False)
    with pytest.raises(RuntimeError, match="overflows a 64-bit size"):
        ops.embedding_bag_backward_dense(torch.randn(2, 4), ids, off, 2**62, 0, None, E, -1, False)
    for op in (ops.embedding_bag_backward_dense, ops.embedding_bag_backward_rows):
        with pytest.raises(RuntimeError, match="num_rows=-5 must be >= 0"):
            op(torch.randn(2, 4), ids, off, -5, 0, None, E, -1, False)
    # the valid call still agrees with torch's gradient
    g = torch.randn(2, 4)
    ref = w.clone().requires_grad_()
    torch.nn.functional.embedding_bag(ids, ref, off, mode="sum").backward(g)
    torch.testing.assert_close(ops.embedding_bag_backward_dense(g, ids, off, 10, 0, None, E, -1, False), ref.grad)


@pytest.mark.parametrize("features", [1, 2, 4])
def test_collection_batch_size_overflow_is_refused(features):
    w = torch.randn(10, 4)
    ids = torch.tensor([1, 2, 3])
    # features x 2**62 wraps to 0 for 4 features: offsets of length 1 used to pass and segfault.
    for offsets in (torch.tensor([0]), torch.tensor([0, 1, 3])):
        with pytest.raises(RuntimeError, match="overflows a 64-bit size|must hold features x batch_size"):
            ops.embedding_bag_collection(
                [w], ids, offsets, [0] * features, [0] * features, [-1] * features, None, 2**62
            )


@pytest.mark.parametrize("lr", [float("nan"), float("inf"), -float("inf"), -0.5])
def test_sgns_step_refuses_non_finite_lr(lr):
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    a0, b0 = a.clone(), b.clone()
    with pytest.raises(ValueError, match="lr="):
        sgns_step(a, b, torch.tensor([1]), torch.tensor([2]), torch.tensor([3]), lr)
    assert torch.equal(a, a0) and torch.equal(b, b0)


def test_memory_mapped_vectors_are_checked_for_nan(tmp_path):
    keys = [f"w{i}" for i in range(50)]
    vectors = np.random.default_rng(0).standard_normal((50, 6)).astype(np.float32)
    path = tmp_path / "v.efv"
    KeyedVectors(keys, vectors).save(path)
    raw = bytearray(path.read_bytes())
    offset = len(raw) - 4 * 50 * 6
    raw[offset + 4 * (37 * 6 + 2) : offset + 4 * (37 * 6 + 3)] = np.float32(np.nan).tobytes()
    path.write_bytes(bytes(raw))
    for mmap in ("r", "c", None):
        with pytest.raises(ValueError, match=r"'w37' has a non-finite value"):
            KeyedVectors.load(path, mmap=mmap)


def test_evaluate_word_pairs_nan_gold_score_propagates_like_gensim(tmp_path):
    gensim_models = pytest.importorskip("gensim.models", reason="gensim is the reference here")
    rng = np.random.default_rng(1)
    keys = [f"W{i}" for i in range(12)]
    vectors = rng.standard_normal((12, 5)).astype(np.float32)
    lines = [f"{keys[i]}\t{keys[i + 1]}\t{rng.random():.3f}" for i in range(10)]
    (tmp_path / "ok.txt").write_text("\n".join(lines) + "\n")
    lines[4] = lines[4].rsplit("\t", 1)[0] + "\tnan"
    (tmp_path / "nan.txt").write_text("\n".join(lines) + "\n")
    ours = KeyedVectors(keys, vectors)
    theirs = gensim_models.KeyedVectors(5)
    theirs.add_vectors(keys, vectors)
    a = ours.evaluate_word_pairs(tmp_path / "ok.txt")
    b = theirs.evaluate_word_pairs(str(tmp_path / "ok.txt"))
    assert a[0][0] == pytest.approx(b[0][0], abs=1e-5) and a[1][0] == pytest.approx(b[1][0], abs=1e-5)
    pearson, spearman, _ = ours.evaluate_word_pairs(tmp_path / "nan.txt")
    g_pearson = theirs.evaluate_word_pairs(str(tmp_path / "nan.txt"))[0]
    assert math.isnan(g_pearson[0])
    assert math.isnan(pearson[0]) and math.isnan(pearson[1]) and math.isnan(spearman[0])  # was clamped to 1.0


# ---- loaders: no unbounded read, no blocking, no allocation from a header alone ------------------
_LOAD_FIFO = """
import sys
from embedforge.vectors import KeyedVectors, load
path, how = sys.argv[1], sys.argv[2]
try:
    {"text": lambda: KeyedVectors.load_word2vec_format(path),
     "binary": lambda: KeyedVectors.load_word2vec_format(path, binary=True),
     "native": lambda: KeyedVectors.load(path), "guess": lambda: load(path)}[how]()
except ValueError as exc:
    print("refused:", exc)
"""


@pytest.mark.parametrize("how", ["text", "binary", "native", "guess"])
def test_fifo_is_refused_not_waited_on(tmp_path, how):
    import os
    import subprocess
    import sys

    fifo = tmp_path / "pipe.vec"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_FIFO, str(fifo), how], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "refused:" in done.stdout and "not a regular file" in done.stdout


def test_character_device_is_refused():
    with pytest.raises(ValueError, match="not a regular file"):
        KeyedVectors.load_word2vec_format("/dev/zero", binary=True)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_binary_header_announcing_10_to_12_vectors_allocates_nothing_that_size(tmp_path, suffix):
    import gzip
    import resource

    data = b"1000000000000 300\n" + b"cat " + np.ones(300, "<f4").tobytes() + b"\n"
    path = tmp_path / f"huge.bin{suffix}"
    path.write_bytes(gzip.compress(data) if suffix else data)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(EOFError, match="file ends after 1 of the 1000000000000 vectors"):
        KeyedVectors.load_word2vec_format(path, binary=True)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: far below 1.2 TB


def test_text_line_length_is_bounded(tmp_path, monkeypatch):
    from embedforge.vectors import formats

    monkeypatch.setattr(formats, "_MAX_LINE_BYTES", 1000)
    path = tmp_path / "long.txt"
    path.write_bytes(b"2 3\ncat 1 2 3\ndog " + b"1 " * 2000 + b"\n")
    with pytest.raises(ValueError, match="line 3: line longer than 1000 bytes"):
        KeyedVectors.load_word2vec_format(path)


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz"])
@pytest.mark.parametrize("binary", [False, True])
def test_corrupt_compressed_files_raise_the_loaders_errors(tmp_path, suffix, binary):
    kv = KeyedVectors(
        [f"w{i}" for i in range(200)], np.random.default_rng(2).standard_normal((200, 8)).astype(np.float32)
    )
    good = tmp_path / f"v{suffix}"
    kv.save_word2vec_format(good, binary=binary)
    loaded = KeyedVectors.load_word2vec_format(good, binary=binary)
    np.testing.assert_array_equal(loaded.vectors, kv.vectors)
    raw = good.read_bytes()
    (tmp_path / f"cut{suffix}").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(EOFError):  # TruncatedFileError: also a ValueError
        KeyedVectors.load_word2vec_format(tmp_path / f"cut{suffix}", binary=binary)
    flipped = bytearray(raw)
    for i in range(len(raw) // 3, len(raw) // 3 + 40):
        flipped[i] ^= 0x5A
    (tmp_path / f"bad{suffix}").write_bytes(bytes(flipped))
    with pytest.raises(ValueError):
        KeyedVectors.load_word2vec_format(tmp_path / f"bad{suffix}", binary=binary)
