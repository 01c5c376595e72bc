"""The native core tests (tests/cpp/core_tests.cpp) as part of the suite: the CMake target
`core_tests` is built with this environment's cmake and ninja in build/core_tests (incremental, so
later runs only relink what changed) and run once per ISA build of the kernels. A failing case fails
here with the binary's output. Without a C++ compiler the tests skip and say so; any other build
failure (CMake, a compile error) is a failure, not a skip. `make sanitize` runs the same binary
under ASan/UBSan."""

from __future__ import annotations

import fcntl
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "core_tests"
BUILD_TIMEOUT_S = 900
RUN_TIMEOUT_S = 300


def _cxx_compiler() -> str | None:
    cxx = os.environ.get("CXX")
    if cxx:
        return shutil.which(cxx.split()[0])
    for name in ("c++", "g++", "clang++"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _tool(name: str) -> str | None:
    """The tool installed beside this Python (the .venv's), else the one on PATH."""
    here = pathlib.Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name)


def _run(cmd: list[str], what: str) -> None:
    try:
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{what} took over {BUILD_TIMEOUT_S} s: {' '.join(cmd)}\n{e.stdout or ''}{e.stderr or ''}")
    if r.returncode != 0:
        pytest.fail(f"{what} failed (exit {r.returncode}): {' '.join(cmd)}\n{r.stdout[-6000:]}\n{r.stderr[-6000:]}")


@pytest.fixture(scope="module")
def core_tests_binary() -> pathlib.Path:
    if _cxx_compiler() is None:
        pytest.skip("no C++ compiler ($CXX, c++, g++ or clang++ on PATH): the native core tests need one")
    cmake = _tool("cmake")
    if cmake is None:
        pytest.fail("cmake is not installed (`make venv` installs it into .venv)")
    ninja = _tool("ninja")
    BUILD.mkdir(parents=True, exist_ok=True)
    # One build of this directory at a time (several pytest runs of one checkout may overlap).
    with open(BUILD.parent / "core_tests.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ((BUILD / "build.ninja").exists() or (BUILD / "Makefile").exists()):
            configure = [
                cmake,
                "-S",
                str(ROOT),
                "-B",
                str(BUILD),
                "-DCMAKE_BUILD_TYPE=Release",
                "-DEMBEDFORGE_CUDA=OFF",
                f"-DPython_EXECUTABLE={sys.executable}",
            ]
            if ninja:
                configure += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"]
            _run(configure, "configuring the core tests")
        _run([cmake, "--build", str(BUILD), "--target", "core_tests"], "building the core tests")
    binary = BUILD / "core_tests"
    assert binary.exists(), f"the build succeeded but left no {binary}"
    return binary


@pytest.mark.parametrize("isa", ["baseline", "avx2", "avx512"])
def test_core_tests_pass(core_tests_binary, isa):
    env = dict(os.environ, EMBEDFORGE_ISA=isa)
    try:
        r = subprocess.run([str(core_tests_binary)], env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"core_tests (EMBEDFORGE_ISA={isa}) ran over {RUN_TIMEOUT_S} s\n{e.stdout or ''}{e.stderr or ''}")
    out = r.stdout + r.stderr
    assert r.returncode == 0, f"core_tests (EMBEDFORGE_ISA={isa}) exited {r.returncode}:\n{out[-8000:]}"
    summary = re.search(r"core_tests \((\w+)\): (\d+) passed, (\d+) failed", out)
    assert summary, f"core_tests printed no summary line:\n{out[-8000:]}"
    ran_as, n_passed, n_failed = summary.group(1), int(summary.group(2)), int(summary.group(3))
    assert n_failed == 0 and n_passed > 0, out[-8000:]
    if ran_as != isa:
        pytest.skip(f"this CPU has no {isa}: the cases passed with the {ran_as} kernels")
