"""Tests for the built-in standard-library docstring corpus."""

from __future__ import annotations

import pytest
from embedforge.data.corpus import stdlib_sentences, stdlib_text


def test_text_prefix_is_a_prefix_of_the_full_corpus_and_deterministic():
    small = stdlib_text(max_chars=2000)
    assert len(small) == 2000
    assert stdlib_text(max_chars=2000) == small
    full = stdlib_text()
    assert full.startswith(small)
    assert len(full) > 200_000  # the stdlib has megabytes of docstrings
    assert stdlib_text(max_chars=len(full) + 10) == full


def test_text_is_prose_from_docstrings():
    text = stdlib_text(max_chars=50_000)
    assert "\n\n" in text
    letters = sum(ch.isalpha() for ch in text)
    assert letters / len(text) > 0.5
    assert text.count("Return") > 10  # docstrings describe what functions return


def test_sentences_are_lowercase_tokens_and_prefix_consistent():
    few = stdlib_sentences(max_sentences=100)
    assert len(few) == 100
    assert all(len(s) >= 2 for s in few)
    assert all(w == w.lower() and w.strip() == w and w for s in few for w in s)
    everything = stdlib_sentences()
    assert everything[:100] == few
    everything[0].append("mutated")  # callers get fresh lists, the cache stays intact
    assert stdlib_sentences(max_sentences=1)[0] == few[0]
    assert stdlib_sentences()[0] == few[0]


@pytest.mark.parametrize("bad", [-1, 1.5, "10", True])
def test_bad_limits_raise(bad):
    with pytest.raises(ValueError, match="max_chars"):
        stdlib_text(max_chars=bad)
    with pytest.raises(ValueError, match="max_sentences"):
        stdlib_sentences(max_sentences=bad)


def test_zero_limits_give_empty_results():
    assert stdlib_text(max_chars=0) == ""
    assert stdlib_sentences(max_sentences=0) == []
