"""Text-CNN interpretation: which n-grams did the filters fire on? Activations per filter width, as heatmaps.

Trains a TextCNN (random embeddings) to tell which stdlib package a docstring sentence comes from, then,
for a few test sentences, shows each filter's activations over the tokens and the most influential
n-gram per filter width (where the max-pool looked, weighed by what each filter adds to the prediction).

    python examples/text_cnn_interpret.py --plot cnn_filters.png
    python examples/text_cnn_interpret.py --quick
"""

from __future__ import annotations

import argparse
from typing import Sequence

import numpy as np
import torch
from embedforge.data import Vocab, sequence_loader, stdlib_labelled_sentences, stratified_split
from embedforge.data.vocab import LabelEncoder
from embedforge.models import TextCNN, conv_ngrams
from embedforge.train import Trainer

__all__ = ["main", "GROUPS"]

GROUPS = ("asyncio", "email", "logging", "unittest")


def main(argv: Sequence[str] | None = None) -> dict:
    """Train, then print the most influential n-grams of a few correctly classified test sentences."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sentences and epochs")
    parser.add_argument("--per-group", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--show", type=int, default=3, help="test sentences to explain")
    parser.add_argument("--plot", default=None, help="save the first sentence's heatmaps here (needs matplotlib)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    per_group, epochs = (100, 4) if args.quick else (args.per_group, args.epochs)
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
            min_len=3,
        )

    model = TextCNN(len(vocab), 32, len(enc), widths=(1, 2, 3), n_filters=32, hidden=32, dropout=0.2)
    trainer = Trainer(
        model, torch.nn.functional.cross_entropy, torch.optim.Adam(model.parameters(), lr=3e-3), metrics=["accuracy"]
    )
    trainer.fit(loader(tr, True), loader(va, False), epochs=epochs)
    accuracy = trainer.evaluate(loader(te, False))["accuracy"]
    majority = float(np.bincount(y[te]).max() / len(te))
    print(f"{len(enc)} packages {enc.classes_}: test accuracy {accuracy:.3f} (majority class {majority:.3f})")

    explained = []
    for i in te:
        if len(explained) == args.show:
            break
        tokens = [t if t in vocab else "<unk>" for t in sentences[i][:30]]
        r = conv_ngrams(model, tokens, vocab)
        if r.predicted != y[i]:
            continue
        tops = ", ".join(f"{w}-gram “{' '.join(g)}”" for w, (_, g) in sorted(r.top.items()))
        print(
            f"[{enc.classes_[y[i]]}, p={r.probs[r.predicted]:.2f}] {' '.join(r.tokens)}\n    most influential: {tops}"
        )
        explained.append(r)
    if args.plot and explained:
        from embedforge.viz import conv_heatmap

        conv_heatmap(explained[0], path=args.plot)
        print(f"wrote {args.plot}")
    return {"accuracy": float(accuracy), "majority": majority, "explained": explained, "classes": list(enc.classes_)}


if __name__ == "__main__":
    main()
