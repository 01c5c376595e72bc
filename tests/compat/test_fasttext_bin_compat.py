"""Facebook fastText .bin models: read what gensim writes (and the old format), write what gensim
reads, and refuse damaged files with the loader's errors (issue 14, §4 and §2)."""

import os
import struct

import numpy as np
import pytest

gensim_fasttext = pytest.importorskip("gensim.models.fasttext")
from embedforge.vectors import (  # noqa: E402
    KeyedVectors,
    TruncatedFileError,
    VectorsDecodeError,
    guess_format,
    load,
    load_facebook_model,
    load_facebook_vectors,
    save_facebook_model,
)
from embedforge.vectors.fasttext_bin import _ngram_buckets, compute_ngrams_bytes, ft_hash_bytes  # noqa: E402

WORDS = ["alpha", "beta", "gamma", "naïve", "日本語", "über", "café", "straße", "ÿx", "ab", "z", "delta", "émile"]
OOV = ["alphabet", "naïveté", "日本", "zz", "q", "Straße", "betamax", "über-cool", "\u00a0x"]
rng = np.random.default_rng(20261202)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small gensim FastText (random corpus, fixed seed) saved in Facebook's format by gensim."""
    sentences = [list(rng.choice(WORDS, size=int(rng.integers(3, 12)))) for _ in range(300)]
    model = gensim_fasttext.FastText(
        sentences,
        vector_size=12,
        window=3,
        min_count=1,
        epochs=3,
        bucket=2003,
        min_n=2,
        max_n=5,
        workers=1,
        seed=int(rng.integers(1 << 30)),
        sg=1,
    )
    path = tmp_path_factory.mktemp("ft") / "model.bin"
    gensim_fasttext.save_facebook_model(model, str(path))
    return model, path


def _assert_same_vectors(ours, theirs, oov=OOV):
    assert ours.index_to_key == list(theirs.index_to_key)
    np.testing.assert_allclose(ours.vectors, theirs.vectors, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.vectors_vocab, theirs.vectors_vocab, rtol=0, atol=0)
    np.testing.assert_allclose(ours.vectors_ngrams, theirs.vectors_ngrams, rtol=0, atol=0)
    for word in oov:
        assert word in ours and word not in ours.key_to_index
        np.testing.assert_allclose(ours[word], theirs[word], rtol=1e-5, atol=1e-6)


def test_ngram_hashes_are_gensims_and_fasttexts():
    words = WORDS + OOV + ["</s>", "a", "\U0001f600ok", "\xff\xfe"]
    for min_n, max_n, bucket in [(3, 6, 2_000_000), (1, 2, 1000), (2, 5, 7), (4, 4, 10**6)]:
        offsets, buckets = _ngram_buckets(words, min_n, max_n, bucket)
        for i, word in enumerate(words):
            assert buckets[offsets[i] : offsets[i + 1]].tolist() == gensim_fasttext.ft_ngram_hashes(
                word, min_n, max_n, bucket
            ), (word, min_n, max_n)
        # the scalar reference agrees with the vectorised one
        assert [ft_hash_bytes(g) % bucket for g in compute_ngrams_bytes(words[4], min_n, max_n)] == buckets[
            offsets[4] : offsets[5]
        ].tolist()


def test_load_what_gensim_writes(trained):
    model, path = trained
    ours = load_facebook_vectors(path)
    theirs = gensim_fasttext.load_facebook_vectors(str(path))
    _assert_same_vectors(ours, theirs)
    # also against the trained model itself, and counts as gensim's
    np.testing.assert_allclose(ours.vectors, model.wv.vectors, rtol=1e-5, atol=1e-6)
    for word in WORDS:
        assert ours.get_vecattr(word, "count") == model.wv.get_vecattr(word, "count")
    assert guess_format(path) == "fasttext-bin"
    np.testing.assert_array_equal(load(path).vectors, ours.vectors)
    full = load_facebook_model(path)
    gfull = gensim_fasttext.load_facebook_model(str(path))
    assert (full.vector_size, full.window, full.epochs, full.sg, full.min_n, full.max_n, full.bucket) == (
        gfull.vector_size,
        gfull.window,
        gfull.epochs,
        gfull.sg,
        gfull.wv.min_n,
        gfull.wv.max_n,
        gfull.wv.bucket,
    )
    np.testing.assert_array_equal(full.output_vectors, gfull.syn1neg)
    with pytest.raises(NotImplementedError, match="train"):
        full.train([["a"]])


def test_save_what_gensim_reads(trained, tmp_path):
    _, path = trained
    full = load_facebook_model(path)
    out = tmp_path / "again.bin"
    save_facebook_model(full, out)
    assert out.read_bytes() == path.read_bytes()  # same layout byte for byte as gensim writes
    _assert_same_vectors(load_facebook_vectors(out), gensim_fasttext.load_facebook_vectors(str(out)))
    with pytest.raises(TypeError, match="FacebookModel"):
        save_facebook_model(KeyedVectors(["a"], np.ones((1, 2))), tmp_path / "x.bin")


def _old_format(new: bytes, nwords: int) -> bytes:
    """Rewrite a version-12 file in the pre-2017 layout: no magic/version, pruneidx or quant flags."""
    body = new[8:]
    args_end = 12 * 4 + 8
    dict_header = body[args_end : args_end + 20]
    pos = args_end + 28  # after size, nwords, nlabels, ntokens, pruneidx_size
    entries_start = pos
    for _ in range(nwords):
        pos = body.index(b"\0", pos) + 1 + 9
    entries = body[entries_start:pos]
    rest = body[pos:]
    m, n = struct.unpack_from("<2q", rest, 1)
    input_part = rest[1 : 17 + 4 * m * n]
    output_part = rest[17 + 4 * m * n + 1 :]
    return body[:args_end] + dict_header + entries + input_part + output_part


def test_old_format_is_recognised_not_taken_for_glove(trained, tmp_path):
    model, path = trained
    old = tmp_path / "old.bin"
    old.write_bytes(_old_format(path.read_bytes(), len(model.wv)))
    assert guess_format(old) == "fasttext-bin"
    theirs = gensim_fasttext.load_facebook_vectors(str(old))
    ours = load_facebook_vectors(old)
    _assert_same_vectors(ours, theirs)
    assert load_facebook_model(old).file_version == 0
    with pytest.raises(ValueError, match="fastText model"):
        KeyedVectors.load_word2vec_format(old, binary=True)


def test_end_of_sentence_word_has_no_ngrams_as_in_fasttext(tmp_path):
    sentences = [list(rng.choice(["</s>", "one", "two", "three"], size=6)) for _ in range(50)]
    model = gensim_fasttext.FastText(
        sentences, vector_size=4, min_count=1, epochs=1, bucket=101, min_n=2, max_n=3, workers=1, seed=3
    )
    path = tmp_path / "eos.bin"
    gensim_fasttext.save_facebook_model(model, str(path))
    ours = load_facebook_vectors(path)
    i = ours.key_to_index["</s>"]
    np.testing.assert_array_equal(ours["</s>"], ours.vectors_vocab[i])  # fastText's getWordVector
    for word in ("one", "two", "three"):  # every other word as gensim
        np.testing.assert_allclose(ours[word], model.wv[word], rtol=1e-5, atol=1e-6)


def test_oov_without_ngrams_as_gensim(tmp_path):
    sentences = [list(rng.choice(["one", "two", "three"], size=5)) for _ in range(30)]
    model = gensim_fasttext.FastText(
        sentences, vector_size=4, min_count=1, epochs=1, bucket=101, min_n=3, max_n=4, workers=1, seed=5
    )
    path = tmp_path / "m.bin"
    gensim_fasttext.save_facebook_model(model, str(path))
    ours = load_facebook_vectors(path)
    theirs = gensim_fasttext.load_facebook_vectors(str(path))
    # "" has the single n-gram "<>", shorter than min_n: both give the zero vector (as fastText)
    np.testing.assert_array_equal(theirs[""], np.zeros(4, dtype=np.float32))
    np.testing.assert_array_equal(ours[""], theirs[""])
    # a model without buckets knows only its vocabulary: KeyError, as gensim
    data = bytearray(path.read_bytes())
    nwords = len(model.wv)
    pos = 8 + 56 + 28
    for _ in range(nwords):
        pos = data.index(b"\0", pos) + 1 + 9
    struct.pack_into("<i", data, 8 + 8 * 4, 0)  # bucket = 0
    m, n = struct.unpack_from("<2q", data, pos + 1)
    struct.pack_into("<q", data, pos + 1, nwords)  # the input matrix: the word rows only
    cut = bytes(data[: pos + 17 + 4 * nwords * n]) + bytes(data[pos + 17 + 4 * m * n :])
    nobucket = tmp_path / "nobucket.bin"
    nobucket.write_bytes(cut)
    ours = load_facebook_vectors(nobucket)
    theirs = gensim_fasttext.load_facebook_vectors(str(nobucket))
    assert "zebra" not in ours and "zebra" not in theirs
    with pytest.raises(KeyError):
        theirs["zebra"]
    with pytest.raises(KeyError, match="no character n-gram buckets"):
        ours["zebra"]
    np.testing.assert_allclose(ours.vectors, theirs.vectors, rtol=1e-6)
    np.testing.assert_array_equal(ours.vectors, model.wv.vectors_vocab)


def test_truncated_and_corrupt_files_raise_the_loaders_errors(trained, tmp_path):
    _, path = trained
    data = path.read_bytes()
    target = tmp_path / "bad.bin"
    cuts = sorted(set(rng.integers(1, len(data), size=60).tolist()) | {1, 7, 8, 63, 64, 70, 90, len(data) - 1})
    for cut in cuts:
        target.write_bytes(data[:cut])
        for loader in (load_facebook_model, load_facebook_vectors):
            if loader is load_facebook_vectors and cut >= len(data) - 4 * 12 * len(WORDS) - 17:
                continue  # only the output matrix is cut: the vectors are complete
            with pytest.raises((TruncatedFileError, ValueError)) as info:
                loader(target)
            assert str(target) in str(info.value)
            if isinstance(info.value, TruncatedFileError):
                assert isinstance(info.value, EOFError)
    target.write_bytes(data[: len(data) - 3])
    with pytest.raises(EOFError):
        load_facebook_model(target)

    def patched(offset, fmt, value):
        raw = bytearray(data)
        struct.pack_into(fmt, raw, offset, value)
        target.write_bytes(bytes(raw))
        return target

    dict_at = 8 + 56
    # a header announcing 2**31-1 words or a 10**12-row matrix allocates nothing that size
    for offset, fmt, value, message in [
        (dict_at, "<i", (1 << 31) - 1, "bad dictionary header"),
        (dict_at + 4, "<i", (1 << 31) - 1, "bad dictionary header"),
        (8, "<i", 0, "not a fastText model"),  # dim 0
        (4, "<i", 99, "version 99"),
        (8 + 9 * 4, "<i", -5, "not a fastText model"),  # negative minn
    ]:
        with pytest.raises(ValueError, match=message):
            load_facebook_vectors(patched(offset, fmt, value))
    nwords = struct.unpack_from("<i", data, dict_at + 4)[0]
    labelled = bytearray(data)
    struct.pack_into("<3i", labelled, dict_at, nwords + 3, nwords, 3)
    target.write_bytes(bytes(labelled))
    with pytest.raises(NotImplementedError, match="supervised"):
        load_facebook_vectors(target)
    both = bytearray(data)
    struct.pack_into("<3i", both, dict_at, (1 << 31) - 1, (1 << 31) - 1, 0)
    target.write_bytes(bytes(both))
    with pytest.raises(TruncatedFileError, match="dictionary of 2147483647 words"):
        load_facebook_vectors(target)
    # the input matrix header: find it after the dictionary
    pos = dict_at + 28
    for _ in WORDS:
        pos = data.index(b"\0", pos) + 1 + 9
    with pytest.raises(NotImplementedError, match="quantized"):
        load_facebook_vectors(patched(pos, "<B", 1))
    with pytest.raises(ValueError, match="matrix is"):
        load_facebook_vectors(patched(pos + 1, "<q", 10**12))
    raw = bytearray(data)
    struct.pack_into("<f", raw, pos + 17 + 4 * 5, float("nan"))
    target.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="non-finite"):
        load_facebook_vectors(target)
    target.write_bytes(data + b"junk")
    with pytest.raises(ValueError, match="unexpected data"):
        load_facebook_model(target)
    target.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        load_facebook_vectors(target)


def test_undecodable_word(trained, tmp_path):
    _, path = trained
    data = path.read_bytes()
    at = data.index("naïve".encode())
    raw = bytearray(data)
    raw[at + 2] = 0xFF  # the first byte of "ï"
    target = tmp_path / "bad.bin"
    target.write_bytes(bytes(raw))
    with pytest.raises(VectorsDecodeError, match=f"byte {at}: word"):
        load_facebook_vectors(target)
    kv = load_facebook_vectors(target, unicode_errors="backslashreplace")
    gkv = gensim_fasttext.load_facebook_vectors(str(target))  # gensim backslash-escapes, logging an error
    assert kv.index_to_key == list(gkv.index_to_key)


def test_random_bytes_never_crash_the_loader(tmp_path):
    target = tmp_path / "r.bin"
    for size in rng.integers(0, 400, size=40).tolist():
        body = rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()
        for head in (b"", struct.pack("<2i", 793712314, 12)):
            target.write_bytes(head + body)
            try:
                load_facebook_model(target)
            except (ValueError, EOFError, NotImplementedError):
                pass
    assert os.path.exists(target)


def test_cli_converts_a_facebook_model_and_refuses_damage_in_one_line(trained, tmp_path, capsys):
    from embedforge.cli import main

    _, path = trained
    out = tmp_path / "out.txt"
    assert main(["convert", str(path), str(out)]) == 0
    back = KeyedVectors.load_word2vec_format(out)
    np.testing.assert_allclose(back.vectors, load_facebook_vectors(path).vectors, rtol=1e-6)
    bad = tmp_path / "cut.bin"
    bad.write_bytes(path.read_bytes()[:200])
    capsys.readouterr()
    assert main(["convert", str(bad), str(tmp_path / "never.txt"), "--from", "fasttext-bin"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fastText model file ends" in err and "Traceback" not in err
    assert not (tmp_path / "never.txt").exists()
