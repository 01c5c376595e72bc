"""Bias probes on planted vectors: a known gender direction, occupations placed along it, an exact analogy."""

from __future__ import annotations

import numpy as np
import pytest
from embedforge.vectors import KeyedVectors, bias


def _planted() -> tuple[KeyedVectors, np.ndarray]:
    """Pairs differ by ±g; 'nurse' leans to 'she', 'engineer' to 'he', 'doctor' sits at zero; filler words random."""
    rng = np.random.default_rng(3)
    dim = 32
    g = rng.normal(size=dim)
    g /= np.linalg.norm(g)
    base = rng.normal(size=(dim,))
    base -= (base @ g) * g
    words, rows = [], []
    for x, y in bias.GENDER_PAIRS[:4]:
        if x in words or y in words:
            continue
        common = rng.normal(size=dim) * 0.1
        common -= (common @ g) * g
        words += [x, y]
        rows += [base + common + g, base + common - g]
    for word, lean in (("nurse", -0.8), ("engineer", 0.8), ("doctor", 0.0)):
        v = rng.normal(size=dim)
        v -= (v @ g) * g
        v = v / np.linalg.norm(v) * 2.0
        words.append(word)
        rows.append(v + lean * 2.0 * g)
    # an exact analogy: woman : queen :: man : king
    words += ["queen", "king"]
    q = rng.normal(size=dim)
    rows += [q, q - (rows[words.index("woman")] - rows[words.index("man")])]
    words += [f"filler{i}" for i in range(200)]
    rows += list(rng.normal(size=(200, dim)))
    return KeyedVectors(words, np.asarray(rows, dtype=np.float32)), g


def test_direction_recovers_the_planted_axis() -> None:
    kv, g = _planted()
    axis, used = bias.direction(kv, bias.GENDER_PAIRS)
    assert ("he", "she") in used and ("father", "mother") not in used  # only pairs with both words known
    assert np.linalg.norm(axis) == pytest.approx(1.0)
    assert float(axis @ g) > 0.9


def test_projection_orders_words_by_their_planted_lean() -> None:
    kv, g = _planted()
    axis, _ = bias.direction(kv)
    scores, unknown = bias.project_words(kv, ["nurse", "doctor", "engineer", "pilot"], axis)
    assert [w for w, _ in scores] == ["engineer", "doctor", "nurse"] and unknown == ["pilot"]
    values = dict(scores)
    assert values["engineer"] > 0.5 and values["nurse"] < -0.5 and abs(values["doctor"]) < 0.2
    ref = kv["nurse"].astype(np.float64) @ axis / np.linalg.norm(kv["nurse"].astype(np.float64))  # float64 cosine
    assert values["nurse"] == pytest.approx(ref, abs=1e-6)


def test_random_baseline_is_narrower_than_the_planted_lean() -> None:
    kv, _ = _planted()
    axis, used = bias.direction(kv)
    band = bias.random_baseline(kv, axis, n=150, seed=0, exclude=[w for p in used for w in p])
    assert len(band) == 150 and np.percentile(band, 95) < 0.5 and np.percentile(band, 5) > -0.5


def test_analogy_probes_answer_and_report_missing_words() -> None:
    kv, _ = _planted()
    results = bias.analogy_probes(kv, [("woman", "queen", "man"), ("woman", "doctor", "pilot")], topn=2)
    assert results[0].answers[0][0] == "king" and results[0].answers[0][1] > 0.95  # 3CosAdd on unit vectors
    assert results[0].text == "woman : queen :: man : king"
    assert results[1].missing == ("pilot",) and results[1].answers == ()
    assert "not in vocabulary: pilot" in results[1].text


def test_direction_without_known_pairs_raises() -> None:
    kv, _ = _planted()
    with pytest.raises(ValueError, match="none of the pairs"):
        bias.direction(kv, [("cat", "dog")])


def test_format_table() -> None:
    text = bias.format_table([("a|b", 0.5), ("c", -0.25)], ("word", "cosine"))
    assert text.splitlines() == ["| word | cosine |", "|---|---|", "| a\\|b | +0.500 |", "| c | -0.250 |"]
