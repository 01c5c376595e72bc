"""Atomic saves, one implementation for every writer of the package.

A save writes a temporary file beside its target and renames it over the target once the data is
flushed and fsynced, so a failed or interrupted save leaves the target as it was. If the writer
raises, its temporary file is removed. A process killed mid-write (SIGKILL, power loss) cannot
remove it; the next save of the same target does (see :func:`remove_stale_temps`).

Temporary names: ``.{target}.{pid}.{n}.tmp``, plus the target's own suffix for writers that pick
a format from the file name (matplotlib, imageio): ``.{target}.{pid}.{n}.tmp.png``.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Union

__all__ = ["atomic_write", "atomic_path", "remove_stale_temps"]

PathLike = Union[str, "os.PathLike[str]"]

_TEMP_SUFFIX = ".tmp"
_live_temps: set[str] = set()  # temporary files this process is writing now (threads share a pid)
_live_lock = threading.Lock()


def _temp_name(directory: str, base: str, pid: int, attempt: int, suffix: str = "") -> str:
    return os.path.join(directory, f".{base}.{pid}.{attempt}{_TEMP_SUFFIX}{suffix}")


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (one of another user counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def remove_stale_temps(directory: str, base: str, suffix: str = "") -> None:
    """Remove temporary files a killed save left for target ``base`` in ``directory``.

    Only names of the exact form ``.{base}.{pid}.{n}.tmp`` (or ``...tmp{suffix}``; decimal pid and
    n) are considered, and only when their writer is gone: the pid names no live process, or it is
    this process's pid but no thread here is writing that file (a file left by an earlier process
    that had the same pid, as after a container restart). Files of other targets, of other
    patterns, of live writers and anything that is not a regular file are left alone.
    """
    tail = re.escape(_TEMP_SUFFIX) + (f"(?:{re.escape(suffix)})?" if suffix else "")
    pattern = re.compile(re.escape(f".{base}.") + r"([0-9]{1,10})\.([0-9]{1,3})" + tail)
    prefix = f".{base}."
    try:
        names = [n for n in os.listdir(directory) if n.startswith(prefix)]
    except OSError:
        return
    own = os.getpid()
    for name in names:
        match = pattern.fullmatch(name)
        if match is None:
            continue
        pid = int(match.group(1))
        full = os.path.join(directory, name)
        if pid == own:
            with _live_lock:
                if full in _live_temps:
                    continue
        elif _pid_alive(pid):
            continue
        try:
            if stat.S_ISREG(os.lstat(full).st_mode):
                os.unlink(full)
        except OSError:
            pass


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _temp_beside(path: PathLike, suffix: str) -> Iterator[tuple[str, str, int]]:
    """(target, temporary path, open fd) of a fresh temporary file beside ``path``; on success of
    the body the temporary file replaces the target, on any exception it is removed."""
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    base = os.path.basename(target)
    remove_stale_temps(directory, base, suffix)
    for attempt in range(100):
        tmp = _temp_name(directory, base, os.getpid(), attempt, suffix)
        with _live_lock:
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                continue
            _live_temps.add(tmp)
        break
    else:  # pragma: no cover - 100 temporary files of live writers
        raise FileExistsError(f"cannot create a temporary file beside {target}")
    try:
        yield target, tmp, fd
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        with _live_lock:
            _live_temps.discard(tmp)


def atomic_write(path: PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(file)`` on a binary temporary file beside ``path``, then rename it over ``path``."""
    with _temp_beside(path, "") as (_, _tmp, fd):
        with os.fdopen(fd, "wb") as raw:
            write(raw)
            raw.flush()
            os.fsync(raw.fileno())


@contextlib.contextmanager
def atomic_path(path: PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a writer that opens files by name; when the block
    ends without an exception it replaces ``path`` (parent folders are created), else it is removed.

    The temporary name ends with ``suffix`` (default: the target's own), for writers that choose a
    format from it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = target.suffix if suffix is None else suffix
    with _temp_beside(target, suffix) as (_, tmp, fd):
        os.close(fd)
        yield Path(tmp)
        with open(tmp, "rb+") as fh:  # the named writer closed its file; make the data durable
            os.fsync(fh.fileno())
