"""Local ranks on the loopback address, for tests and notebooks: ``spawn(fn, world_size)``."""

from __future__ import annotations

import datetime
import multiprocessing as mp
import os
import pickle
import time
import traceback
from typing import Any, Callable, List, Optional, Sequence

import torch
import torch.distributed as dist

from . import comm

__all__ = ["spawn", "SpawnError"]

_HOST = "127.0.0.1"


class SpawnError(RuntimeError):
    """One or more ranks of ``spawn`` failed; ``exitcodes[r]`` and ``errors[r]`` (traceback text or None)."""

    def __init__(self, message: str, exitcodes: List[Optional[int]], errors: List[Optional[str]]) -> None:
        super().__init__(message)
        self.exitcodes, self.errors = exitcodes, errors


def _last_error_line(tb: str) -> str:
    """The 'Type: message' line of a traceback (its message may span several lines)."""
    lines = tb.strip().splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i] and not lines[i].startswith(" ") and ("Error" in lines[i] or "Exception" in lines[i]):
            return " ".join(x.strip() for x in lines[i:])[:500]
    return lines[-1] if lines else ""


def _worker(fn, rank, world_size, port, timeout, threads, backend, args, conn) -> None:
    os.environ.update(
        MASTER_ADDR=_HOST,
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank),
        LOCAL_WORLD_SIZE=str(world_size),
        GLOO_SOCKET_IFNAME="lo",
    )
    if threads is not None:
        torch.set_num_threads(threads)
    code = 0
    try:
        store = dist.TCPStore(_HOST, port, None, False, timeout=datetime.timedelta(seconds=timeout))
        comm.init_process_group(backend, timeout=timeout, store=store, rank=rank, world_size=world_size)
        result = fn(rank, world_size, *args)
        conn.send_bytes(pickle.dumps(("ok", result)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, then the rank exits non-zero
        code = 1
        comm.post_failure(f"{type(exc).__name__}: {exc}")
        try:
            conn.send_bytes(pickle.dumps(("error", traceback.format_exc())))
        except Exception:
            pass
    finally:
        conn.close()
        os._exit(code)  # no interpreter teardown: a dead peer must not make this rank hang on exit


def spawn(
    fn: Callable[..., Any],
    world_size: int,
    args: Sequence[Any] = (),
    timeout: float = 30.0,
    join_timeout: Optional[float] = None,
    threads: Optional[int] = 1,
    backend: str = "gloo",
    start_method: Optional[str] = None,
) -> List[Any]:
    """Runs ``fn(rank, world_size, *args)`` in ``world_size`` local processes joined in one process
    group (gloo on 127.0.0.1, a free port, collectives timing out after ``timeout`` s, ``threads``
    torch threads per rank) and returns the ranks' return values in rank order.

    If any rank fails, the others get ``timeout`` plus a few seconds to finish or fail too, the rest are
    killed, and ``SpawnError`` reports every rank's exit code and error. ``join_timeout`` (default:
    none) bounds the whole run. ``start_method`` defaults to "fork" where available (functions
    defined in a notebook work), else "spawn".
    """
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    method = start_method or ("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    ctx = mp.get_context(method)
    store = dist.TCPStore(_HOST, 0, None, True, timeout=datetime.timedelta(seconds=timeout), wait_for_workers=False)
    port = store.port
    procs, conns = [], []
    for r in range(world_size):
        parent, child = ctx.Pipe(duplex=False)
        p = ctx.Process(
            target=_worker, args=(fn, r, world_size, port, timeout, threads, backend, tuple(args), child), daemon=True
        )
        p.start()
        child.close()
        procs.append(p)
        conns.append(parent)
    results: List[Any] = [None] * world_size
    errors: List[Optional[str]] = [None] * world_size
    got = [False] * world_size
    start = time.monotonic()
    grace_until = None
    first_report = None
    try:
        while True:
            for r, c in enumerate(conns):
                if not got[r] and c.poll(0):
                    try:
                        kind, value = pickle.loads(c.recv_bytes())
                    except EOFError:
                        kind, value = "error", None
                    got[r] = True
                    if kind == "ok":
                        results[r] = value
                    else:
                        errors[r] = value
            alive = [p.is_alive() for p in procs]
            codes_now = [p.exitcode for p in procs]
            if not any(alive):
                break
            failed = any(errors) or any(not a and p.exitcode not in (0, None) for a, p in zip(alive, procs))
            now = time.monotonic()
            if failed and grace_until is None:
                grace_until = now + timeout + 3.0
            if first_report is None and any(errors):
                first_report = now
            if first_report is not None and all(
                errors[r] or codes_now[r] not in (0, None) for r in range(world_size) if not alive[r]
            ):
                # a rank has diagnosed the failure and every rank that ended failed: the ones left get
                # a short while to report their own error, then they count as stuck and are killed
                grace_until = min(grace_until, first_report + min(timeout, 3.0))
            if (grace_until is not None and now > grace_until) or (
                join_timeout is not None and now - start > join_timeout
            ):
                break
            time.sleep(0.01)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
        for p in procs:
            p.join(5)
        for r, c in enumerate(conns):
            if not got[r] and c.poll(0):
                try:
                    kind, value = pickle.loads(c.recv_bytes())
                    (results.__setitem__ if kind == "ok" else errors.__setitem__)(r, value)
                    got[r] = kind == "ok" or got[r]
                except Exception:
                    pass
            c.close()
        del store
    codes = [p.exitcode for p in procs]
    if any(c != 0 for c in codes) or any(errors):
        lines = []
        for r in range(world_size):
            if codes[r] == 0 and not errors[r]:
                continue
            how = f"killed by signal {-codes[r]}" if codes[r] is not None and codes[r] < 0 else f"exit code {codes[r]}"
            last = _last_error_line(errors[r]) if errors[r] else "no error reported (it died)"
            lines.append(f"rank {r} ({how}): {last}")
        first = next((errors[r] for r in range(world_size) if errors[r]), None)
        detail = f"\n--- first traceback ---\n{first[-4000:]}" if first else ""
        raise SpawnError("spawn: " + "; ".join(lines) + detail, codes, errors)
    return results
