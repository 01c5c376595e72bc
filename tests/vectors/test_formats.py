"""Vector file formats: round trips, gensim interop, limit, guessing, atomic saves and every error path."""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest
from embedforge.vectors import KeyedVectors, formats, guess_format, load, save
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def random_kv(n: int = 30, d: int = 7, seed: int = 0) -> KeyedVectors:
    """Random vectors with some non-ASCII keys."""
    rng = np.random.default_rng(seed)
    keys = [f"w{i}" for i in range(n)]
    keys[1:4] = ["café", "日本", "naïve-ü"][: max(0, min(3, n - 1))]
    return KeyedVectors(keys, (rng.standard_normal((n, d)) * 10.0 ** rng.integers(-6, 6, (n, 1))).astype(np.float32))


def assert_same(a: KeyedVectors, b: KeyedVectors) -> None:
    """Identical keys (in order) and bit-identical vectors."""
    assert a.index_to_key == b.index_to_key
    assert a.vectors.shape == b.vectors.shape
    np.testing.assert_array_equal(np.asarray(a.vectors), np.asarray(b.vectors))


def write_bytes(path, data: bytes):
    """Write raw bytes and return the path as str."""
    with open(path, "wb") as handle:
        handle.write(data)
    return str(path)


def w2v_binary(keys, array, dim=None, count=None, newline=True) -> bytes:
    """Hand-built word2vec binary bytes (independent of the writer under test)."""
    array = np.asarray(array, dtype="<f4")
    out = [f"{len(keys) if count is None else count} {array.shape[1] if dim is None else dim}\n".encode()]
    for key, row in zip(keys, array):
        out.append(key.encode() + b" " + row.tobytes() + (b"\n" if newline else b""))
    return b"".join(out)


# ----------------------------------------------------------------------------- round trips
@pytest.mark.parametrize(
    "name, fmt",
    [
        ("v.txt", "word2vec"),
        ("v.vec", "fasttext"),
        ("v.bin", "word2vec-binary"),
        ("g.txt", "glove"),
        ("v.efv", "native"),
        ("v.txt.gz", "word2vec"),
        ("v.bin.bz2", "word2vec-binary"),
        ("g.txt.xz", "glove"),
    ],
)
def test_round_trip_every_format(tmp_path, name, fmt):
    kv = random_kv(seed=len(name))
    path = tmp_path / name
    save(kv, path, format=fmt)
    assert_same(load(path), kv)  # format guessed from content
    assert_same(load(path, format=fmt), kv)
    expected = {"fasttext": "word2vec"}.get(fmt, fmt)
    assert guess_format(path) == expected
    assert sorted(os.listdir(tmp_path)) == [name]  # no temporary files left behind


def test_text_layout_is_word2vec(tmp_path):
    kv = KeyedVectors(["a", "b"], np.array([[0.5, -1.0], [0.1, 2.0]]))
    kv.save_word2vec_format(tmp_path / "v.txt")
    lines = (tmp_path / "v.txt").read_text().splitlines()
    assert lines[0] == "2 2"
    assert lines[1] == "a 0.5 -1"
    assert lines[2].split()[0] == "b" and np.float32(lines[2].split()[1]) == np.float32(0.1)
    kv.save_glove(tmp_path / "g.txt")
    assert (tmp_path / "g.txt").read_text().splitlines()[0] == "a 0.5 -1"
    kv.save_word2vec_format(tmp_path / "v.bin", binary=True)
    assert (tmp_path / "v.bin").read_bytes() == w2v_binary(["a", "b"], kv.vectors)


def test_native_mmap_modes(tmp_path):
    kv = random_kv(n=50, d=9)
    path = tmp_path / "v.efv"
    kv.save(path)
    assert os.path.getsize(path) % 4 == 0
    mapped = KeyedVectors.load(path)
    assert isinstance(mapped.vectors, np.memmap) and not mapped.vectors.flags.writeable
    assert_same(mapped, kv)
    assert mapped.most_similar("w10", topn=3) == kv.most_similar("w10", topn=3)
    in_memory = KeyedVectors.load(path, mmap=None)
    assert not isinstance(in_memory.vectors, np.memmap) and in_memory.vectors.flags.writeable
    assert_same(in_memory, kv)
    cow = KeyedVectors.load(path, mmap="c")
    cow.vectors[0, 0] = 42.0
    assert_same(KeyedVectors.load(path), kv)  # copy-on-write never reaches the file
    with pytest.raises(ValueError, match="mmap"):
        KeyedVectors.load(path, mmap="w")
    empty = KeyedVectors([], np.zeros((0, 3)))
    empty.save(tmp_path / "e.efv")
    assert len(KeyedVectors.load(tmp_path / "e.efv")) == 0
    # overwriting a file that is currently mapped keeps the old mapping valid
    random_kv(n=50, d=9, seed=9).save(path)
    assert_same(mapped, kv)
    assert_same(KeyedVectors.load(path), random_kv(n=50, d=9, seed=9))
    # per-key attributes (e.g. counts) travel in the native header
    counted = random_kv(n=5, d=2)
    counted.set_vecattr(counted.index_to_key, "count", [9, 7, 5, 3, 1])
    counted.set_vecattr("w0", "weight", 0.25)
    counted.save(tmp_path / "c.efv")
    for mode in ("r", None):
        back = KeyedVectors.load(tmp_path / "c.efv", mmap=mode)
        assert back.expandos["count"].tolist() == [9, 7, 5, 3, 1]
        assert back.expandos["count"].dtype == counted.expandos["count"].dtype
        assert back.get_vecattr("w0", "weight") == 0.25
    with pytest.raises(ValueError, match="attribute 'bad' must be a numeric array of shape \\(2,\\)"):
        formats.write_native(tmp_path / "x.efv", ["a", "b"], np.ones((2, 2)), attrs={"bad": np.ones(3)})
    # keys the text formats cannot hold survive the native format
    odd = KeyedVectors(["with space", "tab\tkey", "new\nline", ""], np.eye(4))
    odd.save(tmp_path / "odd.efv")
    assert_same(KeyedVectors.load(tmp_path / "odd.efv"), odd)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_round_trip_property(tmp_path, data):
    n = data.draw(st.integers(0, 6), label="n")
    d = data.draw(st.integers(1, 5), label="d")
    alphabet = st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc"))
    keys = data.draw(
        st.lists(
            st.text(alphabet, min_size=1, max_size=6).filter(lambda k: not any(c.isspace() for c in k)),
            min_size=n,
            max_size=n,
            unique=True,
        ),
        label="keys",
    )
    values = data.draw(
        st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=n * d, max_size=n * d),
        label="values",
    )
    kv = KeyedVectors(keys, np.array(values, dtype=np.float32).reshape(n, d))
    for name, fmt in (("p.txt", "word2vec"), ("p.bin", "word2vec-binary"), ("p.efv", "native")):
        save(kv, tmp_path / name, format=fmt)
        assert_same(load(tmp_path / name, format=fmt), kv)
    if n:
        save(kv, tmp_path / "p.glove", format="glove")
        assert_same(load(tmp_path / "p.glove", format="glove"), kv)


def test_limit(tmp_path):
    kv = random_kv(n=20)
    kv.save_word2vec_format(tmp_path / "v.txt")
    kv.save_word2vec_format(tmp_path / "v.bin", binary=True)
    kv.save_glove(tmp_path / "g.txt")
    for loaded in (
        KeyedVectors.load_word2vec_format(tmp_path / "v.txt", limit=5),
        KeyedVectors.load_word2vec_format(tmp_path / "v.bin", binary=True, limit=5),
        KeyedVectors.load_glove(tmp_path / "g.txt", limit=5),
        load(tmp_path / "v.txt", limit=5),
    ):
        assert_same(loaded, kv.subset(kv.index_to_key[:5]))
    assert len(KeyedVectors.load_word2vec_format(tmp_path / "v.txt", limit=100)) == 20
    assert len(KeyedVectors.load_word2vec_format(tmp_path / "v.txt", limit=None)) == 20
    with pytest.raises(ValueError, match="limit"):
        KeyedVectors.load_word2vec_format(tmp_path / "v.txt", limit=-1)
    # limit stops reading: corruption after the first rows is not reached
    lines = (tmp_path / "v.txt").read_text(encoding="utf8").splitlines()
    lines[10] = "broken 1 2"
    (tmp_path / "bad.txt").write_text("\n".join(lines) + "\n", encoding="utf8")
    assert len(KeyedVectors.load_word2vec_format(tmp_path / "bad.txt", limit=5)) == 5
    with pytest.raises(ValueError, match="line 11"):
        KeyedVectors.load_word2vec_format(tmp_path / "bad.txt")
    raw = (tmp_path / "v.bin").read_bytes()
    write_bytes(tmp_path / "cut.bin", raw[: len(raw) // 2])
    assert len(KeyedVectors.load_word2vec_format(tmp_path / "cut.bin", binary=True, limit=3)) == 3


def test_no_header_and_tolerated_whitespace(tmp_path):
    text = "2 3\r\na 1 2 3 \r\n\nb\t4  5 \t6\n\n"  # CRLF, blank lines, runs of spaces and tabs
    kv = KeyedVectors.load_word2vec_format(write_bytes(tmp_path / "v.txt", text.encode()))
    assert kv.index_to_key == ["a", "b"]
    np.testing.assert_array_equal(kv.vectors, [[1, 2, 3], [4, 5, 6]])
    for binary in (False, True):  # a header announcing no vectors is a valid, empty set
        empty = KeyedVectors.load_word2vec_format(write_bytes(tmp_path / "z", b"0 3\n"), binary=binary)
        assert len(empty) == 0 and empty.vector_size == 3
    glove = KeyedVectors.load_word2vec_format(write_bytes(tmp_path / "g.txt", b"a 1 2\nb 3 4\n"), no_header=True)
    np.testing.assert_array_equal(glove.vectors, [[1, 2], [3, 4]])
    # binary without newlines after vectors (as gensim writes it) reads the same
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    tight = KeyedVectors.load_word2vec_format(
        write_bytes(tmp_path / "t.bin", w2v_binary(["x", "y"], array, newline=False)), binary=True
    )
    np.testing.assert_array_equal(tight.vectors, array)
    latin = "1 2\ncaf\xe9 1 2\n".encode("latin-1")
    with pytest.raises(ValueError, match="line 2: cannot decode as utf8"):
        KeyedVectors.load_word2vec_format(write_bytes(tmp_path / "l.txt", latin))
    assert KeyedVectors.load_word2vec_format(tmp_path / "l.txt", encoding="latin-1").index_to_key == ["café"]
    assert KeyedVectors.load_word2vec_format(tmp_path / "l.txt", unicode_errors="replace").index_to_key == ["caf\ufffd"]


# ----------------------------------------------------------------------------- gensim interop
@pytest.mark.parametrize("binary", [False, True])
def test_gensim_interop(tmp_path, binary):
    gensim_models = pytest.importorskip("gensim.models", reason="gensim is a test extra")
    kv = random_kv(n=40, d=11, seed=3)
    ours = tmp_path / ("ours.bin" if binary else "ours.txt")
    kv.save_word2vec_format(ours, binary=binary)
    theirs = gensim_models.KeyedVectors.load_word2vec_format(str(ours), binary=binary)
    assert list(theirs.index_to_key) == kv.index_to_key
    np.testing.assert_array_equal(theirs.vectors, kv.vectors)
    back = tmp_path / ("theirs.bin" if binary else "theirs.txt")
    theirs.save_word2vec_format(str(back), binary=binary)
    assert_same(KeyedVectors.load_word2vec_format(back, binary=binary), kv)
    assert_same(load(back), kv)
    assert guess_format(back) == ("word2vec-binary" if binary else "word2vec")
    limited = gensim_models.KeyedVectors.load_word2vec_format(str(ours), binary=binary, limit=7)
    assert_same(
        KeyedVectors.load_word2vec_format(ours, binary=binary, limit=7),
        KeyedVectors(list(limited.index_to_key), limited.vectors),
    )


# ----------------------------------------------------------------------------- text error paths
TEXT_ERRORS = [
    (b"", r"v\.txt: file is empty"),
    (b"\n\n", r"v\.txt: no header and no vectors"),
    (b"hello world\na 1 2\n", r"v\.txt line 1: bad header 'hello world'.*no_header=True"),
    (b"2\na 1 2\n", r"v\.txt line 1: bad header"),
    (b"2 0\n", r"v\.txt line 1: bad header '2 0': count must be >= 0 and dim >= 1"),
    (b"2 3\na 1 2 3\nb 1 2\n", r"v\.txt line 3: expected 3 values, found 2"),
    (b"2 3\na 1 2 3\nb 1 2 3 4\n", r"v\.txt line 3: expected 3 values, found 4"),
    (b"2 3\na 1 2 3\nb 1 x 3\n", r"v\.txt line 3: value 2 of 'b' is not a number: 'x'"),
    (b"2 3\na 1 2 nan\nb 1 2 3\n", r"v\.txt line 2: value 3 of 'a' is not a finite float32: 'nan'"),
    (b"1 2\na 1e39 2\n", r"v\.txt line 2: value 1 of 'a' is not a finite"),
    (b"3 2\na 1 2\nb 3 4\na 5 6\n", r"v\.txt line 4: duplicate word 'a' \(first on line 2\)"),
    (b"3 2\na 1 2\nb 3 4\n", r"v\.txt line 3: file ends after 2 of the 3 vectors"),
    (b"1 2\na 1 2\nb 3 4\n", r"v\.txt line 3: more vectors than the 1 the header announces"),
    (b"0 2\na 1 2\n", r"v\.txt line 2: more vectors than the 0 the header announces"),
    (b"1 2\n 1 2\n", r"v\.txt line 2: expected 2 values, found 1"),
]


@pytest.mark.parametrize("data, message", TEXT_ERRORS)
def test_text_errors(tmp_path, data, message):
    path = write_bytes(tmp_path / "v.txt", data)
    with pytest.raises(ValueError, match=message):
        KeyedVectors.load_word2vec_format(path)


def test_glove_errors(tmp_path):
    with pytest.raises(ValueError, match="file is empty"):
        KeyedVectors.load_glove(write_bytes(tmp_path / "e.txt", b""))
    with pytest.raises(ValueError, match=r"g\.txt line 2: expected 2 values, found 3"):
        KeyedVectors.load_glove(write_bytes(tmp_path / "g.txt", b"a 1 2\nb 1 2 3\n"))
    with pytest.raises(ValueError, match=r"line 2: expected 1 values, found 3 \(line 1 looks like a word2vec header"):
        KeyedVectors.load_glove(write_bytes(tmp_path / "w.txt", b"2 3\na 1 2 3\n"))
    with pytest.raises(ValueError, match=r"line 1: expected a word and its values"):
        KeyedVectors.load_glove(write_bytes(tmp_path / "o.txt", b"lonely\n"))


# ----------------------------------------------------------------------------- binary error paths
def test_binary_errors(tmp_path):
    array = np.arange(12, dtype=np.float32).reshape(3, 4) + 0.5
    good = w2v_binary(["cat", "dog", "emu"], array)
    assert_same(
        KeyedVectors.load_word2vec_format(write_bytes(tmp_path / "ok.bin", good), binary=True),
        KeyedVectors(["cat", "dog", "emu"], array),
    )
    record = 4 + 16 + 1  # "dog " + 4 floats + newline
    header = len(b"3 4\n")

    def fails(data: bytes, message: str, **kwargs) -> None:
        path = write_bytes(tmp_path / "vectors.bin", data)
        with pytest.raises(ValueError, match=message):
            KeyedVectors.load_word2vec_format(path, binary=True, **kwargs)

    fails(b"", r"vectors\.bin: file is empty")
    fails(b"three four\n" + good[header:], r"vectors\.bin byte 0: bad header b'three four'")
    fails(b"3 4", r"vectors\.bin byte 0: bad header")  # no newline
    fails(struct.pack("<ii", 793712314, 12) + b"\0" * 40, r"byte 0: this is a fastText model")
    # truncated inside the vector of 'emu': the offset names where that vector starts
    vector_start = header + 2 * record + len(b"emu ")
    fails(good[:-10], rf"vectors\.bin byte {vector_start}: file ends inside the vector of 'emu' \(7 of 16 bytes\)")
    fails(good[: header + 2 * record + 2], rf"byte {header + 2 * record}: file ends inside a word, after 2 of the 3")
    fails(good[: header + 2 * record], rf"byte {header + 2 * record}: file ends after 2 of the 3 vectors")
    fails(
        w2v_binary(["cat", "dog", "cat"], array),
        rf"byte {header + 2 * record}: duplicate word 'cat' \(first at byte {header}\)",
    )
    bad = array.copy()
    bad[1, 2] = np.inf
    fails(
        w2v_binary(["cat", "dog", "emu"], bad),
        rf"byte {header + record + 4}: the vector of 'dog' has a non-finite value",
    )
    fails(good + b"extra stuff", rf"byte {len(good)}: unexpected data after the 3 vectors")
    fails(
        w2v_binary(["cat", "dog", "emu"], array, count=2),
        rf"byte {header + 2 * record}: unexpected data after the 2 vectors",
    )
    # a header whose dimension is wrong is caught (here: 3 instead of 4)
    fails(w2v_binary(["cat", "dog", "emu"], array, dim=3), r"vectors\.bin byte \d+: ")
    fails(w2v_binary(["cat", "dog", "emu"], array, dim=5), r"vectors\.bin byte \d+: ")
    fails(b"1 2\n\xff\xfe " + np.zeros(2, "<f4").tobytes(), r"byte 4: word b'\\xff\\xfe' cannot be decoded as utf8")
    fails(b"1 2\n" + b"x" * (formats._MAX_WORD_BYTES + 10), r"byte 4: no word separator")
    fails(b"1 2\n  " + np.zeros(2, "<f4").tobytes(), r"byte 4: empty word")
    with pytest.raises(ValueError, match="always has a header"):
        KeyedVectors.load_word2vec_format(tmp_path / "ok.bin", binary=True, no_header=True)


# ----------------------------------------------------------------------------- native error paths
def test_native_errors(tmp_path):
    kv = random_kv(n=10, d=3)
    kv.save(tmp_path / "good.efv")
    good = (tmp_path / "good.efv").read_bytes()

    def fails(data: bytes, message: str) -> None:
        path = write_bytes(tmp_path / "v.efv", data)
        with pytest.raises(ValueError, match=message):
            KeyedVectors.load(path)

    fails(b"", r"v\.efv: file is empty")
    fails(b"2 3\na 1 2 3\n", r"v\.efv byte 0: not an embedforge native vectors file")
    fails(good[:12], r"byte 8: file ends inside the header length")
    fails(good[:40], r"byte 16: header of \d+ bytes runs past the end")
    fails(good[:-1], rf"byte {len(good) - 1}: file truncated: 10 x 3 float32 vectors")
    fails(good + b"\0" * 4, rf"byte {len(good)}: file has extra bytes")
    header_length = struct.unpack("<Q", good[8:16])[0]
    corrupt = good[:16] + b"}" + good[17:]
    fails(corrupt, r"byte 16: bad header")
    patched = good.replace(b'"count": 10', b'"count": 11')
    fails(patched, r"byte 16: header has 11 as count but a key list that does not match")

    # a header rewritten with a wrong attribute column (length and padding recomputed)
    def with_counts(values) -> bytes:
        meta = json.loads(good[16 : 16 + header_length])
        meta["attrs"] = {"count": {"dtype": "<i8", "values": values}}
        raw = json.dumps(meta).encode()
        prefix = good[:8] + struct.pack("<Q", len(raw)) + raw
        return prefix + b"\0" * (-len(prefix) % 64) + good[-4 * 30 :]

    rebuilt = KeyedVectors.load(write_bytes(tmp_path / "ok.efv", with_counts(list(range(10)))))
    assert rebuilt.expandos["count"].tolist() == list(range(10))
    assert_same(rebuilt, kv)
    fails(
        with_counts(list(range(9))),
        r"byte 16: bad attributes in the header: attribute 'count' has 9 values for 10 keys",
    )
    dup = good.replace(b'"w0"', b'"w4"')
    fails(dup, r"byte 16: duplicate key 'w4'")
    assert len(dup) == len(good) and header_length > 0
    with pytest.raises(ValueError, match="is a directory"):
        KeyedVectors.load(tmp_path)
    nonfinite = bytearray(good)
    nonfinite[-4:] = np.array([np.nan], "<f4").tobytes()
    with pytest.raises(ValueError, match=rf"byte {len(good) - 12}: the vector of 'w9' has a non-finite value"):
        KeyedVectors.load(write_bytes(tmp_path / "n.efv", bytes(nonfinite)), mmap=None)


# ----------------------------------------------------------------------------- saving safely
def test_save_is_atomic(tmp_path, monkeypatch):
    kv = random_kv(n=50)
    target = tmp_path / "v.txt"
    target.write_text("precious\n")
    calls = {"n": 0}
    real = formats._format_row

    def failing(key, row, fmt):
        calls["n"] += 1
        if calls["n"] > 30:
            raise OSError("disk full (simulated)")
        return real(key, row, fmt)

    monkeypatch.setattr(formats, "_format_row", failing)
    with pytest.raises(OSError, match="disk full"):
        kv.save_word2vec_format(target)
    assert target.read_text() == "precious\n"
    assert os.listdir(tmp_path) == ["v.txt"]
    monkeypatch.undo()
    # keys a whitespace-delimited format cannot hold are refused before touching the file
    spaced = KeyedVectors(["ok", "two words"], np.ones((2, 2)))
    for fmt in ("word2vec", "word2vec-binary", "glove"):
        with pytest.raises(ValueError, match=r"key 1 \('two words'\) is empty or contains whitespace"):
            save(spaced, target, format=fmt)
    assert target.read_text() == "precious\n"
    with pytest.raises(ValueError, match="unknown format"):
        save(kv, target, format="pickle")
    with pytest.raises(FileNotFoundError):
        kv.save(tmp_path / "missing-dir" / "v.efv")
    kv.save_word2vec_format(target)
    assert_same(KeyedVectors.load_word2vec_format(target), kv)
    assert os.listdir(tmp_path) == ["v.txt"]
    # the saved file gets ordinary permissions (umask applied), not a private temp file's 0600
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~mask


def test_guess_format_and_load_errors(tmp_path):
    with pytest.raises(ValueError, match="file is empty"):
        load(write_bytes(tmp_path / "e.vec", b""))
    with pytest.raises(ValueError, match="fastText model"):
        load(write_bytes(tmp_path / "m.bin", struct.pack("<ii", 793712314, 12) + b"\0" * 40))
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        load(write_bytes(tmp_path / "a.txt", b"1 1\na 1\n"), format="xml")
    with pytest.raises(ValueError, match="is a directory"):
        load(tmp_path)
    assert guess_format(write_bytes(tmp_path / "h.bin", b"0 5\n")) == "word2vec-binary"
    assert guess_format(write_bytes(tmp_path / "h.txt", b"0 5\n")) == "word2vec"
    assert guess_format(write_bytes(tmp_path / "x.dat", b"a 0.5 1e-3 -inf\n")) == "glove"
    assert guess_format(write_bytes(tmp_path / "small.dat", b"2 2\nxyz 0.5 1\nabc 2 3\n")) == "word2vec"
    # a long first line (300 values) that does not fit the sniffed prefix is still text
    wide = KeyedVectors(["a", "b"], np.full((2, 8000), -1.2345678e-30, dtype=np.float32))
    wide.save_word2vec_format(tmp_path / "wide.dat")
    assert guess_format(tmp_path / "wide.dat") == "word2vec"
    assert_same(load(tmp_path / "wide.dat"), wide)
    # binary whose first vector happens to be printable bytes is still binary
    printable = np.frombuffer(b"abcdefgh", dtype="<f4").reshape(1, 2)
    write_bytes(tmp_path / "p.data", w2v_binary(["a"], printable))
    assert guess_format(tmp_path / "p.data") == "word2vec-binary"
    np.testing.assert_array_equal(load(tmp_path / "p.data").vectors, printable)
    # a binary file with an unusual extension is still recognised by its content
    write_bytes(tmp_path / "w.data", w2v_binary(["a"], np.array([[1.5, -2.25]])))
    assert guess_format(tmp_path / "w.data") == "word2vec-binary"
    np.testing.assert_array_equal(load(tmp_path / "w.data").vectors, [[1.5, -2.25]])
