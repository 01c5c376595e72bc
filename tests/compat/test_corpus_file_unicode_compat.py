"""corpus_file corpora split where str.split() splits (issue 14 §3): the native reader, gensim's LineSentence
and our Python readers see the same words, whatever Unicode whitespace separates them."""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np
from embedforge import FastText, Word2Vec

SPACES = [
    chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace() and chr(c) not in "\n\u2028\u2029\x85\x1c\x1d\x1e"
]
# Letters beside the spaces in the encoding (same UTF-8 lead bytes), which must stay inside words.
LETTERS = list("abcxyz") + ["\u00a1", "\u00e9", "\u1681", "\u2010", "\u2030", "\u3001", "\u00c2"]


def _corpus(rng, lines=300):
    out = []
    for _ in range(lines):
        words = ["".join(rng.choice(LETTERS, size=rng.integers(1, 4))) for _ in range(rng.integers(0, 8))]
        seps = [rng.choice(SPACES) * int(rng.integers(1, 3)) for _ in words]
        out.append("".join(w + s for w, s in zip(words, seps)))
    return "\n".join(out) + "\n"


def test_native_reader_splits_like_str_split(tmp_path):
    rng = np.random.default_rng(7)
    text = _corpus(rng)
    path = tmp_path / "corpus.txt"
    path.write_bytes(text.encode("utf-8"))
    expected = Counter(w for line in text.split("\n") for w in line.split())
    assert any(s in text for s in ("\u00a0", "\u3000", "\u2003"))
    model = Word2Vec(vector_size=8, min_count=1, epochs=1, workers=1, progress=False)
    model.build_vocab(corpus_file=str(path))
    got = dict(zip(model.wv.index_to_key, (int(c) for c in model.counts)))
    assert got == dict(expected)
    # Sentences are the lines holding a word (gensim's LineSentence yields nothing for a blank line).
    assert model.corpus_count == sum(bool(line.split()) for line in text.split("\n"))
    assert model.corpus_total_words == sum(expected.values())
    # Training reads the file with the same reader: every in-vocabulary word is counted once per epoch.
    model.train(corpus_file=str(path), total_examples=model.corpus_count, epochs=1)
    assert model.epoch_history[-1].words == sum(expected.values())
    assert np.isfinite(model.wv.vectors).all()


def test_corpus_file_and_token_lists_give_the_same_vocabulary(tmp_path):
    rng = np.random.default_rng(11)
    text = _corpus(rng, lines=200)
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    sentences = [line.split() for line in text.split("\n")[:-1]]
    a = FastText(vector_size=8, min_count=2, epochs=1, workers=1, progress=False, min_n=2, max_n=3, bucket=1000)
    a.build_vocab(corpus_file=str(path))
    b = FastText(vector_size=8, min_count=2, epochs=1, workers=1, progress=False, min_n=2, max_n=3, bucket=1000)
    b.build_vocab(sentences)
    assert a.wv.index_to_key == b.wv.index_to_key
    assert np.array_equal(a.counts, b.counts)
