"""Data tools: vocabularies, padding, windows, datasets, loaders and the built-in corpus."""

from __future__ import annotations

from .corpus import stdlib_sentences, stdlib_text

__all__ = ["stdlib_text", "stdlib_sentences"]
