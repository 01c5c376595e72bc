"""Vocabularies, tokenizers and label encoding."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Hashable, Iterable, Sequence

from .._atomic import atomic_write

__all__ = ["PAD", "UNK", "Vocab", "TokenizerConfig", "Tokenizer", "LabelEncoder"]

PAD = "<pad>"
UNK = "<unk>"
_WORD_RE = re.compile(r"\w+|[^\w\s]")


def _write_json(path: str | os.PathLike, data: Any) -> None:
    """UTF-8 JSON, written atomically (a failed save leaves the file that was there)."""
    blob = json.dumps(data, ensure_ascii=False).encode("utf-8")
    atomic_write(path, lambda fh: fh.write(blob))


def _read_json(path: str | os.PathLike, what: str) -> Any:
    """A JSON file's contents; a file that is not UTF-8 JSON raises ValueError naming it."""
    with open(path, "rb") as fh:
        blob = fh.read()
    try:
        return json.loads(blob.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{os.fspath(path)!r} is not a {what} file (not UTF-8 JSON: {exc})") from None


class Vocab:
    """Token <-> id mapping with ``<pad>`` = 0 and ``<unk>`` = 1, built from counts.

    Shapes: ``encode`` maps a sequence of L tokens to L ids; ``encode_batch`` maps B sequences to B lists.

    Example::

        >>> v = Vocab.build(["a b b c".split()], min_freq=1)
        >>> v.encode(["b", "z"])
        [2, 1]
        >>> v.decode([2, 3])
        ['b', 'a']
    """

    def __init__(self, tokens: Sequence[str], counts: dict[str, int] | None = None) -> None:
        """Create a vocabulary whose ids are ``<pad>``, ``<unk>``, then ``tokens`` in order."""
        itos = [PAD, UNK]
        seen = set(itos)
        for tok in tokens:
            if not isinstance(tok, str):
                raise TypeError(f"vocabulary tokens must be str, got {type(tok).__name__}: {tok!r}")
            if tok in seen:
                raise ValueError(f"duplicate token {tok!r} in vocabulary")
            seen.add(tok)
            itos.append(tok)
        self.itos: list[str] = itos
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(itos)}
        self.counts: dict[str, int] = dict(counts or {})

    pad_id = 0
    unk_id = 1

    @classmethod
    def build(
        cls,
        sequences: Iterable[Iterable[str]],
        min_freq: int = 1,
        max_size: int | None = None,
    ) -> "Vocab":
        """Build from token sequences: most frequent first (ties by first appearance), pruned."""
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < 0:
            raise ValueError(f"max_size must be >= 0 or None, got {max_size}")
        counts: Counter[str] = Counter()
        for seq in sequences:
            counts.update(seq)
        counts.pop(PAD, None)
        counts.pop(UNK, None)
        # Counter.most_common keeps insertion order among equal counts (stable sort).
        kept = [t for t, c in counts.most_common() if c >= min_freq]
        if max_size is not None:
            kept = kept[:max_size]
        return cls(kept, {t: counts[t] for t in kept})

    def __len__(self) -> int:
        """Number of ids, including ``<pad>`` and ``<unk>``."""
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        """Whether ``token`` has its own id."""
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        """Id of ``token`` (``<unk>``'s id when absent)."""
        return self.stoi.get(token, self.unk_id)

    def __eq__(self, other: object) -> bool:
        """Equal when the id assignments match."""
        return isinstance(other, Vocab) and self.itos == other.itos

    def __repr__(self) -> str:
        """Short description."""
        return f"Vocab(size={len(self)})"

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Map tokens to ids; unknown tokens map to ``<unk>`` (1)."""
        get = self.stoi.get
        return [get(t, 1) for t in tokens]

    def decode(self, ids: Iterable[int], skip_pad: bool = False) -> list[str]:
        """Map ids back to tokens; raises for ids outside the vocabulary."""
        out = []
        n = len(self.itos)
        for pos, i in enumerate(ids):
            i = int(i)
            if not 0 <= i < n:
                raise ValueError(f"ids[{pos}]={i} is out of range for a vocabulary of {n} tokens")
            if skip_pad and i == 0:
                continue
            out.append(self.itos[i])
        return out

    def encode_batch(self, batch: Iterable[Iterable[str]]) -> list[list[int]]:
        """Encode several token sequences."""
        return [self.encode(seq) for seq in batch]

    def decode_batch(self, batch: Iterable[Iterable[int]], skip_pad: bool = True) -> list[list[str]]:
        """Decode several id sequences (padding dropped by default)."""
        return [self.decode(seq, skip_pad=skip_pad) for seq in batch]

    def to_dict(self) -> dict:
        """JSON-ready description."""
        return {"itos": self.itos[2:], "counts": self.counts}

    @classmethod
    def from_dict(cls, data: dict) -> "Vocab":
        """Inverse of :meth:`to_dict`; a malformed description raises ValueError naming the problem."""
        if not isinstance(data, dict) or "itos" not in data:
            raise KeyError("vocabulary JSON needs an 'itos' list of tokens")
        if not isinstance(data["itos"], list):
            raise ValueError("a vocabulary description's 'itos' must be a list of tokens")
        counts = data.get("counts")
        if counts is not None and not (
            isinstance(counts, dict)
            and all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts.values())
        ):
            raise ValueError("a vocabulary description's 'counts' must map tokens to non-negative integers")
        try:
            return cls(data["itos"], counts)
        except TypeError as exc:
            raise ValueError(f"a vocabulary description's tokens must be strings ({exc})") from None

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary as JSON."""
        _write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Vocab":
        """Read a vocabulary written by :meth:`save`."""
        try:
            return cls.from_dict(_read_json(path, "vocabulary"))
        except KeyError as exc:  # a damaged file: the loaders' error class
            raise ValueError(f"{os.fspath(path)!r} is not a vocabulary file ({exc.args[0]})") from None


@dataclass(frozen=True)
class TokenizerConfig:
    """How text becomes tokens: ``level`` is ``"char"`` or ``"word"``; words may be lower-cased."""

    level: str = "word"
    lower: bool = True
    min_freq: int = 1
    max_size: int | None = None

    def __post_init__(self) -> None:
        """Validate every field (a config read from a file is checked the same way)."""
        if self.level not in ("char", "word"):
            raise ValueError(f"level must be 'char' or 'word', got {self.level!r}")
        if not isinstance(self.lower, bool):
            raise TypeError(f"lower must be a bool, got {self.lower!r}")
        if not isinstance(self.min_freq, int) or isinstance(self.min_freq, bool) or self.min_freq < 1:
            raise ValueError(f"min_freq must be an int >= 1, got {self.min_freq!r}")
        if self.max_size is not None and (
            not isinstance(self.max_size, int) or isinstance(self.max_size, bool) or self.max_size < 0
        ):
            raise ValueError(f"max_size must be None or an int >= 0, got {self.max_size!r}")


class Tokenizer:
    """Split text into characters or words and map them to ids through a :class:`Vocab`.

    Shapes: one text -> L ids; ``encode_batch`` of B texts -> B id lists (pad with ``pad_sequences``).

    Example::

        >>> tok = Tokenizer.fit(["the cat sat", "the dog"], level="word")
        >>> tok.encode("the cat")
        [2, 3]
        >>> tok.decode([2, 3])
        'the cat'
    """

    def __init__(self, config: TokenizerConfig, vocab: Vocab | None = None) -> None:
        """Create a tokenizer; call :meth:`fit_texts` or pass a ``vocab`` before encoding."""
        self.config = config
        self.vocab = vocab

    @classmethod
    def fit(
        cls,
        texts: Iterable[str],
        level: str = "word",
        lower: bool = True,
        min_freq: int = 1,
        max_size: int | None = None,
    ) -> "Tokenizer":
        """Build a tokenizer and its vocabulary from texts."""
        tok = cls(TokenizerConfig(level=level, lower=lower, min_freq=min_freq, max_size=max_size))
        return tok.fit_texts(texts)

    def fit_texts(self, texts: Iterable[str]) -> "Tokenizer":
        """Build the vocabulary from texts; returns ``self``."""
        self.vocab = Vocab.build((self.tokenize(t) for t in texts), self.config.min_freq, self.config.max_size)
        return self

    def tokenize(self, text: str) -> list[str]:
        """Split a text into tokens (characters, or words and punctuation)."""
        if not isinstance(text, str):
            raise TypeError(f"expected text as str, got {type(text).__name__}")
        if self.config.lower:
            text = text.lower()
        if self.config.level == "char":
            return list(text)
        return _WORD_RE.findall(text)

    def _need_vocab(self) -> Vocab:
        """The fitted vocabulary, or a clear error."""
        if self.vocab is None:
            raise ValueError("tokenizer has no vocabulary yet: call fit_texts(texts) or Tokenizer.fit(...)")
        return self.vocab

    def encode(self, text: str) -> list[int]:
        """Ids of one text."""
        return self._need_vocab().encode(self.tokenize(text))

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        """Ids of several texts."""
        return [self.encode(t) for t in texts]

    def decode(self, ids: Iterable[int]) -> str:
        """Text from ids (padding dropped; words joined by spaces, characters concatenated)."""
        toks = self._need_vocab().decode(ids, skip_pad=True)
        return "".join(toks) if self.config.level == "char" else " ".join(toks)

    def decode_batch(self, batch: Iterable[Iterable[int]]) -> list[str]:
        """Texts from several id lists."""
        return [self.decode(ids) for ids in batch]

    def save(self, path: str | os.PathLike) -> None:
        """Write config and vocabulary as JSON."""
        data = {"config": self.config.__dict__, "vocab": self._need_vocab().to_dict()}
        _write_json(path, data)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Tokenizer":
        """Read a tokenizer written by :meth:`save`."""
        data = _read_json(path, "tokenizer")
        if not isinstance(data, dict) or not isinstance(data.get("config"), dict) or "vocab" not in data:
            raise ValueError(f"{os.fspath(path)!r} is not a tokenizer file (needs 'config' and 'vocab')")
        try:
            config = TokenizerConfig(**data["config"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{os.fspath(path)!r} has a damaged tokenizer config ({exc})") from None
        try:
            return cls(config, Vocab.from_dict(data["vocab"]))
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{os.fspath(path)!r}: {exc}") from None


class LabelEncoder:
    """Map arbitrary hashable labels to contiguous ids ``0..K-1`` (sorted when sortable).

    Shapes: N labels -> N ids.

    Example::

        >>> enc = LabelEncoder().fit(["b", "a", "b"])
        >>> enc.transform(["a", "b"])
        [0, 1]
        >>> enc.inverse_transform([1])
        ['b']
    """

    def __init__(self) -> None:
        """Create an unfitted encoder."""
        self.classes_: list[Hashable] = []
        self._index: dict[Hashable, int] = {}

    def fit(self, labels: Iterable[Hashable]) -> "LabelEncoder":
        """Learn the label set; returns ``self``."""
        uniq = list(dict.fromkeys(labels))
        if not uniq:
            raise ValueError("cannot fit a LabelEncoder on an empty sequence of labels")
        try:
            uniq = sorted(uniq)
        except TypeError:
            pass  # mixed types keep first-appearance order
        self.classes_ = uniq
        self._index = {c: i for i, c in enumerate(uniq)}
        return self

    def __len__(self) -> int:
        """Number of classes."""
        return len(self.classes_)

    def transform(self, labels: Iterable[Hashable]) -> list[int]:
        """Ids of labels; raises ``KeyError`` naming the first unseen label."""
        if not self._index:
            raise ValueError("LabelEncoder is not fitted: call fit(labels) first")
        out = []
        for pos, lab in enumerate(labels):
            try:
                out.append(self._index[lab])
            except KeyError:
                raise KeyError(
                    f"labels[{pos}]={lab!r} was not seen in fit (known: {len(self.classes_)} classes)"
                ) from None
        return out

    def fit_transform(self, labels: Sequence[Hashable]) -> list[int]:
        """Fit then transform."""
        return self.fit(labels).transform(labels)

    def inverse_transform(self, ids: Iterable[int]) -> list[Hashable]:
        """Labels of ids."""
        n = len(self.classes_)
        out = []
        for pos, i in enumerate(ids):
            i = int(i)
            if not 0 <= i < n:
                raise ValueError(f"ids[{pos}]={i} is out of range for {n} classes")
            out.append(self.classes_[i])
        return out
