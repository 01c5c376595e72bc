"""The classic embedding models: letters, collaborative filtering, tabular, character LMs and text classifiers."""

from __future__ import annotations

from .char_lm import BengioMLP, Char3Model, CharLM, LoopRNN, SequenceRNN, TorchRNNModel
from .collab import EmbeddingDotBias, EmbeddingNet, predict_ratings, scaled_sigmoid
from .interpret import (
    ConvNgrams,
    PCAResult,
    as_matrix,
    conv_ngrams,
    nearest_by_cosine,
    partial_dependence,
    pca,
    rank_by_bias,
)
from .letters import NextTokenModel, letter_stream, train_letter_embeddings
from .tabular import TabularConfig, TabularModel, default_embedding_size
from .text import BagOfEmbeddingsClassifier, TextCNN, pretrained_matrix

__all__ = [
    "NextTokenModel",
    "letter_stream",
    "train_letter_embeddings",
    "EmbeddingDotBias",
    "EmbeddingNet",
    "predict_ratings",
    "scaled_sigmoid",
    "TabularConfig",
    "TabularModel",
    "default_embedding_size",
    "CharLM",
    "Char3Model",
    "LoopRNN",
    "TorchRNNModel",
    "SequenceRNN",
    "BengioMLP",
    "TextCNN",
    "BagOfEmbeddingsClassifier",
    "pretrained_matrix",
    "as_matrix",
    "rank_by_bias",
    "PCAResult",
    "pca",
    "nearest_by_cosine",
    "partial_dependence",
    "ConvNgrams",
    "conv_ngrams",
]
