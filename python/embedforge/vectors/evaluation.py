"""Intrinsic evaluation of word vectors: analogies (questions-words format) and word-pair similarity.

The statistics are computed with numpy alone: Pearson's r, Spearman's rho (Pearson on average
ranks, so ties are handled), and their two-sided p-values from the t distribution with n - 2
degrees of freedom, evaluated through the regularised incomplete beta function implemented here
(so scipy is not needed; the p-values agree with ``scipy.stats.pearsonr``/``spearmanr``). A p-value
is NaN when n < 3 or a correlation is undefined (a constant input).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from .formats import _decode_error, _lines_bounded, _open_read

if TYPE_CHECKING:  # pragma: no cover
    from .keyed import KeyedVectors

__all__ = [
    "evaluate_word_analogies",
    "evaluate_word_pairs",
    "pearson",
    "spearman",
    "rankdata",
    "correlation_pvalue",
    "betainc",
]

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

#: Size of one block of analogy scores (questions x searched rows x float32) in bytes.
_BATCH_BYTES = 1 << 25


# ---------------------------------------------------------------------------------------- statistics
def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for the incomplete beta function (modified Lentz's method)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        step = d * c
        h *= step
        if abs(step - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if not (a > 0 and b > 0) or not 0.0 <= x <= 1.0:
        return math.nan
    if x == 0.0 or x == 1.0:
        return x
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def correlation_pvalue(r: float, n: int) -> float:
    """Two-sided p-value of a correlation ``r`` over ``n`` pairs (t test, n - 2 dof)."""
    if n < 3 or not math.isfinite(r):
        return math.nan
    if abs(r) >= 1.0:
        return 0.0
    return min(1.0, max(0.0, betainc((n - 2) / 2.0, 0.5, 1.0 - r * r)))


def _paired(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Two equal-length 1-D float64 arrays."""
    a = np.asarray(x, dtype=np.float64).ravel()
    b = np.asarray(y, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"x and y must have the same length, got {a.size} and {b.size}")
    return a, b


def _pearson_r(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's r of two float64 arrays (NaN when undefined)."""
    if a.size < 2 or not (np.isfinite(a).all() and np.isfinite(b).all()):
        return math.nan  # NaN in, NaN out (as scipy's default nan_policy), never clamped to +-1
    da = a - a.mean()
    db = b - b.mean()
    denominator = math.sqrt(float(np.dot(da, da)) * float(np.dot(db, db)))
    if denominator == 0.0:
        return math.nan
    return max(-1.0, min(1.0, float(np.dot(da, db)) / denominator))


def pearson(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Pearson's correlation and its two-sided p-value: ``(r, p)``."""
    a, b = _paired(x, y)
    r = _pearson_r(a, b)
    return r, (math.nan if math.isnan(r) else correlation_pvalue(r, a.size))


def rankdata(values: Sequence[float]) -> np.ndarray:
    """1-based ranks, tied values getting the average of their ranks."""
    a = np.asarray(values, dtype=np.float64).ravel()
    if a.size == 0:
        return np.empty(0, dtype=np.float64)
    order = np.argsort(a, kind="mergesort")
    ordered = a[order]
    bounds = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1], [True])))
    average = (bounds[:-1] + bounds[1:] - 1) / 2.0 + 1.0
    ranks = np.empty(a.size, dtype=np.float64)
    ranks[order] = np.repeat(average, np.diff(bounds))
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Spearman's rank correlation and its two-sided p-value: ``(rho, p)``."""
    a, b = _paired(x, y)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return math.nan, math.nan  # ranks of NaN are meaningless: propagate as scipy does
    rho = _pearson_r(rankdata(a), rankdata(b))
    return rho, correlation_pvalue(rho, a.size)


# ---------------------------------------------------------------------------------------- files
def _lines(path: PathLike, encoding: str = "utf8") -> Iterator[tuple[int, str]]:
    """(1-based line number, decoded line without its newline) for each line of a file."""
    name = os.fspath(path)
    with _open_read(path) as handle:
        for line_no, raw in enumerate(_lines_bounded(handle, name), start=1):
            try:
                yield line_no, raw.decode(encoding).rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise _decode_error(exc, name, f"{name} line {line_no}: cannot decode as {encoding}") from None


def _restricted_vocab(kv: KeyedVectors, restrict_vocab: int, case_insensitive: bool) -> dict[str, int]:
    """Map (upper-cased) keys among the first ``restrict_vocab`` rows to their index.

    Case-insensitively, the most frequent (lowest index) spelling wins.
    """
    keys = kv.index_to_key[: int(restrict_vocab)]
    if case_insensitive:
        return {key.upper(): index for index, key in reversed(list(enumerate(keys)))}
    return {key: index for index, key in enumerate(keys)}


def _score(section: dict[str, Any]) -> float:
    """Fraction correct of an analogy section (0.0 when it has no questions)."""
    correct, incorrect = len(section["correct"]), len(section["incorrect"])
    if correct + incorrect == 0:
        return 0.0
    score = correct / (correct + incorrect)
    logger.info("%s: %.1f%% (%i/%i)", section["section"], 100.0 * score, correct, correct + incorrect)
    return score


def _candidates_one_by_one(
    kv: KeyedVectors, similarity_function: str, restrict_vocab: int, questions: list[tuple[int, int, int]]
) -> list[list[int]]:
    """Top-5 candidate rows of each (a, b, c) question through the public query method."""
    similar = getattr(kv, similarity_function)
    result = []
    for a, b, c in questions:
        keys = kv.index_to_key
        ranked = similar(positive=[keys[b], keys[c]], negative=[keys[a]], topn=5, restrict_vocab=restrict_vocab)
        result.append([kv.key_to_index[key] for key, _ in ranked])
    return result


def _candidates_batched(
    kv: KeyedVectors, similarity_function: str, restrict_vocab: int, questions: list[tuple[int, int, int]]
) -> list[list[int]]:
    """The same top-5 candidates as ``most_similar``/``most_similar_cosmul``, many questions per
    matrix product (ties broken by lower index, as the one-by-one path does)."""
    units = kv.get_normed_vectors()
    searched = units[: min(int(restrict_vocab), len(units))]
    rows = searched.shape[0]
    batch = max(1, min(1024, _BATCH_BYTES // max(1, 4 * rows)))
    result: list[list[int]] = []
    for start in range(0, len(questions), batch):
        chunk = np.asarray(questions[start : start + batch], dtype=np.int64)
        ia, ib, ic = chunk[:, 0], chunk[:, 1], chunk[:, 2]
        if similarity_function == "most_similar":
            query = units[ib] + units[ic] - units[ia]
            norms = np.linalg.norm(query, axis=1, keepdims=True)
            query /= np.where(norms > 0, norms, np.float32(1.0))
            scores = query @ searched.T
        else:
            half = np.float32(0.5)
            sim_a, sim_b, sim_c = ((1 + units[i] @ searched.T) * half for i in (ia, ib, ic))
            scores = sim_b * sim_c / (sim_a + np.float32(1e-6))
        every = np.arange(len(chunk))
        scores[every[:, None], chunk] = -np.inf  # input rows never count
        # five rounds of argmax: best score first, ties to the lower index (argmax's first hit)
        picks = []
        for _ in range(min(5, rows)):
            best = scores.argmax(axis=1)
            found = scores[every, best] > -np.inf
            picks.append(np.where(found, best, -1))
            scores[every, best] = -np.inf
        for row in np.stack(picks, axis=1).tolist() if picks else [[]] * len(chunk):
            result.append([index for index in row if index >= 0])
    return result


def evaluate_word_analogies(
    kv: KeyedVectors,
    analogies: PathLike,
    restrict_vocab: int = 300000,
    case_insensitive: bool = True,
    dummy4unknown: bool = False,
    similarity_function: str = "most_similar",
) -> tuple[float, list[dict[str, Any]]]:
    """Analogy accuracy on a questions-words file, as gensim computes it.

    Lines are ``a b c expected`` grouped under ``: section`` headers. A question counts when all
    four words are among the first ``restrict_vocab`` keys; the prediction is the best of
    ``most_similar(positive=[b, c], negative=[a], topn=5)`` that is not an input word. Returns
    ``(accuracy, sections)`` where each section is ``{"section", "correct", "incorrect"}`` (lists of
    upper-cased quadruplets when ``case_insensitive``) and the last is ``"Total accuracy"``.
    Questions with unknown words are skipped, or counted incorrect with ``dummy4unknown``.
    For a plain KeyedVectors the questions are scored in batches of matrix products (same
    results, many times faster); a subclass overriding the query methods is asked one by one.
    """
    from .keyed import KeyedVectors

    name = os.fspath(analogies)
    if similarity_function not in ("most_similar", "most_similar_cosmul"):
        raise ValueError(f"similarity_function={similarity_function!r} must be 'most_similar' or 'most_similar_cosmul'")
    if restrict_vocab is None:
        restrict_vocab = len(kv)
    ok_vocab = _restricted_vocab(kv, restrict_vocab, case_insensitive)
    # pass 1: parse; each entry is (section number, quadruplet, (a, b, c) rows or None if OOV)
    sections: list[dict[str, Any]] = []
    entries: list[tuple[int, tuple[str, str, str, str], tuple[int, int, int] | None]] = []
    for line_no, line in _lines(analogies):
        if line.startswith(": "):
            sections.append({"section": line.lstrip(": ").strip(), "correct": [], "incorrect": []})
            continue
        if not sections:
            raise ValueError(f"{name} line {line_no}: question before any ': section' header")
        words = line.split()
        if len(words) != 4:
            logger.info("skipping invalid line %i in %s", line_no, name)
            continue
        if case_insensitive:
            words = [word.upper() for word in words]
        quad = (words[0], words[1], words[2], words[3])
        rows = None
        if all(word in ok_vocab for word in words):
            rows = (ok_vocab[quad[0]], ok_vocab[quad[1]], ok_vocab[quad[2]])
        entries.append((len(sections) - 1, quad, rows))
    # pass 2: the top-5 candidates of every in-vocabulary question
    questions = [rows for _, _, rows in entries if rows is not None]
    plain = all(
        getattr(type(kv), method) is getattr(KeyedVectors, method)
        for method in ("most_similar", "most_similar_cosmul", "get_vector", "get_normed_vectors", "get_mean_vector")
    )
    find = _candidates_batched if plain else _candidates_one_by_one
    candidates = iter(find(kv, similarity_function, restrict_vocab, questions))
    # pass 3: gensim's rule: the first candidate in the restricted vocabulary that is not an input
    oov = 0
    for number, quad, rows in entries:
        section = sections[number]
        if rows is None:
            oov += 1
            if dummy4unknown:
                section["incorrect"].append(quad)
            continue
        ignore = set(quad[:3])
        predicted = None
        for index in next(candidates):
            key = kv.index_to_key[index]
            predicted = key.upper() if case_insensitive else key
            if predicted in ok_vocab and predicted not in ignore:
                break
        section["correct" if predicted == quad[3] else "incorrect"].append(quad)
    for section in sections:
        _score(section)
    total = {
        "section": "Total accuracy",
        "correct": [q for s in sections for q in s["correct"]],
        "incorrect": [q for s in sections for q in s["incorrect"]],
    }
    if entries:
        logger.info("quadruplets with out-of-vocabulary words: %.1f%%", 100.0 * oov / len(entries))
    score = _score(total)
    sections.append(total)
    return score, sections


def evaluate_word_pairs(
    kv: KeyedVectors,
    pairs: PathLike,
    delimiter: str = "\t",
    encoding: str = "utf8",
    restrict_vocab: int = 300000,
    case_insensitive: bool = True,
    dummy4unknown: bool = False,
) -> tuple[tuple[float, float], tuple[float, float], float]:
    """Correlation of model similarities with human scores on a ``w1<delim>w2<delim>score`` file.

    Lines starting with ``#`` and malformed lines are skipped. Returns ``((pearson_r, p),
    (spearman_rho, p), oov_ratio)`` with the OOV ratio in percent. Pairs with a word outside the
    first ``restrict_vocab`` keys are skipped, or scored 0 with ``dummy4unknown``.
    """
    name = os.fspath(pairs)
    ok_vocab = _restricted_vocab(kv, restrict_vocab, case_insensitive)
    gold: list[float] = []
    model: list[float] = []
    oov = 0
    for line_no, line in _lines(pairs, encoding):
        if not line or line.startswith("#"):
            continue
        fields = line.split(delimiter)
        if len(fields) != 3:
            logger.info("skipping invalid line %i in %s", line_no, name)
            continue
        a, b, score_text = fields
        if case_insensitive:
            a, b = a.upper(), b.upper()
        try:
            score = float(score_text)
        except ValueError:
            logger.info("skipping invalid line %i in %s", line_no, name)
            continue
        if a not in ok_vocab or b not in ok_vocab:
            oov += 1
            if dummy4unknown:
                gold.append(score)
                model.append(0.0)
            continue
        gold.append(score)
        model.append(kv.similarity(kv.index_to_key[ok_vocab[a]], kv.index_to_key[ok_vocab[b]]))
    if not gold and not oov:
        raise ValueError(f"{name}: no 'word1{delimiter}word2{delimiter}score' lines found (wrong delimiter?)")
    oov_ratio = 100.0 * oov / (len(gold) if dummy4unknown else len(gold) + oov)
    return pearson(gold, model), spearman(gold, model), oov_ratio
