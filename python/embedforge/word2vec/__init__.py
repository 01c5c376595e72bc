"""Word2Vec and FastText with gensim's parameter names, trained by the native engine.

V vocabulary size, D vector size. ``model.wv`` holds the [V, D] word vectors as a
:class:`embedforge.vectors.KeyedVectors`.

Example::

    >>> import embedforge
    >>> sents = [["the", "cat", "sat"], ["the", "dog", "ran"]] * 200
    >>> model = embedforge.Word2Vec(sents, vector_size=16, min_count=1, epochs=2, progress=False)
    >>> model.wv["cat"].shape
    (16,)

Threads: ``workers`` Hogwild threads share the tables without locks, each with its own RNG, fed by
one reader (a ``corpus_file`` is streamed in 1 MiB chunks; an iterable is converted in chunks on
the calling thread). The GIL is released while training; Ctrl-C stops training and raises
KeyboardInterrupt; an error in a worker is raised as RuntimeError.

``deterministic=True`` gives bit-identical vectors for a seed whatever ``workers`` is: every job
(about 10,000 words) has its own RNG stream seeded from (seed, epoch, job) and jobs are trained in
order on one thread. Its cost: training uses one core (reading still overlaps), so it runs at the
1-worker speed. Results also depend on the SIMD build chosen for the CPU (EMBEDFORGE_ISA caps it).

Differences from gensim worth knowing: skip-gram shares the negative samples of a center word
across its context window (Intel's pWord2Vec), which turns the update into small matrix products;
the loss (``compute_loss=True``) is accumulated in float64 per epoch.

The package, by role: ``params`` (the validated parameters and the native config), ``corpus`` (token
lists, id arrays and files: their vocabulary scan and chunks), ``training`` (the epoch loop and the
engines that run it: native threads on CPU, the ``sgns_step`` op on a torch device), ``model`` (the
Word2Vec façade), ``persist`` (model files) and ``fasttext``.
"""

from __future__ import annotations

from .fasttext import FastText, FastTextKeyedVectors
from .model import Word2Vec
from .params import FastTextParams, Params
from .training import EpochInfo

__all__ = ["Word2Vec", "FastText", "FastTextKeyedVectors", "EpochInfo", "Params", "FastTextParams"]
