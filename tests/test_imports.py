"""What `import embedforge` loads: word vectors stay torch-free, the torch parts load on first use."""

from __future__ import annotations

import subprocess
import sys
import textwrap


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


def test_unknown_attribute_is_an_attribute_error():
    out = _run("""
        import embedforge
        try:
            embedforge.no_such_thing
        except AttributeError as exc:
            print(exc)
    """)
    assert "no_such_thing" in out
