"""The demo: its output writers on planted vectors, the letters animation, the report's links, the quick run."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from embedforge import demo
from embedforge.vectors import KeyedVectors, load
from PIL import Image as PIL


def _planted_kv() -> KeyedVectors:
    """Query words with planted neighbour groups, one exact analogy, and filler words."""
    rng = np.random.default_rng(5)
    groups = {
        "file": ["path", "directory", "open"],
        "thread": ["lock", "acquire", "release"],
        "socket": ["address", "connect", "port"],
    }
    words, rows = [], []
    for head, members in groups.items():
        center = rng.normal(scale=4.0, size=24)
        for w in [head] + members:
            words.append(w)
            rows.append(center + rng.normal(size=24))
    unit = rng.normal(size=(3, 24))
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    words += ["read", "reader", "writer", "write"]
    rows += [unit[0], unit[1], unit[2], unit[0] - unit[1] + unit[2]]
    words += ["the", "of"] + [f"word{i}" for i in range(60)]  # no "files": the 2nd analogy candidate is used
    rows += list(rng.normal(size=(62, 24)))
    return KeyedVectors(words, np.asarray(rows, dtype=np.float32))


def _image(path: Path) -> np.ndarray:
    with PIL.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float64)


def _report_links(report: Path) -> list[str]:
    return re.findall(r"\]\(([^)]+)\)", report.read_text(encoding="utf-8"))


def test_word_outputs_on_planted_vectors(tmp_path: Path) -> None:
    kv = _planted_kv()
    cfg = demo.DemoConfig.quick()
    printed: list[str] = []
    facts = demo.write_word_outputs(kv, tmp_path, cfg, echo=printed.append)

    rows = {line.split()[0]: line.split()[1::2] for line in facts["neighbors_text"].splitlines()[1:]}
    assert list(rows) == ["file", "thread", "socket", "directory"]  # the QUERY_WORDS present, in their order
    assert set(rows["thread"][:3]) == {"lock", "acquire", "release"}
    assert any("nearest neighbours" in p for p in printed)

    a, b, c, answers = facts["analogy"]
    assert (a, b, c) == ("read", "reader", "writer") and answers[0][0] == "write"
    assert any(p.startswith("analogy read - reader + writer ≈ write") for p in printed)

    px = _image(facts["word_map"])
    assert px.shape == (900, 1200, 3) and px.var() > 50
    assert _image(facts["analogy_png"]).shape == (600, 700, 3)
    page = facts["explorer"].read_text(encoding="utf-8")
    assert '"thread"' in page and "<script src" not in page
    meta = (facts["projector"] / "metadata.tsv").read_text(encoding="utf-8").splitlines()
    assert meta[0] == "word\trank" and meta[1] == "file\t1" and len(meta) == len(kv) + 1
    back = load(facts["vectors"])
    assert list(back.index_to_key) == list(kv.index_to_key)
    np.testing.assert_array_equal(np.asarray(back.vectors), kv.vectors)


def test_word_map_leaves_out_function_words() -> None:
    kv = _planted_kv()
    words = demo._content_words(kv, 100)
    assert "the" not in words and "of" not in words and words[0] == "file"


def test_letter_outputs(tmp_path: Path) -> None:
    cfg = demo.DemoConfig.quick()
    text = "the quick brown fox jumps over the lazy dog and then it sleeps all day " * 60
    facts = demo.write_letter_outputs(text, tmp_path, cfg, seed=0)
    assert facts["letters"] == 27  # 26 letters and the space, all present in the pangram
    with PIL.open(facts["letters_gif"]) as im:
        assert im.format == "GIF" and im.size == (480, 480)
        assert 2 <= im.n_frames <= cfg.max_frames + 1
    assert _image(facts["letters_png"]).shape == (600, 600, 3)


def test_frames_are_evenly_spaced_and_keep_both_ends() -> None:
    snaps = [np.zeros((2, 2))] * 101
    keep = demo._frames(snaps, 11)
    assert keep[0] == 0 and keep[-1] == 100 and len(keep) == 11
    assert demo._frames(snaps[:5], 11) == [0, 1, 2, 3, 4]


def test_report_links_every_output(tmp_path: Path) -> None:
    for name in ("word_map.png", "analogy.png", "letters.gif", "letters.png", "explorer.html", "vectors.efv"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "projector").mkdir()
    facts = {
        "arch": "skip-gram",
        "vector_size": 8,
        "window": 2,
        "epochs": 1,
        "min_count": 1,
        "sentences": 10,
        "tokens": 100,
        "vocab": 20,
        "train_seconds": 0.5,
        "neighbors_markdown": "| word | 1 |\n|---|---|",
        "analogy": ("read", "reader", "writer", [("write", 0.9)]),
        "analogy_png": tmp_path / "analogy.png",
        "word_map": tmp_path / "word_map.png",
        "letters_chars": 500,
        "letter_snapshots": 3,
        "letters": 27,
        "letters_gif": tmp_path / "letters.gif",
        "letters_png": tmp_path / "letters.png",
        "explorer": tmp_path / "explorer.html",
        "projector": tmp_path / "projector",
        "vectors": tmp_path / "vectors.efv",
        "total_seconds": 2.0,
    }
    report = demo.write_report(tmp_path, facts)
    text = report.read_text(encoding="utf-8")
    links = _report_links(report)
    assert {"word_map.png", "letters.gif", "explorer.html", "projector/", "analogy.png"} <= set(links)
    assert all((tmp_path / link).exists() for link in links)
    assert "`read − reader + writer` ≈ **write** (0.90)" in text
    assert "about 200 words/s" in text  # 100 tokens x 1 epoch / 0.5 s


def test_quick_demo_end_to_end(tmp_path: Path, capsys) -> None:
    from embedforge.cli import main

    out = tmp_path / "out"
    code = main(["demo", "--quick", "--out", str(out), "--no-progress", "--workers", "2"])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert "nearest neighbours" in stdout and "report.md" in stdout
    for name in (
        "word_map.png",
        "letters.gif",
        "letters.png",
        "explorer.html",
        "report.md",
        "vectors.efv",
        "projector/tensors.tsv",
        "projector/metadata.tsv",
        "projector/projector_config.pbtxt",
    ):
        assert (out / name).is_file(), name
    assert _image(out / "word_map.png").var() > 50
    assert all((out / link).exists() for link in _report_links(out / "report.md"))
    kv = load(out / "vectors.efv")
    assert len(kv) > 50


_BLOCK_EXTRAS = """
import sys
BLOCKED = ("matplotlib", "sklearn", "PIL", "tqdm", "umap", "tensorboard", "pandas")
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Block())
from embedforge.cli import main
code = main(["demo", "--quick", "--out", sys.argv[1], "--workers", "2"])
assert "matplotlib" not in sys.modules and "sklearn" not in sys.modules
sys.exit(code)
"""


def test_demo_without_the_optional_extras(tmp_path: Path) -> None:
    """As after `pip install embedforge` with no extras: a fresh process that cannot import any of them."""
    import subprocess
    import sys

    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", _BLOCK_EXTRAS, str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    stdout = proc.stdout
    assert "nearest neighbours" in stdout and "analogy " in stdout
    skipped = [line for line in stdout.splitlines() if line.startswith("skipped ")]
    assert skipped == [
        "skipped analogy.png, word_map.png, explorer.html, letters.gif, letters.png "
        "(no matplotlib, pillow, scikit-learn installed): pip install 'embedforge[viz]' to draw them"
    ]
    for name in ("report.md", "vectors.efv", "projector/tensors.tsv", "projector/metadata.tsv"):
        assert (out / name).is_file(), name
    for name in ("word_map.png", "analogy.png", "explorer.html", "letters.gif", "letters.png"):
        assert not (out / name).exists(), name
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Nearest neighbours" in report and "## Analogy" in report and "pip install 'embedforge[viz]'" in report
    assert all((out / link).exists() for link in _report_links(out / "report.md"))
    assert len(load(out / "vectors.efv")) > 50


def test_skipped_line_names_pictures_modules_and_extra() -> None:
    line = demo.skipped_line({"explorer.html": ("sklearn",), "letters.gif": ("PIL",)})
    assert (
        line == "skipped explorer.html, letters.gif (no pillow, scikit-learn installed): "
        "pip install 'embedforge[viz]' to draw them"
    )


def test_nothing_is_missing_with_the_viz_extra() -> None:
    for module in ("matplotlib", "sklearn", "PIL"):
        pytest.importorskip(module, reason="the viz extra is not installed")
    assert demo.missing_for_pictures() == {}
