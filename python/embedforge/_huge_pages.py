"""Large CPU tables on transparent huge pages (the native side is csrc/core/huge_pages.h).

Lookups and updates touch rows scattered over a whole table, so with 4 KiB pages almost every
row costs a TLB miss and a page walk. ``EmbeddingBag`` and ``Embedding`` advise their CPU tables
of 8 MiB or more (and fused optimizer state) onto 2 MiB pages in place: contents, addresses and
aliasing are unchanged, only the page mapping. Where the kernel refuses (THP set to ``never``, no
free huge page, not Linux) nothing happens. ``EMBEDFORGE_HUGE_PAGES=0`` turns it off.
"""

from __future__ import annotations

import os

import torch

MIN_BYTES = 8 << 20


def enabled() -> bool:
    return os.environ.get("EMBEDFORGE_HUGE_PAGES", "1").strip().lower() not in ("0", "false", "no", "off")


def advise(t: torch.Tensor) -> int:
    """Backs a large contiguous CPU tensor with huge pages now; returns the bytes moved onto them
    (0 for small, non-CPU or non-contiguous tensors, when disabled, or when the kernel refuses)."""
    nbytes = t.numel() * t.element_size()
    if not enabled() or t.device.type != "cpu" or nbytes < MIN_BYTES or not t.is_contiguous():
        return 0
    from embedforge import _C

    _advised, collapsed = _C.advise_huge_pages(t.data_ptr(), nbytes)
    return int(collapsed)
