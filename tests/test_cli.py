"""The command line: --help everywhere, exit status 2 with one-line messages, results, atomic outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from embedforge.cli import BUILTIN_CORPUS, format_for, main
from embedforge.vectors import KeyedVectors, load

COMMANDS = ("train", "neighbors", "analogy", "evaluate", "convert", "plot", "info", "bench", "demo")


def _planted() -> KeyedVectors:
    """Three clusters of words plus an exact king - man + woman = queen on unit vectors."""
    rng = np.random.default_rng(11)
    words, rows = [], []
    centers = rng.normal(scale=5.0, size=(3, 12))
    for g, name in enumerate(("red", "dog", "oak")):
        for i in range(8):
            words.append(f"{name}{i}")
            rows.append(centers[g] + rng.normal(size=12))
    base = rng.normal(size=(3, 12))
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    words += ["king", "man", "woman", "queen"]
    rows += [base[0], base[1], base[2], base[0] - base[1] + base[2]]
    return KeyedVectors(words, np.asarray(rows, dtype=np.float32))


@pytest.fixture
def vecs(tmp_path: Path) -> tuple[Path, KeyedVectors]:
    kv = _planted()
    path = tmp_path / "vecs.txt"
    kv.save_word2vec_format(path, binary=False)
    return path, load(path)


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _assert_usage_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], lines[0]


# ------------------------------------------------------------------------------------------------ help
def test_python_dash_m_help_in_a_subprocess() -> None:
    done = subprocess.run([sys.executable, "-m", "embedforge", "--help"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: embedforge")
    for c in COMMANDS:
        assert c in done.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, capsys) -> None:
    code, out, _ = _run([command, "--help"], capsys)
    assert code == 0
    assert out.startswith(f"usage: embedforge {command}")


def test_version(capsys) -> None:
    import embedforge

    code, out, _ = _run(["--version"], capsys)
    assert code == 0 and out.strip() == f"embedforge {embedforge.__version__}"


@pytest.mark.parametrize(
    "argv, needles",
    [
        ([], ["a command is required"]),
        (["bogus"], ["invalid choice: 'bogus'"]),
        (["neighbors"], ["embedforge neighbors: error:", "required"]),
        (["neighbors", "v.txt", "w", "-n", "0"], ["expected a positive integer, got 0"]),
        (["train", "c.txt", "-o", "o.txt", "--vector-size", "-3"], ["--vector-size", "positive integer"]),
        (["train", "c.txt", "-o", "o.txt", "--sample", "2"], ["[0, 1]"]),
        (["train", "c.txt", "-o", "o.txt", "--sg", "--cbow"], ["not allowed with"]),
        (["plot", "v.txt", "-o", "x.png", "--method", "lle"], ["invalid choice: 'lle'"]),
        (["convert", "a.txt"], ["required"]),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, needles, capsys) -> None:
    code, out, err = _run(argv, capsys)
    _assert_usage_error(code, err, *needles)
    assert out == ""


# ------------------------------------------------------------------------------------------------ queries
def test_neighbors_prints_cosine_neighbours(vecs, capsys) -> None:
    path, kv = vecs
    code, out, _ = _run(["neighbors", path, "red3", "oak0", "-n", "3"], capsys)
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split() == ["word", "1", "2", "3"]
    for line, word in zip(lines[1:], ["red3", "oak0"]):
        got = line.split()[1::2]
        assert got == [w for w, _ in kv.most_similar(word, topn=3)]
        assert all(w.startswith(word[:3]) for w in got)
    code, out, _ = _run(["neighbors", path, "dog1", "--markdown", "-n", "2"], capsys)
    assert code == 0 and out.splitlines()[1] == "|---|---|---|"


def test_unknown_words_and_missing_files(vecs, tmp_path: Path, capsys) -> None:
    path, kv = vecs
    code, _, err = _run(["neighbors", path, "red1", "zebra"], capsys)
    _assert_usage_error(code, err, "'zebra' is not in the vocabulary", str(path), f"({len(kv)} words)")
    code, _, err = _run(["analogy", path, "king", "man", "princess"], capsys)
    _assert_usage_error(code, err, "'princess' is not in the vocabulary")
    code, _, err = _run(["neighbors", tmp_path / "nope.txt", "red1"], capsys)
    _assert_usage_error(code, err, "no such vectors file", "nope.txt")
    code, _, err = _run(["neighbors", tmp_path, "red1"], capsys)
    _assert_usage_error(code, err, "is a directory")
    broken = tmp_path / "broken.txt"
    broken.write_text("3 4\nred 1 2 3 4\nblue 1 2\n")
    code, _, err = _run(["neighbors", broken, "red"], capsys)
    _assert_usage_error(code, err, "cannot read vectors from", "broken.txt")


def test_analogy_finds_planted_answer(vecs, capsys) -> None:
    path, _ = vecs
    code, out, _ = _run(["analogy", path, "king", "man", "woman", "-n", "2"], capsys)
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0] == "king - man + woman:"
    assert lines[1].split()[0] == "queen"
    assert float(lines[1].split()[1]) == pytest.approx(1.0, abs=1e-5)


def test_evaluate_analogies_and_pairs(vecs, tmp_path: Path, capsys) -> None:
    path, kv = vecs
    questions = tmp_path / "questions.txt"
    questions.write_text(
        ": royal\nman king woman queen\nman woman king queen\n: other\nred0 red1 dog0 oak0\n"
        "man woman unknownword queen\n"
    )
    pairs = tmp_path / "pairs.tsv"
    rows = [("red0", "red1"), ("red0", "dog1"), ("dog2", "dog3"), ("oak1", "red2"), ("oak4", "oak5"), ("x", "red0")]
    gold = [9.0, 1.0, 8.5, 2.0, 9.5, 5.0]
    pairs.write_text("# word1 word2 score\n" + "".join(f"{a}\t{b}\t{s}\n" for (a, b), s in zip(rows, gold)))
    report = tmp_path / "scores.json"
    code, out, _ = _run(["evaluate", path, "--analogies", questions, "--pairs", pairs, "--json", report], capsys)
    assert code == 0
    acc, _ = kv.evaluate_word_analogies(questions)
    (_, _), (rho, _), oov = kv.evaluate_word_pairs(pairs)
    data = json.loads(report.read_text())
    assert data["analogies"]["accuracy"] == pytest.approx(acc)
    assert data["analogies"]["questions"] == 3 and data["analogies"]["correct"] >= 2
    assert data["analogies"]["sections"]["royal"] == [2, 2]
    assert data["pairs"]["spearman"] == pytest.approx(rho) and rho > 0.5
    assert data["pairs"]["oov_percent"] == pytest.approx(oov)
    assert f"accuracy {acc:.4f}" in out and f"spearman {rho:.4f}" in out
    code, _, err = _run(["evaluate", path], capsys)
    _assert_usage_error(code, err, "--analogies FILE and/or --pairs FILE")
    code, _, err = _run(["evaluate", path, "--pairs", tmp_path / "missing.tsv"], capsys)
    _assert_usage_error(code, err, "no such file", "missing.tsv")
    assert not (tmp_path / "missing.tsv").exists()


# ------------------------------------------------------------------------------------------------ convert
@pytest.mark.parametrize(
    "name, fmt",
    [
        ("v.bin", "word2vec-binary"),
        ("v.efv", "native"),
        ("v.glove", "glove"),
        ("v.vec", "fasttext"),
        ("v.txt.gz", "word2vec"),
        ("v.data", "word2vec"),
    ],
)
def test_convert_round_trips_each_format(vecs, tmp_path: Path, name: str, fmt: str, capsys) -> None:
    path, kv = vecs
    assert format_for(name) == fmt
    target = tmp_path / name
    code, _, err = _run(["convert", path, target], capsys)
    assert code == 0, err
    back = load(target, format=fmt)
    assert list(back.index_to_key) == list(kv.index_to_key)
    np.testing.assert_allclose(back.vectors, kv.vectors, rtol=1e-6, atol=1e-6)


def test_convert_errors(vecs, tmp_path: Path, capsys) -> None:
    path, _ = vecs
    code, _, err = _run(["convert", path, path], capsys)
    _assert_usage_error(code, err, "is the input file")
    code, _, err = _run(["convert", path, tmp_path / "no" / "dir" / "v.bin"], capsys)
    _assert_usage_error(code, err, "no such directory")
    code, _, err = _run(["convert", tmp_path / "absent.bin", tmp_path / "v.txt"], capsys)
    _assert_usage_error(code, err, "no such vectors file")


# ------------------------------------------------------------------------------------------------ plot
def test_plot_png_html_and_projector(vecs, tmp_path: Path, capsys) -> None:
    from PIL import Image as pil

    path, kv = vecs
    png = tmp_path / "map.png"
    code, _, err = _run(["plot", path, "-o", png, "--width", "400", "--height", "300", "--labels", "5"], capsys)
    assert code == 0, err
    with pil.open(png) as im:
        assert im.size == (400, 300)
        assert np.asarray(im.convert("L"), dtype=float).var() > 50
    html = tmp_path / "page.html"
    assert _run(["plot", path, "-o", html, "--words", "red0", "red1", "dog0", "oak0"], capsys)[0] == 0
    page = html.read_text(encoding="utf-8")
    assert "red1" in page and "king" not in page and "<script src" not in page
    proj = tmp_path / "proj"
    assert _run(["plot", path, "-o", proj, "--projector", "--limit", "10"], capsys)[0] == 0
    assert (proj / "metadata.tsv").read_text().splitlines() == list(kv.index_to_key[:10])
    assert (proj / "projector_config.pbtxt").is_file()


def test_plot_errors_leave_existing_output_untouched(vecs, tmp_path: Path, monkeypatch, capsys) -> None:
    path, _ = vecs
    png = tmp_path / "map.png"
    png.write_bytes(b"old picture")
    monkeypatch.setitem(sys.modules, "umap", None)
    code, _, err = _run(["plot", path, "-o", png, "--method", "umap"], capsys)
    _assert_usage_error(code, err, "pip install umap-learn")
    assert png.read_bytes() == b"old picture"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.png", "vecs.txt"]
    code, _, err = _run(["plot", path, "-o", tmp_path / "map.jpeg2"], capsys)
    _assert_usage_error(code, err, "cannot tell what to write")
    code, _, err = _run(["plot", path, "-o", png, "--words", "red0", "unicorn"], capsys)
    _assert_usage_error(code, err, "'unicorn' is not in the vocabulary")


# ------------------------------------------------------------------------------------------------ info, bench
def test_info_json(capsys) -> None:
    import embedforge

    code, out, _ = _run(["info", "--json"], capsys)
    assert code == 0
    info = json.loads(out)
    assert info["embedforge"] == embedforge.__version__
    for key, value in embedforge.build_info().items():
        assert info[key] == value
    assert info["extras"]["matplotlib"] is True
    assert info["trainer_isa"] in ("baseline", "avx2", "avx512")
    if not (info["cuda"] and info["cuda_available"]):
        assert info["cuda_usable"] is False
    code, out, _ = _run(["info"], capsys)
    assert code == 0 and out.startswith("embedforge")
    lines = out.splitlines()
    assert len(lines) <= 24  # one screen
    labels = [line.split("  ")[0].strip() for line in lines]
    assert labels == ["embedforge", "built", "torch", "cpu kernels", "cuda kernels", "extras"]
    assert f"stable-ABI floor {info['stable_abi_floor']}" in out and info["torch_runtime"] in out
    cuda_line = lines[labels.index("cuda kernels")]
    assert ("not built" in cuda_line) == (not info["cuda"])
    assert ("usable on" in cuda_line) == info["cuda_usable"]


def test_bench_prints_the_comparison_table(tmp_path: Path, capsys) -> None:
    out_json = tmp_path / "bench.json"
    code, out, err = _run(
        [
            "bench",
            "--threads",
            "1",
            "--repeats",
            "1",
            "--iters",
            "2",
            "--scale",
            "0.02",
            "--workloads",
            "W1",
            "--json",
            out_json,
        ],
        capsys,
    )
    assert code == 0, err
    rows = json.loads(out_json.read_text())
    assert rows and {r["workload"] for r in rows} == {"W1"} and {r["threads"] for r in rows} == {1}
    assert len(out.strip().splitlines()) == len(rows) + 1  # header + one line per row
    assert len(err.strip().splitlines()) == len(rows)  # per-row progress on stderr
    code, _, err = _run(["bench", "--scale", "3"], capsys)
    _assert_usage_error(code, err, "--scale must be in (0, 1]")


# ------------------------------------------------------------------------------------------------ train
def test_train_argument_errors_come_before_training(tmp_path: Path, capsys) -> None:
    code, _, err = _run(["train", tmp_path / "corpus.txt", "-o", tmp_path / "v.txt"], capsys)
    _assert_usage_error(code, err, "no such corpus file", "corpus.txt")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a b c\n")
    code, _, err = _run(["train", corpus, "-o", tmp_path / "missing" / "v.txt"], capsys)
    _assert_usage_error(code, err, "no such directory")
    code, _, err = _run(
        ["train", corpus, "-o", tmp_path / "v.txt", "--model", "fasttext", "--min-n", "5", "--max-n", "3"], capsys
    )
    _assert_usage_error(code, err, "--min-n 5 is larger than --max-n 3")


def _topic_corpus(path: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    topics = [[f"{t}{i}" for i in range(10)] for t in ("sun", "car", "pen")]
    lines = [" ".join(rng.choice(topics[rng.integers(3)], size=12)) for _ in range(1500)]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("model, out_name", [("word2vec", "v.bin"), ("fasttext", "v.efv")])
def test_train_writes_vectors_that_learned_the_topics(tmp_path: Path, model: str, out_name: str, capsys) -> None:
    corpus = tmp_path / "topics.txt"
    _topic_corpus(corpus)
    out = tmp_path / out_name
    code, _, err = _run(
        [
            "train",
            corpus,
            "-o",
            out,
            "--model",
            model,
            "--sg",
            "--vector-size",
            "16",
            "--epochs",
            "3",
            "--min-count",
            "1",
            "--workers",
            "1",
            "--no-progress",
            "--save-model",
            tmp_path / "model.bin",
        ],
        capsys,
    )
    assert code == 0, err
    kv = load(out)
    assert len(kv) == 30 and kv.vector_size == 16
    top = [w for w, _ in kv.most_similar("sun3", topn=5)]
    assert sum(w.startswith("sun") for w in top) >= 4
    assert (tmp_path / "model.bin").exists()


def test_train_on_the_builtin_corpus_name_is_documented(capsys) -> None:
    code, out, _ = _run(["train", "--help"], capsys)
    assert code == 0 and BUILTIN_CORPUS in out


def test_train_with_a_min_count_that_removes_every_word_is_a_usage_error(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "topics.txt"
    _topic_corpus(corpus)
    out = tmp_path / "v.txt"
    code, _, err = _run(["train", corpus, "-o", out, "--min-count", "100000", "--no-progress"], capsys)
    _assert_usage_error(code, err, "embedforge train: error:", "min_count")
    assert not out.exists()


@pytest.mark.parametrize("model", ["word2vec", "fasttext"])
def test_train_nproc_2_trains_data_parallel_and_rank_0_writes(tmp_path: Path, model: str, capsys) -> None:
    corpus = tmp_path / "topics.txt"
    _topic_corpus(corpus)
    out, saved = tmp_path / "v.bin", tmp_path / "model.npz"
    argv = ["train", corpus, "-o", out, "--model", model, "--sg", "--vector-size", "16", "--epochs", "3"]
    argv += ["--min-count", "1", "--nproc", "2", "--no-progress", "--save-model", saved, "--timeout", "60"]
    code, _, err = _run(argv, capsys)
    assert code == 0, err
    assert "2 ranks x" in err
    kv = load(out)
    assert len(kv) == 30 and kv.vector_size == 16
    top = [w for w, _ in kv.most_similar("sun3", topn=5)]
    assert sum(w.startswith("sun") for w in top) >= 4
    from embedforge import FastText, Word2Vec

    m = (FastText if model == "fasttext" else Word2Vec).load(saved)
    assert np.allclose(m.wv.vectors, kv.vectors, atol=1e-6)  # the vectors file holds rank 0's model


def test_train_nproc_failure_is_one_error_line_and_no_output(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "topics.txt"
    _topic_corpus(corpus)
    out = tmp_path / "v.txt"
    argv = ["train", corpus, "-o", out, "--min-count", "100000", "--nproc", "2", "--no-progress", "--timeout", "30"]
    code, _, err = _run(argv, capsys)
    assert code != 0 and "embedforge train: error:" in err and "min_count" in err
    assert "Traceback" not in err
    assert not out.exists()


_INTERRUPTIBLE = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # a background shell may have ignored it
from embedforge.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            pass
    return out


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie is dead
    except OSError:
        return True


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child processes from Linux's /proc")
def test_ctrl_c_on_the_nproc_launcher_stops_every_rank(tmp_path: Path) -> None:
    import os
    import signal
    import time

    corpus = tmp_path / "big.txt"
    rng = np.random.default_rng()
    words = np.array([f"w{i}" for i in range(500)])
    corpus.write_text("\n".join(" ".join(rng.choice(words, 12)) for _ in range(20_000)) + "\n")
    out = tmp_path / "v.txt"
    argv = ["train", str(corpus), "-o", str(out), "--epochs", "1000", "--min-count", "1", "--nproc", "2"]
    argv += ["--no-progress", "--timeout", "60"]
    proc = subprocess.Popen(
        [sys.executable, "-c", _INTERRUPTIBLE, *argv],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        deadline = time.monotonic() + 120
        ranks: set[int] = set()
        while time.monotonic() < deadline and proc.poll() is None:
            ranks |= _children(proc.pid)
            if len(ranks) >= 2:
                break
            time.sleep(0.1)
        assert proc.poll() is None and len(ranks) >= 2, "the ranks never started"
        time.sleep(2.0)  # training
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    assert not out.exists()
    time.sleep(0.5)
    assert all(_gone(p) for p in ranks), [p for p in ranks if not _gone(p)]
