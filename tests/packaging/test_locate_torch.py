"""tools/locate_torch.py: how the build finds torch's headers and libtorch_cpu (also under pip's
build isolation, where `import torch` fails but the target environment holds torch)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "locate_torch.py"
TORCH_DIR = os.path.dirname(torch.__file__)


def _locate(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_the_importable_torch_is_found():
    proc = _locate("", "2.11")
    assert proc.returncode == 0, proc.stderr
    root, version, how = proc.stdout.splitlines()
    assert os.path.samefile(root, TORCH_DIR) and version == torch.__version__.split("+")[0] and how == "import torch"


def test_torch_hidden_from_import_is_found_in_site_packages(tmp_path):
    """pip's build isolation hides the environment's packages: `import torch` fails there."""
    (tmp_path / "torch.py").write_text("raise ImportError('hidden by build isolation')\n")
    proc = _locate("", "2.11", env={"PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    root, version, how = proc.stdout.splitlines()
    assert os.path.samefile(root, TORCH_DIR) and how.startswith("site-packages of ")


def test_an_explicit_torch_root_is_used_and_checked(tmp_path):
    fake = tmp_path / "torch"
    (fake / "include" / "torch" / "csrc" / "stable").mkdir(parents=True)
    (fake / "lib").mkdir()
    (fake / "version.py").write_text("__version__ = '2.14.1+cu130'\ngit_version = 'x'\n")
    proc = _locate(str(fake), "2.11")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [str(fake), "2.14.1", "EMBEDFORGE_TORCH_ROOT"]
    (fake / "version.py").write_text("from typing import Optional\n__version__: str = '2.15.0'\n")  # annotated form
    assert _locate(str(fake), "2.11").stdout.splitlines()[1] == "2.15.0"
    bad = _locate(str(tmp_path / "nothing"), "2.11")
    assert bad.returncode == 1 and "is not a torch package directory" in bad.stderr


def test_a_torch_below_the_floor_is_refused():
    proc = _locate("", "99.0")
    assert proc.returncode == 1
    assert "older than the stable-ABI floor 99.0" in proc.stderr and "pip install 'torch>=99.0'" in proc.stderr


def test_no_torch_anywhere_says_what_to_do(tmp_path):
    """A Python that has no torch at all (here: site-packages switched off, import blocked)."""
    (tmp_path / "torch.py").write_text("raise ImportError('absent')\n")
    code = (
        "import sys, runpy, sysconfig; sysconfig.get_paths = lambda: {}; "
        f"sys.argv = [{str(SCRIPT)!r}, '', '2.11']; runpy.run_path({str(SCRIPT)!r}, run_name='__main__')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert proc.returncode == 1
    assert "torch>=2.11 is needed to build embedforge" in proc.stderr and "--no-build-isolation" in proc.stderr


def test_the_ops_module_is_compiled_against_the_found_pybind11():
    """Not the copy torch ships in <torch>/include (torch 2.11's refuses TORCH_TARGET_VERSION)."""
    pybind11 = pytest.importorskip("pybind11", reason="pybind11 is a build requirement, absent from wheel installs")
    import embedforge

    assert embedforge.build_info()["pybind11"] == pybind11.__version__
