"""Probing word vectors for bias: analogy probes, a direction from word pairs, projections onto it.

These measure associations in the co-occurrence statistics the vectors were trained on. A large
projection says that a word appeared in contexts more like one side of the pairs than the other in that
corpus; it says nothing about the world, about intent, or about what a model built on the vectors will
do. Compare every number with the spread of random words (:func:`random_baseline`) before reading it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

__all__ = [
    "GENDER_PAIRS",
    "GENDER_PROBES",
    "OCCUPATIONS",
    "ProbeResult",
    "analogy_probes",
    "direction",
    "project_words",
    "random_baseline",
    "format_table",
]

#: Definitional pairs for a he − she direction (general-English vectors such as GloVe have all of them).
GENDER_PAIRS = (
    ("he", "she"),
    ("man", "woman"),
    ("his", "her"),
    ("him", "her"),
    ("men", "women"),
    ("father", "mother"),
    ("boy", "girl"),
    ("king", "queen"),
)

#: Analogy probes a : b :: c : ?, read as "b is to a as ? is to c" (answer ≈ b − a + c).
GENDER_PROBES = (
    ("woman", "doctor", "man"),
    ("man", "doctor", "woman"),
    ("man", "programmer", "woman"),
    ("woman", "nurse", "man"),
    ("he", "engineer", "she"),
    ("she", "teacher", "he"),
)

#: Words whose projection onto the direction is printed by default.
OCCUPATIONS = (
    "doctor",
    "nurse",
    "engineer",
    "teacher",
    "programmer",
    "scientist",
    "secretary",
    "manager",
    "lawyer",
    "homemaker",
    "surgeon",
    "librarian",
    "pilot",
    "dancer",
    "mechanic",
    "receptionist",
)


@dataclass(frozen=True)
class ProbeResult:
    """One analogy probe a : b :: c : ? — its answers ``[(word, cosine)]``, or the words the vectors lack."""

    a: str
    b: str
    c: str
    answers: tuple[tuple[str, float], ...]
    missing: tuple[str, ...]

    @property
    def text(self) -> str:
        """The probe as ``a : b :: c : answer`` (``?`` with the missing words when it could not run)."""
        if self.missing:
            return f"{self.a} : {self.b} :: {self.c} : ? (not in vocabulary: {', '.join(self.missing)})"
        return f"{self.a} : {self.b} :: {self.c} : {self.answers[0][0]}"


def _missing(kv: Any, words: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(w for w in words if w not in kv))


def analogy_probes(kv: Any, probes: Sequence[tuple[str, str, str]] = GENDER_PROBES, topn: int = 3) -> list[ProbeResult]:
    """Run each probe a : b :: c : ? as ``most_similar(positive=[b, c], negative=[a])`` (3CosAdd).

    As in word2vec's analogy test the three input words are never answers: a probe whose honest answer
    is ``b`` itself is forced to name something else, which is one reason such probes overstate bias.
    """
    out = []
    for a, b, c in probes:
        missing = _missing(kv, (a, b, c))
        answers: tuple[tuple[str, float], ...] = ()
        if not missing:
            answers = tuple((str(w), float(s)) for w, s in kv.most_similar(positive=[b, c], negative=[a], topn=topn))
        out.append(ProbeResult(a, b, c, answers, missing))
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    if n == 0.0:
        raise ValueError("cannot normalise a zero vector")
    return v / n


def direction(kv: Any, pairs: Sequence[tuple[str, str]] = GENDER_PAIRS) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """A unit direction: the mean of unit(x) − unit(y) over the pairs whose two words are both known.

    Returns the (D,) float64 direction and the pairs used; raises ValueError when none is usable.
    """
    used = [(x, y) for x, y in pairs if x in kv and y in kv]
    if not used:
        raise ValueError(f"none of the pairs {list(pairs)} has both words in the vocabulary")
    diffs = [_unit(np.asarray(kv[x], dtype=np.float64)) - _unit(np.asarray(kv[y], dtype=np.float64)) for x, y in used]
    return _unit(np.mean(diffs, axis=0)), used


def project_words(kv: Any, words: Sequence[str], axis: np.ndarray) -> tuple[list[tuple[str, float]], list[str]]:
    """Cosine of each known word with ``axis`` (its unit vector's projection), largest first; and the unknown words."""
    axis = _unit(np.asarray(axis, dtype=np.float64).reshape(-1))
    known = [w for w in dict.fromkeys(words) if w in kv]
    scores = [(w, float(_unit(np.asarray(kv[w], dtype=np.float64)) @ axis)) for w in known]
    scores.sort(key=lambda t: -t[1])
    return scores, [w for w in dict.fromkeys(words) if w not in kv]


def random_baseline(kv: Any, axis: np.ndarray, n: int = 500, seed: int = 0, exclude: Sequence[str] = ()) -> np.ndarray:
    """Projections of ``n`` random vocabulary words onto ``axis``: the spread a projection must exceed to mean much."""
    keys = [k for k in kv.index_to_key if k not in set(exclude)]
    if not keys:
        raise ValueError("the vocabulary has no words left to sample")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(keys), size=min(n, len(keys)), replace=False)
    scores, _ = project_words(kv, [keys[i] for i in pick], axis)
    return np.array([s for _, s in scores])


def format_table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """A Markdown table of ``rows`` under ``header`` (floats with three decimals)."""

    def cell(v: Any) -> str:
        return f"{v:+.3f}" if isinstance(v, float) else str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)
