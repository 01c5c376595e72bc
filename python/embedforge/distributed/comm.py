"""Process groups with a timeout, collectives that name the rank that failed, and the cross-rank check.

Every collective embedforge runs goes through ``guarded(op, fn)``: when it fails (a peer closed its
connection, or the group's timeout passed) this rank records the fact in the rendezvous store, waits
a moment for the other ranks' records and raises ``RankFailedError`` naming the ranks that raised
(with their error) or stopped responding. A rank that raises posts its error to the store first
(``spawn``'s workers do; ``init_process_group`` installs an excepthook that does it under torchrun).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import sys
import time
from typing import Any, Callable, List, Optional, Sequence

import torch
import torch.distributed as dist

__all__ = [
    "RankFailedError",
    "init_process_group",
    "default_timeout",
    "guarded",
    "check_same_on_all_ranks",
    "post_failure",
]

_PREFIX = "embedforge/"
_state = {"store": None, "timeout": None, "hooked": False}
DEFAULT_TIMEOUT = 60.0


class RankFailedError(RuntimeError):
    """A collective failed because another rank raised, died or stopped responding."""

    def __init__(self, message: str, failed_ranks: Sequence[int] = ()) -> None:
        super().__init__(message)
        self.failed_ranks = list(failed_ranks)


def default_timeout() -> float:
    """The timeout (seconds) of groups created by ``init_process_group`` / ``spawn``, else 60."""
    return _state["timeout"] if _state["timeout"] is not None else DEFAULT_TIMEOUT


def _store():
    if _state["store"] is not None:
        return _state["store"]
    try:  # the default group's store (torchrun's agent store, or env:// rank 0's)
        return dist.distributed_c10d._get_default_store()
    except Exception:
        return None


def _key(kind: str, rank: int) -> str:
    return f"{_PREFIX}{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}/{kind}/{rank}"


def post_failure(message: str) -> None:
    """Records in the store that this rank failed (what the others' errors will quote)."""
    store = _store()
    if store is None or not dist.is_initialized():
        return
    try:
        store.set(_key("failed", dist.get_rank()), message[-2000:])
    except Exception:
        pass


def _excepthook(kind, value, tb):
    post_failure(f"{kind.__name__}: {value}")
    _state["previous_hook"](kind, value, tb)


def init_process_group(
    backend: Optional[str] = None,
    timeout: float = DEFAULT_TIMEOUT,
    store=None,
    rank: Optional[int] = None,
    world_size: Optional[int] = None,
) -> None:
    """``torch.distributed.init_process_group`` with a timeout in seconds (gloo on CPU, NCCL when
    CUDA is available), from torchrun's environment unless ``store``/``rank``/``world_size`` are given."""
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() and dist.is_nccl_available() else "gloo"
    td = datetime.timedelta(seconds=float(timeout))
    if backend == "gloo" and os.environ.get("MASTER_ADDR", "127.0.0.1") in ("127.0.0.1", "localhost"):
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # ranks on this machine talk over loopback
    if store is not None:
        dist.init_process_group(backend, store=store, rank=rank, world_size=world_size, timeout=td)
    else:
        dist.init_process_group(
            backend, timeout=td, rank=-1 if rank is None else rank, world_size=-1 if world_size is None else world_size
        )
    _state["store"] = store
    _state["timeout"] = float(timeout)
    if not _state["hooked"]:
        _state["previous_hook"] = sys.excepthook
        sys.excepthook = _excepthook
        _state["hooked"] = True


def _diagnose(op: str, group, exc: BaseException, wait: float) -> RankFailedError:
    me = dist.get_rank()
    world = dist.get_world_size()
    peers = [r for r in range(world) if r != me]
    store = _store()
    if store is None:
        return RankFailedError(f"rank {me}: {op} failed ({exc}); no store to learn which rank failed")
    failed, victims = {}, set()
    try:
        store.set(_key("comm_error", me), op)
        deadline = time.monotonic() + wait
        while True:
            for r in peers:
                if r in failed or r in victims:
                    continue
                if store.check([_key("failed", r)]):
                    failed[r] = store.get(_key("failed", r)).decode(errors="replace")
                elif store.check([_key("comm_error", r)]):
                    victims.add(r)
            if failed or len(failed) + len(victims) == len(peers) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    except Exception as store_exc:  # the store's host (rank 0 without torchrun or spawn) is gone
        return RankFailedError(
            f"rank {me}: {op} failed ({exc}); the store is unreachable too ({store_exc}), "
            f"so the rank hosting it (rank 0) probably died",
            [0],
        )
    silent = [r for r in peers if r not in failed and r not in victims]
    parts = [f"rank {r} raised: {m.strip().splitlines()[-1] if m.strip() else m}" for r, m in sorted(failed.items())]
    if not failed:
        parts += [f"rank {r} stopped responding (it died or hangs)" for r in silent]
    names = sorted(failed) or silent
    if not parts:
        parts = ["every other rank saw the same failure"]
    return RankFailedError(
        f"rank {me}: {op} failed because " + "; ".join(parts) + f" [{type(exc).__name__}: "
        f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}]",
        names,
    )


def guarded(op: str, fn: Callable[[], Any], group=None, wait: float = 2.0) -> Any:
    """Runs a collective; on failure raises ``RankFailedError`` naming the rank at fault."""
    try:
        return fn()
    except RankFailedError:
        raise
    except (RuntimeError, dist.DistError) as exc:  # gloo: connection closed / timed out
        raise _diagnose(op, group, exc, wait) from exc


# ---- the same configuration on every rank -----------------------------------------------------
def _first_difference(a: Any, b: Any, path: str = "") -> Optional[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a or k not in b:
                return f"{path}.{k}" if path else str(k)
            d = _first_difference(a[k], b[k], f"{path}.{k}" if path else str(k))
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b)):
            d = _first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None if len(a) == len(b) else f"{path} (length {len(a)} vs {len(b)})"
    return None if a == b else path


def _lookup(desc: Any, path: str) -> Any:
    import re

    cur = desc
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path.split(" (")[0]):
        try:
            cur = cur[int(part[1:-1])] if part.startswith("[") else cur[part]
        except (KeyError, IndexError, TypeError):
            return "<missing>"
    return cur


def check_same_on_all_ranks(description: dict, group, what: str = "configuration") -> None:
    """All-gathers a digest of ``description``; if ranks differ, raises ValueError on every rank
    naming the first difference between rank 0 and the first rank that differs."""
    text = json.dumps(description, sort_keys=False, default=str)
    digest = torch.tensor(list(hashlib.sha256(text.encode()).digest()), dtype=torch.uint8)
    world = dist.get_world_size(group)
    gathered = [torch.empty_like(digest) for _ in range(world)]
    guarded(f"all_gather ({what} digest)", lambda: dist.all_gather(gathered, digest, group=group))
    if all(torch.equal(g, gathered[0]) for g in gathered):
        return
    descs: List[Any] = [None] * world
    guarded(f"all_gather_object ({what})", lambda: dist.all_gather_object(descs, json.loads(text), group=group))
    other = next(r for r in range(world) if not torch.equal(gathered[r], gathered[0]))
    path = _first_difference(descs[0], descs[other]) or "<order>"
    raise ValueError(
        f"the {what} differs between ranks: {path} is {_lookup(descs[0], path)!r} on rank 0 but "
        f"{_lookup(descs[other], path)!r} on rank {other}"
    )
