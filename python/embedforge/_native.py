"""Loading the native extension, checking what it was built against, and translating its errors."""

from __future__ import annotations

import contextlib
import functools
import re
from typing import Iterator

import torch

__all__ = ["C", "build_info", "translate_errors", "translated_error"]

_REBUILD_HINT = (
    "Rebuild embedforge against the installed torch: `make develop` in a source checkout, or "
    "`pip install --no-build-isolation --force-reinstall --no-deps embedforge` from source."
)

try:
    from . import _C as C  # importing registers the torch.ops.embedforge operators
except ImportError as exc:  # pragma: no cover - exercised only on broken installs
    raise ImportError(
        f"embedforge's native extension failed to load ({exc}). It must be built against the torch that is "
        f"installed (torch {torch.__version__} now). {_REBUILD_HINT}"
    ) from exc


def _version_tuple(v: str) -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", v)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def _check_build() -> None:
    info = C.build_info()
    built, running = _version_tuple(info["torch_version"]), _version_tuple(torch.__version__)
    floor = _version_tuple(info["stable_abi_floor"])
    if running < floor:
        raise ImportError(
            f"embedforge needs torch>={info['stable_abi_floor']} but torch {torch.__version__} is installed. "
            f"Upgrade torch (pip install 'torch>={info['stable_abi_floor']}')."
        )
    if running < built:
        raise ImportError(
            f"embedforge was built against torch {info['torch_version']} but torch {torch.__version__} is installed; "
            f"an extension built against newer torch headers cannot run on an older torch. {_REBUILD_HINT}"
        )


_check_build()


@functools.lru_cache(maxsize=None)
def build_info() -> dict:
    """What the native core was built against and with: torch version, CUDA on/off, CPU ISA."""
    info = dict(C.build_info())
    info["torch_runtime"] = torch.__version__
    info["cuda_available"] = torch.cuda.is_available()
    return info


_TAG = re.compile(r"\[embedforge:(\w+)\] ")
_KINDS = {"ValueError": ValueError, "IndexError": IndexError, "TypeError": TypeError}


def translated_error(exc: RuntimeError) -> Exception:
    """The Python exception a tagged native caller error names (``exc`` itself when untagged)."""
    msg = str(exc)
    m = _TAG.search(msg)
    if m is None:
        return exc
    kind = _KINDS.get(m.group(1), ValueError)
    return kind(msg[m.end():].split("\n", 1)[0])


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Re-raise the native core's tagged caller errors as the Python exception they name."""
    try:
        yield
    except RuntimeError as exc:
        err = translated_error(exc)
        if err is exc:
            raise
        raise err from None
