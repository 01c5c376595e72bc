"""Loading the native extension, checking what it was built against, and translating its errors."""

from __future__ import annotations

import contextlib
import functools
import re
from typing import Iterator

import torch

__all__ = ["C", "build_info", "cuda_status", "translate_errors", "translated_error"]

try:
    from . import _C as C  # importing registers the torch.ops.embedforge operators
except ImportError as exc:  # pragma: no cover - exercised only on broken installs
    raise ImportError(
        f"embedforge's native extension failed to load ({exc}) with torch {torch.__version__}. It runs on any "
        "torch from its stable-ABI floor up (the torch requirement in its metadata); with such a torch, the "
        "install is damaged: reinstall embedforge (`make develop` in a source checkout, or "
        "`pip install --force-reinstall --no-deps embedforge`)."
    ) from exc


def _version_tuple(v: str) -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", v)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def _check_build() -> None:
    """Refuse a torch below the stable-ABI floor the extension was compiled for.

    The operators are built against torch's stable ABI at the floor (TORCH_TARGET_VERSION), so the
    torch whose headers the build happened to use does not matter: any torch from the floor up
    runs the same binary, older or newer than that one (make compat-check proves it per version).
    """
    info = C.build_info()
    floor = info["stable_abi_floor"]
    if _version_tuple(torch.__version__) < _version_tuple(floor):
        raise ImportError(
            f"embedforge needs torch>={floor} (its stable-ABI floor) but torch {torch.__version__} is installed. "
            f"Upgrade torch (pip install 'torch>={floor}')."
        )


_check_build()


@functools.lru_cache(maxsize=None)
def build_info() -> dict:
    """What the native core was built against and with: torch version, CUDA on/off, CPU ISA."""
    info = dict(C.build_info())
    info["torch_runtime"] = torch.__version__
    info["cuda_available"] = torch.cuda.is_available()
    return info


def cuda_status() -> tuple[bool, str]:
    """Whether the CUDA kernels are built and usable here, and a one-line reason.

    Usable means: built into this extension, torch sees a GPU, and a small lookup run on it
    through the CUDA kernel equals the CPU kernel's result.
    """
    info = build_info()
    if not info["cuda"]:
        return False, "not built (no nvcc when this extension was compiled)"
    archs = ", ".join(f"sm_{a}" for a in info.get("cuda_architectures", "").split(",") if a)
    built = f"built for {archs or 'the default architectures'}"
    if torch.version.cuda is None:
        return False, f"{built}; not usable: torch {torch.__version__} is a CPU-only build"
    if not torch.cuda.is_available():
        return False, f"{built}; not usable: torch (CUDA {torch.version.cuda}) sees no GPU"
    from .ops import embedding_bag  # noqa: PLC0415 - the op families load torch parts

    name = torch.cuda.get_device_name()
    try:
        w = torch.arange(12.0).reshape(6, 2)
        ids, offsets = torch.tensor([5, 0, 3, 3]), torch.tensor([0, 1])
        got = embedding_bag(w.cuda(), ids.cuda(), offsets.cuda()).cpu()
        if not torch.equal(got, embedding_bag(w, ids, offsets)):
            return False, f"{built}; WRONG result on {name}: the CUDA lookup disagrees with the CPU one"
    except Exception as exc:  # noqa: BLE001 - reported, not raised: this is a diagnosis
        return False, f"{built}; failed on {name}: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    return True, f"{built}; usable on {name} (CUDA {torch.version.cuda})"


_TAG = re.compile(r"\[embedforge:(\w+)\] ")


# Native caller errors are also RuntimeErrors, the class torch raises for the same mistakes
# (an out-of-range id, bad offsets or padding), so code written for torch still catches them.
class NativeValueError(ValueError, RuntimeError):
    """A bad argument value found by the native core (also a RuntimeError, as torch raises)."""


class NativeIndexError(IndexError, RuntimeError):
    """An out-of-range id found by the native core (also a RuntimeError, as torch raises)."""


class NativeTypeError(TypeError, RuntimeError):
    """A bad dtype found by the native core (also a RuntimeError, as torch raises)."""


_KINDS = {"ValueError": NativeValueError, "IndexError": NativeIndexError, "TypeError": NativeTypeError}


def translated_error(exc: RuntimeError) -> Exception:
    """The Python exception a tagged native caller error names (``exc`` itself when untagged)."""
    msg = str(exc)
    m = _TAG.search(msg)
    if m is None:
        return exc
    kind = _KINDS.get(m.group(1), ValueError)
    return kind(msg[m.end() :].split("\n", 1)[0])


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
