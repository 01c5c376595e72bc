"""Bag of embeddings: mean-pooled word vectors -> linear, classifying stdlib docstring sentences by package.

python examples/bag_of_embeddings.py
python examples/bag_of_embeddings.py --quick
"""

from __future__ import annotations

import argparse
from typing import Sequence

import numpy as np
import torch
from embedforge.data import Vocab, sequence_loader, stdlib_labelled_sentences, stratified_split
from embedforge.data.vocab import LabelEncoder
from embedforge.models import BagOfEmbeddingsClassifier, nearest_by_cosine
from embedforge.train import EarlyStopping, Trainer

__all__ = ["main", "GROUPS"]

GROUPS = ("asyncio", "email", "logging", "unittest", "turtle", "_pydecimal")


def main(argv: Sequence[str] | None = None) -> dict:
    """Train the classifier; report accuracy/F1 against the majority baseline and a few word neighbours."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sentences and epochs")
    parser.add_argument("--per-group", type=int, default=450)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    per_group, epochs = (120, 8) if args.quick else (args.per_group, args.epochs)
    torch.manual_seed(args.seed)

    sentences, labels = stdlib_labelled_sentences(GROUPS, max_per_group=per_group)
    enc = LabelEncoder().fit(labels)
    y = np.asarray(enc.transform(labels))
    tr, va, te = stratified_split(y, (0.7, 0.15, 0.15), seed=args.seed)
    vocab = Vocab.build([sentences[i] for i in tr], min_freq=2)

    def loader(idx, shuffle):
        return sequence_loader(
            [vocab.encode(sentences[i]) for i in idx],
            y[idx],
            batch_size=32 if shuffle else 512,
            shuffle=shuffle,
            seed=args.seed,
        )

    model = BagOfEmbeddingsClassifier(len(vocab), args.dim, len(enc), mode="mean")
    trainer = Trainer(
        model,
        torch.nn.functional.cross_entropy,
        torch.optim.Adam(model.parameters(), lr=0.01),
        metrics=["accuracy", "f1"],
        callbacks=[EarlyStopping(patience=3)],
    )
    trainer.fit(loader(tr, True), loader(va, False), epochs=epochs)
    scores = trainer.evaluate(loader(te, False))
    majority = float(np.bincount(y[te]).max() / len(te))
    print(
        f"{len(enc)} packages, vocabulary {len(vocab)}: test accuracy {scores['accuracy']:.3f}, "
        f"weighted F1 {scores['f1']:.3f} (majority class {majority:.3f}; {trainer.epoch} epochs)"
    )
    for word in ("message", "test", "event", "decimal"):
        if word in vocab:
            near = nearest_by_cosine(model.bag, vocab[word], k=5, labels=vocab.itos)
            print(f"  nearest to {word!r}: {[w for w, _ in near]}")
    return {"majority": majority, **scores}


if __name__ == "__main__":
    main()
