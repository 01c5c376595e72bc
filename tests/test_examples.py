"""Every example runs end to end in its reduced size and reports what it promises."""

from __future__ import annotations

import importlib.util
import math
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

import embedforge
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
