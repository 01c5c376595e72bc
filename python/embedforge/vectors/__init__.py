"""Word vectors: KeyedVectors (neighbours, analogies, evaluation) and file formats.

``load(path)`` reads word2vec text/binary, GloVe, fastText ``.vec``, Facebook fastText ``.bin``
models (with out-of-vocabulary vectors from n-grams; also ``load_facebook_vectors``) or the native
mmap-able format, guessing which from the file's content.
"""

from __future__ import annotations

from .evaluation import evaluate_word_analogies, evaluate_word_pairs, pearson, spearman
from .fasttext_bin import load_facebook_model, load_facebook_vectors, save_facebook_model
from .formats import FORMATS, TruncatedFileError, VectorsDecodeError, guess_format, load, save
from .keyed import KeyedVectors

__all__ = [
    "FORMATS",
    "KeyedVectors",
    "evaluate_word_analogies",
    "evaluate_word_pairs",
    "guess_format",
    "load",
    "load_facebook_model",
    "load_facebook_vectors",
    "pearson",
    "save",
    "save_facebook_model",
    "spearman",
    "TruncatedFileError",
    "VectorsDecodeError",
]
