"""Text CNN: which stdlib package does a docstring sentence come from? Random vs frozen vs fine-tuned vectors.

Pretrained vectors come from ``--vectors PATH`` (word2vec text/binary, GloVe or fastText .vec, read by
``embedforge.vectors.load``) or, without a path, from ``embedforge.Word2Vec`` trained on the built-in corpus.

    python examples/text_cnn.py --vectors glove.6B.50d.txt
    python examples/text_cnn.py                # needs embedforge.Word2Vec
    python examples/text_cnn.py --quick --vectors vectors.txt
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Sequence

import numpy as np
import torch
from embedforge.data import Vocab, sequence_loader, stdlib_labelled_sentences, stdlib_sentences, stratified_split
from embedforge.data.vocab import LabelEncoder
from embedforge.models import TextCNN
from embedforge.train import EarlyStopping, Trainer

__all__ = ["main", "GROUPS", "load_or_train_vectors", "labelled_splits"]

GROUPS = ("asyncio", "email", "logging", "unittest", "turtle", "_pydecimal")


def load_or_train_vectors(path: str | None, dim: int, sentences: int, seed: int = 0) -> Any:
    """KeyedVectors from ``path`` if given, else trained with embedforge.Word2Vec on the built-in corpus."""
    if path:
        from embedforge.vectors import load

        return load(path)
    try:
        from embedforge import Word2Vec  # type: ignore[attr-defined]
    except ImportError:
        raise RuntimeError(
            "no pretrained vectors: this embedforge build has no Word2Vec, and no --vectors file was given. "
            "Pass --vectors PATH to a word2vec/GloVe/fastText file (e.g. glove.6B.50d.txt)."
        ) from None
    model = Word2Vec(sentences=stdlib_sentences(max_sentences=sentences), vector_size=dim, min_count=2)
    return getattr(model, "wv", model)


def labelled_splits(per_group: int, seed: int = 0):
    """Sentences labelled by package, a vocabulary from the training part, and encoded train/val/test splits."""
    sentences, labels = stdlib_labelled_sentences(GROUPS, max_per_group=per_group)
    enc = LabelEncoder().fit(labels)
    y = np.asarray(enc.transform(labels))
    parts = stratified_split(y, (0.7, 0.15, 0.15), seed=seed)
    vocab = Vocab.build([sentences[i] for i in parts[0]], min_freq=2)
    splits = [([vocab.encode(sentences[i]) for i in idx], y[idx]) for idx in parts]
    return vocab, enc, splits


def main(argv: Sequence[str] | None = None) -> dict:
    """Train three TextCNNs that differ only in their embedding table; report test accuracy and F1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", default=None, help="word2vec/GloVe/fastText file")
    parser.add_argument("--quick", action="store_true", help="fewer sentences and epochs")
    parser.add_argument("--per-group", type=int, default=450, help="sentences per package")
    parser.add_argument("--dim", type=int, default=50, help="vector size when training Word2Vec")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    per_group, epochs = (120, 3) if args.quick else (args.per_group, args.epochs)

    vectors = load_or_train_vectors(args.vectors, args.dim, 5000 if args.quick else 30000, args.seed)
    vocab, enc, (train, val, test) = labelled_splits(per_group, args.seed)
    majority = np.bincount(test[1]).max() / len(test[1])
    print(
        f"{len(enc)} packages {enc.classes_}; {len(train[0])}/{len(val[0])}/{len(test[0])} sentences; "
        f"vocabulary {len(vocab)}; majority-class test accuracy {majority:.3f}"
    )

    def loader(split, shuffle):
        return sequence_loader(
            split[0], split[1], batch_size=32 if shuffle else 512, shuffle=shuffle, seed=args.seed, min_len=3
        )

    results: dict = {"majority": float(majority)}
    kwargs = dict(n_filters=48, hidden=48, dropout=0.3)
    for name in ("random", "frozen", "fine-tuned"):
        torch.manual_seed(args.seed)
        if name == "random":
            dim = int(getattr(vectors, "vector_size", args.dim))
            model = TextCNN(len(vocab), dim, len(enc), **kwargs)
        else:
            model = TextCNN.from_pretrained(vectors, vocab, len(enc), freeze=(name == "frozen"), **kwargs)
            print(f"pretrained vectors cover {model.coverage:.0%} of the vocabulary")
        params = [p for p in model.parameters() if p.requires_grad]
        trainer = Trainer(
            model,
            torch.nn.functional.cross_entropy,
            torch.optim.Adam(params, lr=2e-3),
            metrics=["accuracy", "f1"],
            callbacks=[EarlyStopping(patience=2)],
        )
        start = time.perf_counter()
        trainer.fit(loader(train, True), loader(val, False), epochs=epochs)
        scores = trainer.evaluate(loader(test, False))
        print(
            f"[{name:>10}] test accuracy {scores['accuracy']:.3f}, weighted F1 {scores['f1']:.3f} "
            f"({trainer.epoch} epochs, {time.perf_counter() - start:.0f}s)"
        )
        results[name] = scores
    return results


if __name__ == "__main__":
    main()
