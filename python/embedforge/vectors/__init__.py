"""Word vectors: KeyedVectors (neighbours, analogies, evaluation) and file formats.

``load(path)`` reads word2vec text/binary, GloVe, fastText ``.vec`` or the native mmap-able format,
guessing which from the file's content.
"""

from __future__ import annotations

from .evaluation import evaluate_word_analogies, evaluate_word_pairs, pearson, spearman
from .formats import FORMATS, TruncatedFileError, VectorsDecodeError, guess_format, load, save
from .keyed import KeyedVectors

__all__ = [
    "FORMATS",
    "KeyedVectors",
    "evaluate_word_analogies",
    "evaluate_word_pairs",
    "guess_format",
    "load",
    "pearson",
    "save",
    "spearman",
    "TruncatedFileError",
    "VectorsDecodeError",
]
