"""A failed CLI command leaves no output file behind (issue 14, §3)."""

from pathlib import Path

from embedforge.cli import main


def _corpus(path: Path) -> Path:
    path.write_text("\n".join(["sun moon star sky sun moon", "car road wheel car road"] * 40) + "\n")
    return path


def test_train_with_unwritable_model_path_leaves_no_vectors(tmp_path: Path, capsys) -> None:
    corpus = _corpus(tmp_path / "c.txt")
    out = tmp_path / "out.txt"
    common = [
        "train",
        str(corpus),
        "-o",
        str(out),
        "--vector-size",
        "8",
        "--epochs",
        "1",
        "--min-count",
        "1",
        "--workers",
        "1",
        "--no-progress",
    ]
    code = main(common + ["--save-model", str(tmp_path / "nodir" / "m")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "no such directory" in err
    assert not out.exists()
    (tmp_path / "adir").mkdir()
    code = main(common + ["--save-model", str(tmp_path / "adir")])  # fails only when the model is written
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
    assert main(common + ["--save-model", str(tmp_path / "m.bin")]) == 0
    assert out.exists() and (tmp_path / "m.bin").exists()
