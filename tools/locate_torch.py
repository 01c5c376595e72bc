"""Print the torch package directory and version that the build compiles against (for CMakeLists.txt).

Usage: python locate_torch.py [TORCH_ROOT] [FLOOR]

Prints three lines: the torch package directory, its version (without the local part) and how it
was found. Exits 1 with one message on stderr when no usable torch is found. Run by the target
Python, so that under pip's build isolation (which hides the environment's own packages) the
environment's site-packages can still be searched: the build needs torch's headers and
libtorch_cpu, never a working `import torch`.
"""

from __future__ import annotations

import os
import re
import sys
import sysconfig

_VERSION = re.compile(r"""^__version__\s*(?::\s*\w+\s*)?=\s*['"]([^'"]+)['"]""", re.M)  # also `: str =`


def _version_of(root: str) -> str | None:
    try:
        with open(os.path.join(root, "version.py"), encoding="utf-8") as f:
            m = _VERSION.search(f.read())
    except OSError:
        return None
    return m.group(1).split("+")[0] if m else None


def _usable(root: str) -> bool:
    return os.path.isdir(os.path.join(root, "include", "torch", "csrc", "stable")) and os.path.isdir(
        os.path.join(root, "lib")
    )


def _candidates(explicit: str):
    if explicit:
        yield os.path.abspath(explicit), "EMBEDFORGE_TORCH_ROOT"
        return
    try:
        import torch  # noqa: PLC0415

        yield os.path.dirname(torch.__file__), "import torch"
    except Exception:  # noqa: BLE001 - absent or hidden by build isolation: search the environment
        pass
    seen = set()
    for key in ("platlib", "purelib"):
        path = sysconfig.get_paths().get(key)
        if path and path not in seen:
            seen.add(path)
            yield os.path.join(path, "torch"), f"site-packages of {sys.prefix}"


def _tuple(version: str) -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", version)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def main(argv: list[str]) -> int:
    explicit = argv[1] if len(argv) > 1 else ""
    floor = argv[2] if len(argv) > 2 else "2.11"
    for root, how in _candidates(explicit):
        version = _version_of(root)
        if version is None or not _usable(root):
            if how == "EMBEDFORGE_TORCH_ROOT":
                print(
                    f"EMBEDFORGE_TORCH_ROOT={explicit} is not a torch package directory "
                    "(no version.py, include/torch/csrc/stable or lib/)",
                    file=sys.stderr,
                )
                return 1
            continue
        if _tuple(version) < _tuple(floor):
            print(
                f"torch {version} at {root} is older than the stable-ABI floor {floor}: "
                f"pip install 'torch>={floor}' first",
                file=sys.stderr,
            )
            return 1
        print(root)
        print(version)
        print(how)
        return 0
    print(
        f"torch>={floor} is needed to build embedforge and none was found for {sys.executable}. "
        f"Install torch into the environment you install embedforge into (pip install 'torch>={floor}'), "
        "then build again; or pass --no-build-isolation to pip; or set EMBEDFORGE_TORCH_ROOT to a torch "
        "package directory.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
