"""unicode_errors="strict" on undecodable bytes raises UnicodeDecodeError, as gensim does, naming the
file and the position (issue 14, §3)."""

import pickle

import numpy as np
import pytest

gensim_models = pytest.importorskip("gensim.models")
from embedforge.vectors import KeyedVectors, VectorsDecodeError  # noqa: E402
from embedforge.vectors.evaluation import evaluate_word_pairs  # noqa: E402

GensimKV = gensim_models.KeyedVectors
rng = np.random.default_rng(1234)


def _rows(n, dim=3):
    return rng.standard_normal((n, dim)).astype(np.float32)


def _text_file(path, bad=b"b\xffd"):
    rows = _rows(3)
    lines = [b"3 3"] + [
        w + b" " + " ".join("%.9g" % v for v in row).encode() for w, row in zip([b"alpha", bad, b"gamma"], rows)
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return rows


def _binary_file(path, bad=b"b\xffd"):
    rows = _rows(3)
    body = b"".join(w + b" " + row.astype("<f4").tobytes() + b"\n" for w, row in zip([b"alpha", bad, b"gamma"], rows))
    path.write_bytes(b"3 3\n" + body)
    return rows


def _check(exc, name, position):
    assert isinstance(exc, UnicodeDecodeError) and isinstance(exc, ValueError)
    assert exc.encoding == "utf-8" and exc.object[exc.start : exc.end] == b"\xff"
    assert exc.reason == "invalid start byte"
    text = str(exc)
    assert name in text and position in text, text
    again = pickle.loads(pickle.dumps(exc))  # survives multiprocessing / pytest-xdist
    assert type(again) is VectorsDecodeError and str(again) == text and again.start == exc.start


def test_text_strict_raises_unicode_decode_error_like_gensim(tmp_path):
    path = tmp_path / "bad.txt"
    _text_file(path)
    with pytest.raises(UnicodeDecodeError):
        GensimKV.load_word2vec_format(str(path), unicode_errors="strict")
    with pytest.raises(VectorsDecodeError) as info:
        KeyedVectors.load_word2vec_format(path, unicode_errors="strict")
    # line 3 starts after "3 3\n" and the first vector line; the bad byte is its second byte
    first = path.read_bytes().split(b"\n")
    offset = len(first[0]) + 1 + len(first[1]) + 1 + 1
    _check(info.value, str(path), f"line 3: cannot decode as utf8 at byte {offset}")
    assert info.value.filename == str(path)
    glove = tmp_path / "bad.glove.txt"
    glove.write_bytes(path.read_bytes().split(b"\n", 1)[1])  # GloVe: no header
    with pytest.raises(VectorsDecodeError, match="line 2: cannot decode as utf8"):
        KeyedVectors.load_glove(glove, unicode_errors="strict")


def test_binary_strict_raises_unicode_decode_error_like_gensim(tmp_path):
    path = tmp_path / "bad.bin"
    _binary_file(path)
    with pytest.raises(UnicodeDecodeError):
        GensimKV.load_word2vec_format(str(path), binary=True, unicode_errors="strict")
    with pytest.raises(VectorsDecodeError) as info:
        KeyedVectors.load_word2vec_format(path, binary=True, unicode_errors="strict")
    word_offset = 4 + len(b"alpha ") + 12 + 1
    _check(
        info.value,
        str(path),
        f"byte {word_offset}: word b'b\\xffd' cannot be decoded as utf8 at byte {word_offset + 1}",
    )


@pytest.mark.parametrize("binary", [False, True])
def test_replace_and_ignore_read_what_gensim_reads(tmp_path, binary):
    path = tmp_path / ("v.bin" if binary else "v.txt")
    rows = (_binary_file if binary else _text_file)(path)
    for errors in ("replace", "ignore"):
        ours = KeyedVectors.load_word2vec_format(path, binary=binary, unicode_errors=errors)
        theirs = GensimKV.load_word2vec_format(str(path), binary=binary, unicode_errors=errors)
        assert ours.index_to_key == list(theirs.index_to_key)
        np.testing.assert_array_equal(ours.vectors, theirs.vectors)
        np.testing.assert_array_equal(ours.vectors, rows)


def test_fvocab_and_evaluation_files(tmp_path):
    vec = tmp_path / "v.txt"
    path = tmp_path / "vocab.txt"
    kv = KeyedVectors(3)
    kv.add_vectors(["alpha", "beta"], _rows(2))
    kv.save_word2vec_format(vec)
    path.write_bytes(b"alpha 3\nb\xffta 2\n")
    with pytest.raises(UnicodeDecodeError):
        GensimKV.load_word2vec_format(str(vec), fvocab=str(path))
    with pytest.raises(VectorsDecodeError) as info:
        KeyedVectors.load_word2vec_format(vec, fvocab=path)
    _check(info.value, str(path), "line 2: cannot decode as utf8")
    pairs = tmp_path / "pairs.tsv"
    pairs.write_bytes(b"alpha\tbeta\t1.0\nalpha\tb\xffta\t2.0\n")
    with pytest.raises(VectorsDecodeError) as info:
        evaluate_word_pairs(kv, pairs)
    _check(info.value, str(pairs), "line 2: cannot decode as utf8")
