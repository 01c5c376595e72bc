"""Errors users catch the way they already do with torch (issue 14, §3)."""

import embedforge
import pytest
import torch


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: embedforge.optim.SGD(lr=1e39), "overflows float32"),
        (lambda: embedforge.optim.Adagrad(lr=0.1, eps=1e-50), "rounds to 0.0 in float32"),
        (lambda: embedforge.optim.RowWiseAdagrad(lr=0.1, eps=1e-46), "rounds to 0.0 in float32"),
        (lambda: embedforge.optim.Adam(lr=1e-3, betas=(0.9, 0.9999999999)), r"betas\[1\]=0.9999999999 rounds to 1.0"),
        (lambda: embedforge.optim.Adam(lr=1e-3, betas=(0.999999999, 0.999)), r"betas\[0\]"),
        (lambda: embedforge.optim.Adam(lr=1e-3, weight_decay=4e38), "weight_decay=4e\\+38 overflows"),
    ],
)
def test_optimizer_configs_refuse_float32_breaking_values_at_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_optimizer_config_float32_values_that_keep_their_meaning_still_work():
    # torch's SparseAdam keeps these too; they stay finite and in range in float32.
    opt = embedforge.optim.Adam(lr=3e38, betas=(0.9, 0.99999), eps=1e-30)
    assert opt.betas == (0.9, 0.99999) and opt.eps == 1e-30
    with pytest.raises(ValueError, match="overflows float32"):
        opt.lr = 1e40  # validated on assignment as well (schedulers set it)


F = torch.nn.functional


def _raised(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the class is what is compared
        return exc
    raise AssertionError("no exception")


@pytest.mark.parametrize(
    "case", ["id_out_of_range", "negative_id", "offsets_start", "offsets_decreasing", "offsets_past_end"]
)
def test_native_errors_are_caught_by_the_class_torch_raises(case):
    w = torch.randn(10, 4)
    ids, offsets = {
        "id_out_of_range": (torch.tensor([1, 10, 2]), torch.tensor([0, 2])),
        "negative_id": (torch.tensor([1, -3, 2]), torch.tensor([0, 2])),
        "offsets_start": (torch.tensor([1, 2, 3]), torch.tensor([1, 2])),
        "offsets_decreasing": (torch.tensor([1, 2, 3]), torch.tensor([0, 2, 1])),
        "offsets_past_end": (torch.tensor([1, 2, 3]), torch.tensor([0, 5])),
    }[case]
    theirs = _raised(lambda: F.embedding_bag(ids, w, offsets, mode="sum"))
    ours = _raised(lambda: embedforge.ops.embedding_bag(w, ids, offsets))
    assert isinstance(ours, type(theirs)), (type(ours).__mro__, type(theirs))
    assert isinstance(ours, RuntimeError)
    # and still the class our own messages promised, naming argument, value and position
    expected = IndexError if "id" in case else ValueError
    assert isinstance(ours, expected)
    assert ("indices[1]" in str(ours)) if "id" in case else ("offsets" in str(ours))


def test_truncated_vectors_file_is_also_an_eoferror_like_gensim(tmp_path):
    gensim_models = pytest.importorskip("gensim.models", reason="gensim is the reference here")
    import numpy as np
    from embedforge.vectors import KeyedVectors

    kv = KeyedVectors([f"w{i}" for i in range(5)], np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32))
    kv.save_word2vec_format(tmp_path / "v.bin", binary=True)
    (tmp_path / "cut.bin").write_bytes((tmp_path / "v.bin").read_bytes()[:-7])
    theirs = _raised(lambda: gensim_models.KeyedVectors.load_word2vec_format(str(tmp_path / "cut.bin"), binary=True))
    ours = _raised(lambda: KeyedVectors.load_word2vec_format(tmp_path / "cut.bin", binary=True))
    assert isinstance(theirs, EOFError)
    assert isinstance(ours, EOFError) and isinstance(ours, ValueError) and "file ends inside" in str(ours)
    kv.save(tmp_path / "v.efv")
    (tmp_path / "cut.efv").write_bytes((tmp_path / "v.efv").read_bytes()[:-3])
    assert isinstance(_raised(lambda: KeyedVectors.load(tmp_path / "cut.efv")), EOFError)
