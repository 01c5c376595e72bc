"""What `import embedforge` loads: word vectors stay torch-free, the torch parts load on first use."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_word_vectors_train_save_and_query_without_importing_torch(tmp_path):
    out = _run(f"""
        import sys
        import embedforge
        sents = [["the", "cat", "sat"], ["the", "dog", "ran"], ["a", "cat", "ran"]] * 100
        m = embedforge.Word2Vec(sents, vector_size=8, min_count=1, epochs=1, workers=2, progress=False)
        ft = embedforge.FastText(sents, vector_size=8, min_count=1, epochs=1, bucket=1000, progress=False)
        assert ft.wv["cats"].shape == (8,)
        m.wv.most_similar("cat", topn=2)
        m.wv.save({str(tmp_path / "v.efv")!r})
        kv = embedforge.KeyedVectors.load({str(tmp_path / "v.efv")!r})
        assert kv.index_to_key == m.wv.index_to_key
        print("torch" in sys.modules)
    """)
    assert out.strip() == "False"


def test_cli_help_and_train_do_not_import_torch(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 200)
    out = _run(f"""
        import sys
        from embedforge.cli import main
        code = main(["train", {str(corpus)!r}, "-o", {str(tmp_path / "v.bin")!r}, "--min-count", "1",
                     "--epochs", "1", "--no-progress"])
        assert code == 0, code
        print("torch" in sys.modules)
    """)
    assert out.strip().splitlines()[-1] == "False"


def test_torch_parts_load_on_first_use_and_register_the_ops():
    out = _run("""
        import sys
        import embedforge
        assert "torch" not in sys.modules
        bag = embedforge.nn.EmbeddingBag(10, 3)
        import torch
        assert hasattr(torch.ops.embedforge, "embedding_bag")
        info = embedforge.build_info()
        print(sorted(info)[:2], bag(torch.tensor([[1, 2]])).shape)
    """)
    assert "torch.Size([1, 3])" in out


def test_ops_are_registered_at_import_when_torch_came_first():
    out = _run("""
        import torch
        import embedforge
        w = torch.randn(5, 2)
        out = torch.ops.embedforge.embedding_bag(w, torch.tensor([[0, 4]]), None, 0, None, -1, False, False)[0]
        print(torch.allclose(out, w[0] + w[4]))
    """)
    assert out.strip() == "True"


@pytest.mark.parametrize(
    "first",
    [
        "import torch",
        "import torch.nn.functional",
        "from torch import nn",
        "import importlib.util; assert importlib.util.find_spec('torch') is not None; import torch",
    ],
)
def test_ops_are_registered_when_torch_comes_after_embedforge(first):
    # Sorted imports put embedforge before torch: the operators must be there all the same.
    out = _run(f"""
        import sys
        import embedforge
        assert "torch" not in sys.modules
        {first}
        import torch
        w = torch.randn(5, 2)
        out = torch.ops.embedforge.embedding_bag(w, torch.tensor([[0, 4]]), None, 0, None, -1, False, False)[0]
        assert type(torch.__spec__.loader).__module__ != "embedforge", torch.__spec__.loader
        assert not any(type(f).__module__ == "embedforge" for f in sys.meta_path)  # the hook is gone
        print(torch.allclose(out, w[0] + w[4]))
    """)
    assert out.strip() == "True"


def test_unknown_attribute_is_an_attribute_error():
    out = _run("""
        import embedforge
        try:
            embedforge.no_such_thing
        except AttributeError as exc:
            print(exc)
    """)
    assert "no_such_thing" in out


def _import_with_torch_version(version: str) -> subprocess.CompletedProcess:
    """Import embedforge's operators with torch reporting `version` (the check reads only that)."""
    code = textwrap.dedent(f"""
        import torch
        torch.__version__ = {version!r}
        import embedforge
        embedforge.ops
        print("imported", embedforge.build_info()["torch_runtime"])
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)


def test_any_torch_from_the_stable_abi_floor_up_is_accepted():
    """The operators are compiled against the stable ABI at the floor: a torch older than the one
    whose headers were used (2.12 for a 2.13 build), or newer, is not refused at import."""
    import embedforge

    info = embedforge.build_info()
    major, minor = (int(x) for x in info["stable_abi_floor"].split("."))
    for version in (f"{major}.{minor}.0", f"{major}.{minor + 1}.1", f"{major}.{minor + 5}.0+cpu"):
        proc = _import_with_torch_version(version)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == f"imported {version}"


def test_a_torch_below_the_floor_is_refused_with_the_floor_named():
    import embedforge

    floor = embedforge.build_info()["stable_abi_floor"]
    major, minor = (int(x) for x in floor.split("."))
    proc = _import_with_torch_version(f"{major}.{minor - 1}.0")
    assert proc.returncode != 0
    assert f"embedforge needs torch>={floor}" in proc.stderr and f"pip install 'torch>={floor}'" in proc.stderr


def test_the_floor_in_the_build_matches_the_declared_requirement():
    """One floor: the one compiled in (TORCH_TARGET_VERSION) is the one pip is told (torch>=X.Y)."""
    import re
    from pathlib import Path

    import embedforge

    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    deps = re.search(r"^dependencies = \[(.*)\]$", text, re.M).group(1)  # tomllib needs Python 3.11
    assert f'"torch>={embedforge.build_info()["stable_abi_floor"]}"' in deps
