"""Data tools: vocabularies, padding, windows, datasets, loaders and the built-in corpus."""

from __future__ import annotations

from .corpus import stdlib_labelled_sentences, stdlib_sentences, stdlib_text
from .loaders import PadCollate, SequenceDataset, TensorLoader, make_loader, sequence_loader, tensor_loader
from .ratings import IdMap, PlantedRatings, RatingsDataset, load_movielens_ratings, synthetic_ratings
from .sequences import block_contexts, next_token_pairs, pad_sequences, sequence_batches, sequence_chunks
from .split import random_split, stratified_split
from .tabular import DAYS, TabularDataset, TabularProcessor, synthetic_store_sales
from .vocab import PAD, UNK, LabelEncoder, Tokenizer, TokenizerConfig, Vocab

__all__ = [
    "stdlib_text",
    "stdlib_sentences",
    "stdlib_labelled_sentences",
    "PAD",
    "UNK",
    "Vocab",
    "Tokenizer",
    "TokenizerConfig",
    "LabelEncoder",
    "pad_sequences",
    "next_token_pairs",
    "block_contexts",
    "sequence_chunks",
    "sequence_batches",
    "SequenceDataset",
    "PadCollate",
    "make_loader",
    "TensorLoader",
    "tensor_loader",
    "sequence_loader",
    "IdMap",
    "RatingsDataset",
    "PlantedRatings",
    "synthetic_ratings",
    "load_movielens_ratings",
    "random_split",
    "stratified_split",
    "TabularProcessor",
    "TabularDataset",
    "DAYS",
    "synthetic_store_sales",
]
