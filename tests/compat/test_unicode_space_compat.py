"""Unicode whitespace (U+00A0, U+2003, U+3000, ...) in corpora and in vectors files (issue 14, §3).

Beside gensim: its LineSentence splits sentences on any Unicode whitespace (``str.split()``), and its
vectors readers split fields on the ASCII space only, so a word holding U+00A0 is written as it is and
reads back identical. We do the same: the data tokenizer splits where str.split() does, and the
writers store such a word as it is (it reads back identical in our readers and in gensim's), refusing
only what no whitespace-delimited reader can hold (ASCII space, tab, newline and other controls).
"""

import re
import sys

import numpy as np
import pytest

gensim_models = pytest.importorskip("gensim.models")
from embedforge.data.vocab import Tokenizer, TokenizerConfig  # noqa: E402
from embedforge.vectors import KeyedVectors  # noqa: E402
from embedforge.vectors.formats import read_vocab_counts, write_vocab_counts  # noqa: E402
from gensim.models.word2vec import LineSentence  # noqa: E402

GensimKV = gensim_models.KeyedVectors
UNICODE_SPACES = [chr(c) for c in range(0x80, sys.maxunicode + 1) if chr(c).isspace()]
rng = np.random.default_rng(20261202)


def test_the_unicode_spaces_are_the_usual_ones():
    assert {"\u00a0", "\u2003", "\u3000", "\u202f", "\u2028", "\u0085"} <= set(UNICODE_SPACES)


def test_tokenizer_splits_where_gensim_linesentence_splits(tmp_path):
    words = ["alpha", "beta", "gamma", "delta", "epsilon"]
    lines = []
    for space in UNICODE_SPACES:
        if space in ("\u2028", "\u2029", "\u0085"):
            continue  # line separators for str.splitlines(): one sentence per line is what we compare
        pick = rng.choice(len(words), size=4)
        lines.append(space.join(words[i] for i in pick[:2]) + " " + (space * 2).join(words[i] for i in pick[2:]))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf8")
    theirs = list(LineSentence(str(corpus)))
    tok = Tokenizer(TokenizerConfig(level="word", lower=False))
    ours = [tok.tokenize(line) for line in lines]
    assert ours == theirs == [line.split() for line in lines]
    assert all(len(sentence) == 4 for sentence in ours)


def _spaced_keys():
    keys = [f"w{i}{space}x" for i, space in enumerate(UNICODE_SPACES)]
    return keys + ["\u3000", "\u00a0lead", "trail\u2003", "plain"]


@pytest.mark.parametrize("binary", [False, True])
def test_words_with_unicode_spaces_read_back_identical_both_ways(tmp_path, binary):
    keys = _spaced_keys()
    vectors = rng.standard_normal((len(keys), 5)).astype(np.float32)
    kv = KeyedVectors(5)
    kv.add_vectors(keys, vectors)
    ours_path, theirs_path = tmp_path / "ours.vec", tmp_path / "theirs.vec"
    kv.save_word2vec_format(ours_path, binary=binary)
    back = KeyedVectors.load_word2vec_format(ours_path, binary=binary)
    assert back.index_to_key == keys
    np.testing.assert_array_equal(back.vectors, vectors)
    gensim_back = GensimKV.load_word2vec_format(str(ours_path), binary=binary)
    assert list(gensim_back.index_to_key) == keys
    np.testing.assert_array_equal(gensim_back.vectors, vectors)
    theirs = GensimKV(5)
    theirs.add_vectors(keys, vectors)
    theirs.save_word2vec_format(str(theirs_path), binary=binary)
    from_gensim = KeyedVectors.load_word2vec_format(theirs_path, binary=binary)
    assert from_gensim.index_to_key == keys
    np.testing.assert_array_equal(from_gensim.vectors, vectors)


def test_glove_and_vocab_files_with_unicode_spaces(tmp_path):
    keys = _spaced_keys()
    vectors = rng.standard_normal((len(keys), 3)).astype(np.float32)
    kv = KeyedVectors(3)
    kv.add_vectors(keys, vectors)
    kv.save_glove(tmp_path / "g.txt")
    back = KeyedVectors.load_glove(tmp_path / "g.txt")
    assert back.index_to_key == keys
    np.testing.assert_array_equal(back.vectors, vectors)
    counts = rng.integers(1, 1000, size=len(keys))
    write_vocab_counts(tmp_path / "vocab.txt", keys, counts)
    assert read_vocab_counts(tmp_path / "vocab.txt") == dict(zip(keys, counts.tolist()))
    # gensim writes the same vocabulary lines; its reader splits on any whitespace and cannot read
    # them back (a documented difference: ours can).
    theirs = GensimKV(3)
    theirs.add_vectors(keys, vectors)
    for key, count in zip(keys, counts.tolist()):
        theirs.set_vecattr(key, "count", count)
    theirs.save_word2vec_format(str(tmp_path / "t.txt"), fvocab=str(tmp_path / "t.vocab"))
    assert read_vocab_counts(tmp_path / "t.vocab") == dict(zip(keys, counts.tolist()))
    with pytest.raises(ValueError):
        GensimKV.load_word2vec_format(str(tmp_path / "t.txt"), fvocab=str(tmp_path / "t.vocab"))


@pytest.mark.parametrize(
    "bad",
    ["two words", "tab\there", "new\nline", "cr\rhere", "vt\x0bx", "ff\x0cx", "fs\x1cx", "nul\x00x", "bell\x07x", ""],
)
def test_keys_no_reader_can_hold_are_refused_naming_them(tmp_path, bad):
    kv = KeyedVectors(2)
    kv.add_vectors(["ok", bad], np.ones((2, 2), dtype=np.float32))
    target = tmp_path / "v.txt"
    for save in (
        lambda: kv.save_word2vec_format(target),
        lambda: kv.save_word2vec_format(target, binary=True),
        lambda: kv.save_glove(target),
        lambda: write_vocab_counts(target, ["ok", bad], [1, 2]),
    ):
        with pytest.raises(
            ValueError,
            match=r"key 1 \(" + re.escape(repr(bad)) + r"\) is empty or "
            r"contains whitespace or a control character",
        ):
            save()
        assert not target.exists()
