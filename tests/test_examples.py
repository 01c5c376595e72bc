"""Every example runs end to end in its reduced size and reports what it promises."""

from __future__ import annotations

import importlib.util
import math
import sys
from collections import Counter
from pathlib import Path

import embedforge
import numpy as np
import pytest
import torch
from embedforge.data import stdlib_sentences

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(autouse=True)
def _one_thread():
    """Small models train faster on one intra-op thread than on two contended ones; restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _load(name: str):
    """Import examples/<name>.py as a module."""
    spec = importlib.util.spec_from_file_location(f"embedforge_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_letters_example(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="the --plot option draws with matplotlib (the viz extra)")
    out = _load("letters").main(["--quick", "--plot", str(tmp_path / "letters.png")])
    assert out["accuracy"] > out["majority"]
    assert out["snapshots"] >= 2 and " " in out["letters"]
    assert (tmp_path / "letters.png").stat().st_size > 1000
    assert "majority-class baseline" in capsys.readouterr().out


def test_collab_example_synthetic_and_movielens_csv(tmp_path):
    module = _load("collab")
    out = module.main(["--quick"])
    assert out["val_rmse"] < 3 * out["noise"] and out["bias_corr"] > 0.5
    rng = np.random.default_rng(0)
    rows = ["userId,movieId,rating,timestamp"]
    for u in range(30):
        for m in rng.choice(40, 15, replace=False):
            rows.append(f"{u + 1},{m * 7 + 1},{rng.integers(1, 11) / 2},964982703")
    path = tmp_path / "ratings.csv"
    path.write_text("\n".join(rows) + "\n")
    out = module.main(["--quick", "--ratings", str(path), "--factors", "4"])
    assert math.isfinite(out["val_rmse"]) and out["val_rmse"] < 3.0


def test_entity_embeddings_example():
    out = _load("entity_embeddings").main(["--quick"])
    assert out["same_order"], (out["learned"], out["planted"])


def test_char_lm_example(capsys):
    out = _load("char_lm").main(["--quick", "--model", "bengio,char3"])
    for name in ("bengio", "char3"):
        assert out[name]["val_loss"] < out["unigram"]
        assert out[name]["sample"].startswith("Return the ") and len(out[name]["sample"]) == len("Return the ") + 80
    with pytest.raises(SystemExit):
        _load("char_lm").main(["--model", "transformer"])
    assert "unknown model" in capsys.readouterr().err


def _ppmi_vectors(path: Path, dim: int = 16) -> None:
    """Write word2vec-format vectors from an SVD of PPMI co-occurrences in the built-in corpus."""
    sents = stdlib_sentences(max_sentences=6000)
    words = [w for w, _ in Counter(w for s in sents for w in s).most_common(800)]
    index = {w: i for i, w in enumerate(words)}
    co = np.zeros((len(words), len(words)))
    for s in sents:
        ids = np.array([index[w] for w in s if w in index], dtype=np.int64)
        for gap in (1, 2):  # symmetric window of two words
            np.add.at(co, (ids[gap:], ids[:-gap]), 1.0)
    co = co + co.T
    total = co.sum()
    expected = co.sum(1, keepdims=True) * co.sum(0, keepdims=True) / total
    with np.errstate(divide="ignore", invalid="ignore"):
        ppmi = np.nan_to_num(np.maximum(np.log(co / expected), 0))
    u, s, _ = np.linalg.svd(ppmi, full_matrices=False)
    vecs = u[:, :dim] * np.sqrt(s[:dim])
    lines = [f"{len(words)} {dim}"] + [w + " " + " ".join(f"{v:.5f}" for v in row) for w, row in zip(words, vecs)]
    path.write_text("\n".join(lines) + "\n")


def test_text_cnn_example_with_a_vectors_file(tmp_path):
    path = tmp_path / "vectors.txt"
    _ppmi_vectors(path)
    out = _load("text_cnn").main(["--quick", "--vectors", str(path)])
    for name in ("random", "frozen", "fine-tuned"):
        assert 0.0 <= out[name]["accuracy"] <= 1.0
    assert max(out[name]["accuracy"] for name in ("frozen", "fine-tuned")) > out["majority"]


def test_text_cnn_example_explains_missing_vectors(monkeypatch):
    def no_word2vec(name):
        raise AttributeError(name)

    monkeypatch.setattr(embedforge, "__getattr__", no_word2vec)  # as in a build without the trainer
    with pytest.raises(RuntimeError, match="--vectors PATH"):
        _load("text_cnn").main(["--quick"])


def test_bag_of_embeddings_example():
    out = _load("bag_of_embeddings").main(["--quick"])
    assert out["accuracy"] > out["majority"] + 0.1


def test_text_cnn_interpret_example(tmp_path):
    pytest.importorskip("matplotlib", reason="the --plot option draws with matplotlib (the viz extra)")
    out = _load("text_cnn_interpret").main(["--quick", "--show", "2", "--plot", str(tmp_path / "cnn.png")])
    assert out["accuracy"] > out["majority"]
    assert len(out["explained"]) == 2
    for r in out["explained"]:
        assert set(r.top) == {1, 2, 3} and all(len(g) == w for w, (_, g) in r.top.items())
    assert (tmp_path / "cnn.png").stat().st_size > 1000


def _gendered_vectors(path: Path) -> None:
    """word2vec text vectors with a planted he − she axis: 'nurse' on the she side, 'engineer' on the he side."""
    rng = np.random.default_rng(0)
    g = rng.normal(size=20)
    g /= np.linalg.norm(g)
    words, rows = [], []
    for x, y in (("he", "she"), ("man", "woman"), ("boy", "girl")):
        base = rng.normal(size=20)
        words += [x, y]
        rows += [base + g, base - g]
    for w, lean in (("engineer", 1.0), ("nurse", -1.0), ("doctor", 0.0)):
        v = rng.normal(size=20)
        v -= (v @ g) * g
        words.append(w)
        rows.append(v + 2.5 * lean * g)
    words += [f"w{i}" for i in range(100)]
    rows += list(rng.normal(size=(100, 20)))
    path.write_text(
        f"{len(words)} 20\n" + "".join(w + " " + " ".join(f"{v:.5f}" for v in r) + "\n" for w, r in zip(words, rows))
    )


def test_word_vector_bias_example_with_a_vectors_file(tmp_path, capsys):
    path = tmp_path / "vectors.txt"
    _gendered_vectors(path)
    out = _load("word_vector_bias").main(["--vectors", str(path), "--plot", str(tmp_path / "bias.png")])
    assert out["axis"] == "he − she" and len(out["pairs"]) == 3
    order = [w for w, _ in out["projections"]]
    assert order == ["engineer", "doctor", "nurse"]
    lo, hi = out["band"]
    values = dict(out["projections"])
    assert values["engineer"] > hi and values["nurse"] < lo
    assert "nurse" not in out["unknown"] and "programmer" in out["unknown"]
    text = capsys.readouterr().out
    assert "What they do not show" in text and "random-word band" in text
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "bias.png").stat().st_size > 1000


def test_word_vector_bias_example_on_the_built_in_corpus(capsys):
    out = _load("word_vector_bias").main(["--quick"])
    assert out["axis"] == "read − write" and ("read", "write") in out["pairs"]
    assert len(out["projections"]) >= 10 and out["band"][0] < out["band"][1]
    assert "gendered pairs are in its vocabulary" in capsys.readouterr().out


def test_sgd_from_scratch_example(tmp_path):
    pytest.importorskip("matplotlib", reason="the GIF frames are drawn with matplotlib (the viz extra)")
    from PIL import Image

    out = _load("sgd_from_scratch").main(["--steps", "150", "--every", "10", "--gif", str(tmp_path / "sgd.gif")])
    for fit in out["fits"].values():
        assert (fit.a, fit.b) == pytest.approx(out["exact"], abs=2e-3)
        assert (fit.a, fit.b) == pytest.approx(out["true"], abs=0.15)
    assert out["path_gap"] < 1e-5
    with Image.open(tmp_path / "sgd.gif") as im:
        assert im.n_frames == out["frames"] == len(out["fits"]["torch"].steps) == 16


def test_lookup_backprop_example():
    out = _load("lookup_backprop").main(["--quick"])
    assert out["one_hot_matches"] and out["bit_identical"]
    mem = out["memory"]
    assert mem.one_hot == 2048 * 50_000 * 4 and mem.sparse < mem.dense < mem.one_hot and mem.fused == 0


def test_model_summaries_example():
    pytest.importorskip("torchinfo", reason="model summaries need torchinfo (the summary extra)")
    out = _load("model_summaries").main(["--quiet"])
    assert set(out) == set(embedforge.models.summary.MODEL_ZOO)
    assert all(r["same_as_torch"] and r["total_params"] > 0 for r in out.values())


def test_lookup_speed_memory_example():
    out = _load("lookup_speed_memory").main(["--quick"])
    assert out["timing"]["same_rows"]
    f32 = {m["rows"]: m["bytes"] for m in out["memory"] if m["dtype"] == "float32"}
    assert f32 == {1_000: 1_000 * 64 * 4, 10_000: 10_000 * 64 * 4}
    assert all(out["dict_bytes"][n] > f32[n] for n in f32)
