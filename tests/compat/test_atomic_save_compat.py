"""A save killed mid-write (SIGKILL) leaves its temporary file; the next save of the same target
removes it, and nothing else (issue 14, §3)."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from embedforge.vectors import KeyedVectors, formats

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

KILLED_SAVE = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from embedforge.vectors import KeyedVectors, formats
    target = sys.argv[1]
    original = formats._write_text
    def write_then_die(stream, *args, **kwargs):
        original(stream, *args, **kwargs)
        stream.flush()
        os.kill(os.getpid(), signal.SIGKILL)  # mid-save: written, not yet renamed over the target
    formats._write_text = write_then_die
    kv = KeyedVectors(2)
    kv.add_vectors(["new"], np.ones((1, 2), dtype=np.float32))
    kv.save_word2vec_format(target)
""")


def _killed_save(target):
    proc = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(target)], timeout=120, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    return proc


def _old_kv():
    kv = KeyedVectors(2)
    kv.add_vectors(["old", "older"], np.arange(4, dtype=np.float32).reshape(2, 2))
    return kv


def test_killed_save_leaves_target_and_next_save_removes_its_temp(tmp_path):
    target = tmp_path / "v.txt"
    _old_kv().save_word2vec_format(target)
    before = target.read_bytes()
    _killed_save(target)
    assert target.read_bytes() == before  # the target is untouched by the killed save
    leftovers = [n for n in os.listdir(tmp_path) if n != "v.txt"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".v.txt.") and leftovers[0].endswith(".tmp")
    # Neighbours that must survive: other targets' temps, other patterns, a live writer's temp.
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        keep = [
            ".w.txt.999999.0.tmp",
            ".v.txt.abc.0.tmp",
            ".v.txt.123.0.tmp.bak",
            "v.txt.123.0.tmp",
            ".v.txt.123.0.tmpx",
            ".v.txt.12.3.4.tmp",
            "..v.txt.123.0.tmp",
            f".v.txt.{sleeper.pid}.0.tmp",
            ".v.txtx.999999.0.tmp",
        ]
        for name in keep:
            (tmp_path / name).write_bytes(b"not ours")
        (tmp_path / ".v.txt.999998.0.tmp").mkdir()  # the pattern, but a directory: left alone
        kv = _old_kv()
        kv.save_word2vec_format(target)
        names = set(os.listdir(tmp_path))
        assert leftovers[0] not in names
        assert names == {"v.txt", ".v.txt.999998.0.tmp", *keep}
        assert all((tmp_path / n).read_bytes() == b"not ours" for n in keep)
        assert KeyedVectors.load_word2vec_format(target).index_to_key == ["old", "older"]
    finally:
        sleeper.kill()
        sleeper.wait(timeout=30)


def test_stale_temp_of_a_regex_like_name_and_of_this_pid(tmp_path):
    # A target whose name has regex characters; a leftover with this process's pid that no thread
    # here is writing (an earlier process had the same pid, as after a container restart).
    target = tmp_path / "a+b(1).[x]*.bin"
    stale = tmp_path / f".{target.name}.{os.getpid()}.0.tmp"
    stale.write_bytes(b"partial")
    lookalike = tmp_path / ".aab(1).[x]*.bin.1.0.tmp"
    lookalike.write_bytes(b"keep")
    formats.atomic_write(target, lambda f: f.write(b"data"))
    assert target.read_bytes() == b"data"
    assert not stale.exists() and lookalike.read_bytes() == b"keep"


def test_concurrent_writer_in_this_process_keeps_its_temp(tmp_path):
    target = tmp_path / "t.bin"
    seen = []

    def outer(stream):
        stream.write(b"outer")
        # Another save of the same target while this one is open (another thread would do the same).
        formats.atomic_write(target, lambda f: f.write(b"inner"))
        seen.extend(os.listdir(tmp_path))

    formats.atomic_write(target, outer)
    assert target.read_bytes() == b"outer"
    assert sorted(os.listdir(tmp_path)) == ["t.bin"]
    assert any(n.endswith(".tmp") for n in seen)  # the outer temp survived the inner save


# Every writer of the package goes through embedforge._atomic: killed right before its rename, each
# leaves the target as it was, and its next save removes the leftover.
WRITERS = textwrap.dedent("""
    import sys
    import numpy as np
    import torch
    from embedforge import Word2Vec
    from embedforge._atomic import atomic_path
    from embedforge.data.vocab import Tokenizer, TokenizerConfig, Vocab
    from embedforge.train import Trainer
    from embedforge.vectors import KeyedVectors

    def save(kind, target, version):
        if kind == "model":
            Word2Vec([["a", "b", "c"]] * (5 + version), vector_size=4, min_count=1, epochs=1, seed=version,
                     workers=1).save(target)
        elif kind == "checkpoint":
            model = torch.nn.Linear(2, 1 + version)
            Trainer(model, torch.nn.functional.mse_loss, torch.optim.SGD(model.parameters(), lr=0.1),
                    progress=False).save_checkpoint(target)
        elif kind == "vocab":
            Vocab([f"w{i}" for i in range(version + 1)]).save(target)
        elif kind == "tokenizer":
            Tokenizer(TokenizerConfig(), Vocab([f"t{i}" for i in range(version + 1)])).save(target)
        elif kind == "by-name":  # the figure, projector, HTML and CLI writers open their file by name
            with atomic_path(target) as tmp:
                tmp.write_text(f"version {version}", encoding="utf-8")
        else:
            kv = KeyedVectors(2)
            kv.add_vectors([f"k{version}"], np.ones((1, 2), dtype=np.float32))
            kv.save_word2vec_format(target)

    kind, target, version, die = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
    if die:
        import os, signal
        def die_before_rename(src, dst):  # written and fsynced, not yet renamed over the target
            os.kill(os.getpid(), signal.SIGKILL)
        os.replace = die_before_rename
    save(kind, target, version)
""")

_WRITER_TARGETS = {
    "model": "m.model",
    "checkpoint": "ckpt.pt",
    "vocab": "vocab.json",
    "tokenizer": "tok.json",
    "by-name": "plot.png",
    "vectors-gz": "v.txt.gz",
}


def _writer(kind, target, version, die):
    proc = subprocess.run(
        [sys.executable, "-c", WRITERS, kind, str(target), str(version), "1" if die else "0"],
        timeout=180,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == (-signal.SIGKILL if die else 0), proc.stderr[-2000:]


@pytest.mark.parametrize("kind", sorted(_WRITER_TARGETS))
def test_every_writer_killed_before_rename_keeps_the_target_and_cleans_up_next_time(tmp_path, kind):
    target = tmp_path / _WRITER_TARGETS[kind]
    _writer(kind, target, 0, die=False)
    before = target.read_bytes()
    _writer(kind, target, 1, die=True)
    assert target.read_bytes() == before
    leftovers = sorted(set(os.listdir(tmp_path)) - {target.name})
    assert len(leftovers) == 1 and leftovers[0].startswith(f".{target.name}."), leftovers
    (tmp_path / f".{target.name}.999999.0.tmp.bak").write_bytes(b"not ours")  # another pattern: kept
    _writer(kind, target, 2, die=False)
    assert target.read_bytes() != before  # the new version is in place
    assert sorted(os.listdir(tmp_path)) == sorted([target.name, f".{target.name}.999999.0.tmp.bak"])
    assert (os.stat(target).st_mode & 0o777) == (0o666 & ~_umask())  # not mkstemp's private 0600


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
