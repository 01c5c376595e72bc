"""Analogy and word-pair evaluation: numpy statistics vs scipy, results vs a float64 reference and gensim."""

from __future__ import annotations

import math

import numpy as np
import pytest
from embedforge.vectors import KeyedVectors
from embedforge.vectors.evaluation import betainc, correlation_pvalue, pearson, rankdata, spearman

# gensim calls its own deprecated init_sims() inside most_similar_cosmul
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated:DeprecationWarning")

scipy_stats = pytest.importorskip("scipy.stats", reason="scipy (a gensim dependency) is the reference")


def gensim_kv(kv: KeyedVectors):
    """The same vectors in a gensim KeyedVectors."""
    gensim_models = pytest.importorskip("gensim.models", reason="gensim is a test extra")
    g = gensim_models.KeyedVectors(kv.vector_size)
    g.add_vectors(list(kv.index_to_key), np.array(kv.vectors))
    return g


# ----------------------------------------------------------------------------- statistics
def test_betainc_matches_scipy():
    special = pytest.importorskip("scipy.special")
    for a in (0.5, 1.0, 2.5, 10.0, 175.5):
        for b in (0.5, 1.0, 3.0):
            for x in (0.0, 1e-8, 0.01, 0.3, 0.5, 0.77, 0.999, 1.0):
                assert betainc(a, b, x) == pytest.approx(float(special.betainc(a, b, x)), rel=1e-9, abs=1e-300)
    assert math.isnan(betainc(-1.0, 1.0, 0.5)) and math.isnan(betainc(1.0, 1.0, 1.5))


@pytest.mark.parametrize("seed, n", [(0, 3), (1, 10), (2, 50), (3, 353)])
def test_correlations_match_scipy(seed, n):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    y = 0.4 * x + rng.standard_normal(n)
    y_ties = np.round(y * 2) / 2  # many ties
    for a, b in ((x, y), (x, y_ties), (np.round(x), y_ties)):
        r, p = pearson(a, b)
        ref = scipy_stats.pearsonr(a, b)
        assert r == pytest.approx(float(ref[0]), abs=1e-12)
        assert r == pytest.approx(float(np.corrcoef(a, b)[0, 1]), abs=1e-12)
        assert p == pytest.approx(float(ref[1]), rel=1e-8, abs=1e-300)
        rho, p = spearman(a, b)
        ref = scipy_stats.spearmanr(a, b)
        assert rho == pytest.approx(float(ref[0]), abs=1e-12)
        assert p == pytest.approx(float(ref[1]), rel=1e-8, abs=1e-300)


def test_rankdata_and_degenerate_inputs():
    np.testing.assert_array_equal(rankdata([10, 20, 10, 30, 20, 20]), [1.5, 4, 1.5, 6, 4, 4])
    np.testing.assert_array_equal(rankdata(scipy_stats.rankdata([3, 1, 2])), [3, 1, 2])
    assert rankdata([]).shape == (0,)
    r, p = pearson([1, 2, 3], [5, 5, 5])  # constant: undefined
    assert math.isnan(r) and math.isnan(p)
    r, p = pearson([1, 2], [2, 4])  # n = 2: r defined, p not
    assert r == pytest.approx(1.0) and math.isnan(p)
    assert pearson([1, 2, 3, 4], [2, 4, 6, 8]) == (pytest.approx(1.0), 0.0)
    assert spearman([1, 2, 3, 4], [1, 4, 9, 16]) == (pytest.approx(1.0), 0.0)
    assert math.isnan(correlation_pvalue(float("nan"), 10))
    with pytest.raises(ValueError, match="same length"):
        pearson([1, 2, 3], [1, 2])


# ----------------------------------------------------------------------------- synthetic analogies
def planted_vectors(seed: int = 0, noise: float = 1.2) -> KeyedVectors:
    """Countries and capitals (capital = country + shared offset + noise), mixed-case keys, distractors."""
    rng = np.random.default_rng(seed)
    d = 24
    offset = rng.standard_normal(d) * 1.5
    keys, rows = [], []
    for i in range(12):
        country = rng.standard_normal(d)
        keys += [f"country{i}", f"Capital{i}"]
        rows += [country, country + offset + noise * rng.standard_normal(d)]
    # lower-case variant of a capital that is less frequent (later) than the capitalised one
    keys.append("capital3")
    rows.append(rows[keys.index("Capital3")] + 0.05 * rng.standard_normal(d))
    for i in range(30):
        keys.append(f"filler{i}")
        rows.append(rng.standard_normal(d))
    return KeyedVectors(keys, np.array(rows, dtype=np.float32))


def write_questions(path) -> None:
    """A questions-words file with two sections, OOV questions, an invalid and a blank line."""
    lines = [": capitals"]
    for i in range(12):
        for j in range(12):
            if i != j:
                lines.append(f"country{i} Capital{i} country{j} Capital{j}")
    lines += ["country0 Capital0 unknownland Unknowncity", "too few words", ""]
    lines.append(": reversed")
    for i in range(0, 12, 2):
        lines.append(f"Capital{i} country{i} Capital{i + 1} country{i + 1}")
    lines.append("capital3 country3 capital5 country5")
    path.write_text("\n".join(lines) + "\n", encoding="utf8")


def unit64(a):
    """Row-normalise in float64."""
    a = np.asarray(a, dtype=np.float64)
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def reference_analogies(kv: KeyedVectors, path, restrict: int, case_insensitive: bool, cosmul: bool = False):
    """gensim's analogy protocol, re-derived in float64: {section: (correct, incorrect)} and OOV count."""
    keys = kv.index_to_key[:restrict]
    norm = (lambda w: w.upper()) if case_insensitive else (lambda w: w)
    vocab = {}
    for index, key in enumerate(keys):
        vocab.setdefault(norm(key), index)  # the most frequent spelling wins
    units = unit64(kv.vectors[:restrict])
    results, section, oov = {}, None, 0
    for line in path.read_text(encoding="utf8").splitlines():
        if line.startswith(": "):
            section = line[2:].strip()
            results[section] = [0, 0]
            continue
        words = [norm(w) for w in line.split()]
        if len(words) != 4:
            continue
        if not all(w in vocab for w in words):
            oov += 1
            continue
        a, b, c, expected = words
        if cosmul:
            shifted = [(1 + units @ units[vocab[w]]) / 2 for w in (a, b, c)]
            scores = shifted[1] * shifted[2] / (shifted[0] + 1e-6)
        else:
            scores = units @ unit64(units[vocab[b]] + units[vocab[c]] - units[vocab[a]])
        inputs = {vocab[a], vocab[b], vocab[c]}
        ranked = [i for i in np.argsort(-scores, kind="stable") if i not in inputs][:5]
        predicted = None
        for i in ranked:
            predicted = norm(kv.index_to_key[i])
            if predicted in vocab and predicted not in {a, b, c}:
                break
        results[section][0 if predicted == expected else 1] += 1
    return results, oov


@pytest.mark.parametrize("case_insensitive", [True, False])
@pytest.mark.parametrize("restrict", [300000, 40])
def test_analogies_match_reference_and_gensim(tmp_path, case_insensitive, restrict):
    kv = planted_vectors()
    path = tmp_path / "questions.txt"
    write_questions(path)
    score, sections = kv.evaluate_word_analogies(path, restrict_vocab=restrict, case_insensitive=case_insensitive)
    assert [s["section"] for s in sections] == ["capitals", "reversed", "Total accuracy"]
    expected, _ = reference_analogies(kv, path, restrict, case_insensitive)
    for s in sections[:-1]:
        assert (len(s["correct"]), len(s["incorrect"])) == tuple(expected[s["section"]])
    total = sections[-1]
    n_correct = sum(c for c, _ in expected.values())
    n_all = sum(c + i for c, i in expected.values())
    assert len(total["correct"]) == n_correct and len(total["correct"]) + len(total["incorrect"]) == n_all
    assert score == pytest.approx(n_correct / n_all)
    assert 0 < n_correct < n_all  # the planted structure makes a non-trivial test
    g_score, g_sections = gensim_kv(kv).evaluate_word_analogies(
        str(path), restrict_vocab=restrict, case_insensitive=case_insensitive
    )
    assert score == pytest.approx(g_score)
    assert [(s["section"], s["correct"], s["incorrect"]) for s in sections] == [
        (s["section"], s["correct"], s["incorrect"]) for s in g_sections
    ]


def test_analogy_options_match_gensim(tmp_path):
    kv = planted_vectors(seed=1)
    path = tmp_path / "questions.txt"
    write_questions(path)
    ours = kv.evaluate_word_analogies(path, dummy4unknown=True)
    theirs = gensim_kv(kv).evaluate_word_analogies(str(path), dummy4unknown=True)
    assert ours[0] == pytest.approx(theirs[0])
    assert [(s["correct"], s["incorrect"]) for s in ours[1]] == [(s["correct"], s["incorrect"]) for s in theirs[1]]
    # 3CosMul (gensim 4.4 accepts similarity_function but always uses most_similar, so the
    # reference here is the float64 re-derivation)
    score, sections = kv.evaluate_word_analogies(path, similarity_function="most_similar_cosmul")
    expected, _ = reference_analogies(kv, path, 300000, True, cosmul=True)
    for s in sections[:-1]:
        assert (len(s["correct"]), len(s["incorrect"])) == tuple(expected[s["section"]])
    assert score != pytest.approx(kv.evaluate_word_analogies(path)[0])  # a different objective, a different result
    dummy = kv.evaluate_word_analogies(path, dummy4unknown=True)[1][-1]
    plain = kv.evaluate_word_analogies(path)[1][-1]
    assert len(dummy["incorrect"]) == len(plain["incorrect"]) + 1  # the one OOV question
    upper = ("COUNTRY0", "CAPITAL0", "UNKNOWNLAND", "UNKNOWNCITY")
    assert upper in dummy["incorrect"]


class CountingVectors(KeyedVectors):
    """A subclass that overrides the query methods, so evaluation asks it one question at a time."""

    calls = 0

    def most_similar(self, *args, **kwargs):
        """Count, then delegate."""
        CountingVectors.calls += 1
        return super().most_similar(*args, **kwargs)

    def most_similar_cosmul(self, *args, **kwargs):
        """Count, then delegate."""
        CountingVectors.calls += 1
        return super().most_similar_cosmul(*args, **kwargs)


@pytest.mark.parametrize("function", ["most_similar", "most_similar_cosmul"])
@pytest.mark.parametrize("batch_bytes", [1, 4 * 60 * 7, 1 << 25])
def test_batched_analogies_equal_one_by_one(tmp_path, monkeypatch, function, batch_bytes):
    from embedforge.vectors import evaluation

    monkeypatch.setattr(evaluation, "_BATCH_BYTES", batch_bytes)
    path = tmp_path / "questions.txt"
    write_questions(path)
    plain = planted_vectors(seed=2)
    # exact ties: one-hot rows shared by many keys make every score exact whatever the summation
    # order, so the candidates are decided by the lower-index tie rule in both paths
    tied = np.eye(6, dtype=np.float32)[np.arange(len(plain)) % 6]
    tied[::7] *= -1
    for vectors in (plain.vectors, tied):
        kv = KeyedVectors(plain.index_to_key, vectors)
        slow = CountingVectors(plain.index_to_key, vectors)
        for restrict in (300000, 30, 6):  # 6 rows: fewer than 5 candidates besides the inputs
            CountingVectors.calls = 0
            expected = slow.evaluate_word_analogies(path, restrict_vocab=restrict, similarity_function=function)
            assert CountingVectors.calls == sum(len(s["correct"]) + len(s["incorrect"]) for s in expected[1][:-1])
            assert CountingVectors.calls > 0
            assert kv.evaluate_word_analogies(path, restrict_vocab=restrict, similarity_function=function) == expected
            # the candidate lists themselves (not only the first acceptable one) agree
            rng = np.random.default_rng(restrict)
            questions = [tuple(int(i) for i in rng.choice(min(restrict, len(kv)), 3, replace=False)) for _ in range(40)]
            assert evaluation._candidates_batched(
                kv, function, restrict, questions
            ) == evaluation._candidates_one_by_one(kv, function, restrict, questions)


def test_analogy_errors(tmp_path):
    kv = planted_vectors()
    headless = tmp_path / "headless.txt"
    headless.write_text("# comment\ncountry0 Capital0 country1 Capital1\n")
    with pytest.raises(ValueError, match=r"headless\.txt line 1: question before any ': section' header"):
        kv.evaluate_word_analogies(headless)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert kv.evaluate_word_analogies(empty) == (0.0, [{"section": "Total accuracy", "correct": [], "incorrect": []}])
    with pytest.raises(ValueError, match="similarity_function"):
        kv.evaluate_word_analogies(empty, similarity_function="cosine")


# ----------------------------------------------------------------------------- word pairs
def write_pairs(path, kv: KeyedVectors, seed: int = 0, delimiter: str = "\t") -> None:
    """Pairs scored by a noisy version of the model's own similarity, plus OOV, comments, bad lines."""
    rng = np.random.default_rng(seed)
    lines = ["# Word 1\tWord 2\tHuman (mean)"]
    keys = kv.index_to_key
    for _ in range(60):
        a, b = rng.choice(len(keys), 2, replace=False)
        score = 5 + 4 * kv.similarity(keys[a], keys[b]) + rng.normal(0, 0.8)
        word_a = keys[a].upper() if rng.random() < 0.3 else keys[a]
        lines.append(f"{word_a}{delimiter}{keys[b]}{delimiter}{score:.2f}")
    lines += [
        f"unknown{delimiter}{keys[0]}{delimiter}3.0",
        f"{keys[0]}{delimiter}nope{delimiter}7.5",
        f"{keys[1]}{delimiter}{keys[2]}",
        f"{keys[1]}{delimiter}{keys[2]}{delimiter}high",
        "",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf8")


@pytest.mark.parametrize("dummy4unknown", [False, True])
def test_word_pairs_match_reference_and_gensim(tmp_path, dummy4unknown):
    kv = planted_vectors()
    path = tmp_path / "pairs.tsv"
    write_pairs(path, kv)
    (r, p_r), (rho, p_rho), oov = kv.evaluate_word_pairs(path, dummy4unknown=dummy4unknown)
    # reference: the same filtering done here, statistics from scipy
    gold, model, n_oov = [], [], 0
    lookup = {k.upper(): k for k in reversed(kv.index_to_key)}
    for line in path.read_text().splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) != 3 or fields[2] == "high":
            continue
        a, b = lookup.get(fields[0].upper()), lookup.get(fields[1].upper())
        if a is None or b is None:
            n_oov += 1
            if dummy4unknown:
                gold.append(float(fields[2]))
                model.append(0.0)
            continue
        gold.append(float(fields[2]))
        model.append(float(unit64(kv[a]) @ unit64(kv[b])))
    assert n_oov == 2
    assert r == pytest.approx(float(scipy_stats.pearsonr(gold, model)[0]), abs=1e-6)
    assert rho == pytest.approx(float(scipy_stats.spearmanr(gold, model)[0]), abs=1e-6)
    assert oov == pytest.approx(100.0 * n_oov / (len(gold) if dummy4unknown else len(gold) + n_oov))
    assert r > 0.5 and rho > 0.5  # the planted relation is found
    theirs = gensim_kv(kv).evaluate_word_pairs(str(path), dummy4unknown=dummy4unknown)
    assert r == pytest.approx(float(theirs[0][0]), abs=1e-6) and p_r == pytest.approx(float(theirs[0][1]), rel=1e-4)
    assert rho == pytest.approx(float(theirs[1][0]), abs=1e-6) and p_rho == pytest.approx(float(theirs[1][1]), rel=1e-4)
    assert oov == pytest.approx(theirs[2])


def test_word_pairs_options_and_errors(tmp_path):
    kv = planted_vectors()
    path = tmp_path / "pairs.csv"
    write_pairs(path, kv, delimiter=",")
    with pytest.raises(ValueError, match=r"pairs\.csv: no 'word1\tword2\tscore' lines found \(wrong delimiter\?\)"):
        kv.evaluate_word_pairs(path)
    ours = kv.evaluate_word_pairs(path, delimiter=",", case_insensitive=False)
    theirs = gensim_kv(kv).evaluate_word_pairs(str(path), delimiter=",", case_insensitive=False)
    assert ours[1][0] == pytest.approx(float(theirs[1][0]), abs=1e-6)
    assert ours[2] == pytest.approx(theirs[2]) and ours[2] > 100 * 2 / 62  # upper-cased words are OOV now


# ----------------------------------------------------------------------------- gensim's shipped files
def test_shipped_questions_words_parse(tmp_path):
    utils = pytest.importorskip("gensim.test.utils", reason="gensim ships the reference files")
    path = utils.datapath("questions-words.txt")
    with open(path, encoding="utf8") as handle:
        lines = handle.read().splitlines()
    headers = [line[2:] for line in lines if line.startswith(": ")]
    n_questions = sum(1 for line in lines if line and not line.startswith(": "))
    assert len(headers) == 14 and n_questions > 19000
    # vocabulary: the words of two sections, in mixed case, with random vectors
    wanted = {"capital-common-countries", "family"}
    words, section = [], None
    for line in lines:
        if line.startswith(": "):
            section = line[2:]
        elif section in wanted:
            words += [w for w in line.split() if w not in words]
    rng = np.random.default_rng(0)
    kv = KeyedVectors(words, rng.standard_normal((len(words), 20)).astype(np.float32))
    score, sections = kv.evaluate_word_analogies(path)
    assert [s["section"] for s in sections] == headers + ["Total accuracy"]
    sizes = {s["section"]: len(s["correct"]) + len(s["incorrect"]) for s in sections}
    assert sizes["capital-common-countries"] == 506 and sizes["family"] > 0
    assert sizes["Total accuracy"] == sum(sizes[h] for h in headers)
    dummy_total = kv.evaluate_word_analogies(path, dummy4unknown=True)[1][-1]
    assert len(dummy_total["correct"]) + len(dummy_total["incorrect"]) == n_questions
    g_score, g_sections = gensim_kv(kv).evaluate_word_analogies(path)
    assert score == pytest.approx(g_score)
    assert [len(s["correct"]) for s in sections] == [len(s["correct"]) for s in g_sections]


def test_shipped_wordsim353_parse():
    utils = pytest.importorskip("gensim.test.utils", reason="gensim ships the reference files")
    path = utils.datapath("wordsim353.tsv")
    with open(path, encoding="utf8") as handle:
        pairs = [line.split("\t") for line in handle.read().splitlines() if line and not line.startswith("#")]
    vocab = sorted({w.lower() for a, b, _ in pairs for w in (a, b)})
    rng = np.random.default_rng(1)
    keep = vocab[: len(vocab) * 3 // 4]
    kv = KeyedVectors(keep, rng.standard_normal((len(keep), 10)).astype(np.float32))
    (r, p_r), (rho, p_rho), oov = kv.evaluate_word_pairs(path)
    theirs = gensim_kv(kv).evaluate_word_pairs(path)
    assert 0 < oov < 100 and oov == pytest.approx(theirs[2])
    assert r == pytest.approx(float(theirs[0][0]), abs=1e-6) and rho == pytest.approx(float(theirs[1][0]), abs=1e-6)
    assert p_r == pytest.approx(float(theirs[0][1]), rel=1e-4) and p_rho == pytest.approx(float(theirs[1][1]), rel=1e-4)
    assert abs(rho) < 0.3  # random vectors carry no human judgement
