"""Vocab, Tokenizer and LabelEncoder: ids, pruning, round trips and errors."""

from __future__ import annotations

import pytest
from embedforge.data import LabelEncoder, Tokenizer, Vocab
from hypothesis import given, settings
from hypothesis import strategies as st


def test_vocab_orders_by_frequency_then_first_appearance_and_prunes():
    v = Vocab.build([["b", "a", "c", "a"], ["c", "d"]], min_freq=2)
    assert v.itos == ["<pad>", "<unk>", "a", "c"]
    assert v.encode(["c", "b", "zzz"]) == [3, 1, 1]
    assert v["a"] == 2 and "b" not in v and len(v) == 4
    capped = Vocab.build([["x", "y", "y", "z", "z", "z"]], max_size=2)
    assert capped.itos[2:] == ["z", "y"]
    assert Vocab.build([["<pad>", "<unk>", "q"]]).itos == ["<pad>", "<unk>", "q"]


def test_vocab_decode_and_errors(tmp_path):
    v = Vocab(["x", "y"])
    assert v.decode([2, 0, 3], skip_pad=True) == ["x", "y"]
    assert v.decode_batch([[2, 0], [3]]) == [["x"], ["y"]]
    with pytest.raises(ValueError, match=r"ids\[1\]=9 is out of range for a vocabulary of 4 tokens"):
        v.decode([2, 9])
    with pytest.raises(ValueError, match="duplicate token 'x'"):
        Vocab(["x", "x"])
    with pytest.raises(TypeError, match="must be str"):
        Vocab([3])
    with pytest.raises(ValueError, match="min_freq"):
        Vocab.build([], min_freq=0)
    path = tmp_path / "v.json"
    v.save(path)
    assert Vocab.load(path) == v
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ValueError, match="is not a vocabulary file.*'itos'"):
        Vocab.load(bad)  # a damaged file raises the loaders' ValueError; from_dict({}) a KeyError
    with pytest.raises(KeyError, match="'itos'"):
        Vocab.from_dict({})
    bad.write_bytes(b'{"itos": ["a", 3]}')
    with pytest.raises(ValueError, match="must be strings"):
        Vocab.load(bad)
    bad.write_bytes(b'{"itos": ["a"], "counts": {"a": -1}}')
    with pytest.raises(ValueError, match="non-negative"):
        Vocab.load(bad)
    bad.write_bytes(b"\xff{}")
    with pytest.raises(ValueError, match="not UTF-8 JSON"):
        Vocab.load(bad)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.text(alphabet="abcde", min_size=1, max_size=3), max_size=8), max_size=6))
def test_vocab_round_trips_every_known_token(seqs):
    v = Vocab.build(seqs)
    for seq in seqs:
        assert v.decode(v.encode(seq)) == seq
    assert len(set(v.itos)) == len(v)


def test_tokenizer_word_and_char_levels(tmp_path):
    tok = Tokenizer.fit(["The cat sat.", "the dog"], level="word")
    assert tok.tokenize("The cat, sat.") == ["the", "cat", ",", "sat", "."]
    ids = tok.encode("the cat")
    assert tok.decode(ids) == "the cat"
    assert tok.encode("the unicorn")[1] == 1
    chars = Tokenizer.fit(["abca"], level="char", lower=False)
    assert chars.decode(chars.encode("cab")) == "cab"
    assert chars.decode_batch(chars.encode_batch(["ab", "c"])) == ["ab", "c"]
    path = tmp_path / "tok.json"
    chars.save(path)
    again = Tokenizer.load(path)
    assert again.encode("abc") == chars.encode("abc") and again.config == chars.config
    with pytest.raises(ValueError, match="level"):
        Tokenizer.fit(["x"], level="byte")
    with pytest.raises(ValueError, match="no vocabulary yet"):
        Tokenizer(chars.config).encode("a")
    with pytest.raises(TypeError, match="str"):
        tok.tokenize(["the"])


def test_label_encoder():
    enc = LabelEncoder()
    assert enc.fit_transform(["pos", "neg", "pos"]) == [1, 0, 1]
    assert enc.inverse_transform([0, 1]) == ["neg", "pos"] and len(enc) == 2
    with pytest.raises(KeyError, match=r"labels\[1\]='meh' was not seen"):
        enc.transform(["pos", "meh"])
    with pytest.raises(ValueError, match="out of range"):
        enc.inverse_transform([2])
    with pytest.raises(ValueError, match="empty"):
        LabelEncoder().fit([])
    with pytest.raises(ValueError, match="not fitted"):
        LabelEncoder().transform(["a"])
    assert LabelEncoder().fit([2, "a", 2]).classes_ == [2, "a"]  # unsortable: first appearance
