"""Bias in word vectors: analogy probes (woman : doctor :: man : ?) and projections onto a direction (he − she).

Runs on any vectors file (``--vectors glove.6B.100d.txt``: word2vec text/binary, GloVe, fastText .vec) or,
without one, on word2vec trained on the built-in corpus (the standard library's docstrings). That corpus
has almost no gendered words, so there the same tools are shown on a direction it does have (read − write).

    python examples/word_vector_bias.py --vectors glove.6B.100d.txt --plot bias.png
    python examples/word_vector_bias.py --quick
"""

from __future__ import annotations

import argparse
from typing import Any, Sequence

import numpy as np
from embedforge.vectors import bias

__all__ = ["main", "CORPUS_PAIRS", "CORPUS_PROBES", "CORPUS_WORDS", "EXPLANATION"]

#: A direction the built-in corpus does have, with probes and words to place along it.
CORPUS_PAIRS = (
    ("read", "write"),
    ("reader", "writer"),
    ("reading", "writing"),
    ("input", "output"),
    ("get", "set"),
    ("load", "dump"),
)
CORPUS_PROBES = (
    ("read", "reader", "write"),
    ("write", "writer", "read"),
    ("input", "stdin", "output"),
    ("encode", "encoder", "decode"),
)
CORPUS_WORDS = (
    "file",
    "stream",
    "buffer",
    "socket",
    "stdin",
    "stdout",
    "pipe",
    "bytes",
    "line",
    "lines",
    "header",
    "attribute",
    "value",
    "data",
    "disk",
    "archive",
    "cache",
    "log",
)

EXPLANATION = """\
What these numbers show: how much each word's vector leans towards one side of the pairs, i.e. how much
more its contexts in THIS training corpus resemble the contexts of the first words than of the second.
A probe's answer is the word closest to b - a + c; the three input words are excluded by construction,
so a probe whose best answer is b itself must name something else.
What they do not show: facts about the world, anyone's intent, or how a system built on these vectors
will behave. One direction from a few pairs is noisy; a projection inside the random-word band (the
spread of the projections of random vocabulary words) is indistinguishable from chance. The band need
not be centred on zero: word vectors share a common direction (frequency leaves its mark on all of
them), so compare words with the band and with each other, not with zero. Vectors trained on a small
corpus, like the built-in one, are noisier still."""


def load_or_train(path: str | None, quick: bool, seed: int) -> tuple[Any, str]:
    """KeyedVectors from ``path``, else word2vec trained on the built-in corpus; and a description."""
    if path:
        from embedforge.vectors import load

        return load(path), path
    from embedforge import Word2Vec
    from embedforge.data import stdlib_sentences

    n = 8000 if quick else None
    model = Word2Vec(
        sentences=stdlib_sentences(max_sentences=n),
        vector_size=32 if quick else 100,
        window=5,
        min_count=3,
        sg=1,
        epochs=5 if quick else 10,
        seed=seed,
        workers=2,
        progress=False,
    )
    return model.wv, f"word2vec on the built-in corpus ({'8,000 sentences' if quick else 'all sentences'})"


def main(argv: Sequence[str] | None = None) -> dict:
    """Print probes and projections as tables, the random-word band, and what they mean."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", default=None, help="word2vec/GloVe/fastText file")
    parser.add_argument("--quick", action="store_true", help="train on fewer sentences (no --vectors)")
    parser.add_argument("--words", default=None, help="comma-separated words to project (default: a built-in list)")
    parser.add_argument("--plot", default=None, help="save the projection bars here (needs matplotlib)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    kv, source = load_or_train(args.vectors, args.quick, args.seed)
    gendered = sum(x in kv and y in kv for x, y in bias.GENDER_PAIRS)
    if gendered >= 2:
        pairs, probes, words, axis_name = bias.GENDER_PAIRS, bias.GENDER_PROBES, bias.OCCUPATIONS, "he − she"
    else:
        print(
            f"{source}: only {gendered} of the {len(bias.GENDER_PAIRS)} gendered pairs are in its vocabulary; "
            "showing the method on read − write instead"
        )
        pairs, probes, words, axis_name = CORPUS_PAIRS, CORPUS_PROBES, CORPUS_WORDS, "read − write"
    if args.words:
        words = tuple(w.strip() for w in args.words.split(",") if w.strip())
    print(f"vectors: {source}, {len(kv):,} words x {kv.vector_size}")

    results = bias.analogy_probes(kv, probes, topn=3)
    rows = [
        (
            f"{r.a} : {r.b} :: {r.c} : ?",
            ", ".join(f"{w} ({s:.2f})" for w, s in r.answers) or "not in vocabulary: " + ", ".join(r.missing),
        )
        for r in results
    ]
    print("\nanalogy probes (3CosAdd, inputs excluded)\n" + bias.format_table(rows, ("probe", "top answers")))

    axis, used = bias.direction(kv, pairs)
    scores, unknown = bias.project_words(kv, words, axis)
    exclude = [w for pair in used for w in pair]
    band = bias.random_baseline(kv, axis, n=500, seed=args.seed, exclude=exclude)
    lo, hi = np.percentile(band, [5, 95])
    table = [(w, s, "outside" if s < lo or s > hi else "inside") for w, s in scores]
    print(
        f"\nprojection onto {axis_name} (mean of {len(used)} pairs: "
        + ", ".join(f"{x}−{y}" for x, y in used)
        + ")\n"
        + bias.format_table(table, ("word", "cosine", "random-word band"))
    )
    print(
        f"random-word band (5–95% of {len(band)} words): {lo:+.3f} … {hi:+.3f}"
        + (f"; not in vocabulary: {', '.join(unknown)}" if unknown else "")
    )
    print("\n" + EXPLANATION)
    if args.plot:
        from embedforge.viz import projection_bars

        projection_bars(scores, axis_name=axis_name, baseline=band, path=args.plot)
        print(f"wrote {args.plot}")
    return {
        "axis": axis_name,
        "pairs": used,
        "probes": results,
        "projections": scores,
        "unknown": unknown,
        "band": (float(lo), float(hi)),
        "source": source,
    }


if __name__ == "__main__":
    main()
