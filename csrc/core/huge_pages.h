// Transparent huge pages for embedding tables and their optimizer state.
//
// A lookup or update touches rows scattered over the whole table, so with 4 KiB pages nearly
// every row costs a TLB miss and a page walk (often more than the row's own cache miss on a VM,
// whose page walks are two-dimensional). bench/fused_optim_bench --huge measures the effect on
// the forward and the fused updates. Tables are allocated by torch, so they are advised in place.
#pragma once
#include <cstddef>
#include <cstdint>

namespace embedforge::core {

struct HugePageAdvice {
  size_t advised = 0;    // bytes of whole 2 MiB pages inside the buffer marked MADV_HUGEPAGE
  size_t collapsed = 0;  // of those, bytes the kernel moved onto huge pages now (MADV_COLLAPSE)
};

// Marks the 2 MiB-aligned interior of [p, p + bytes) for transparent huge pages, then asks the
// kernel to back it with huge pages at once (its contents are kept; Linux 6.1+; elsewhere, or
// when THP is off or no huge page is free, nothing happens and the bytes read 0). Only the
// page mapping changes: the memory stays where it is, so tensors aliasing it are unaffected.
// Buffers under 4 MiB are left alone.
HugePageAdvice advise_huge_pages(void* p, size_t bytes);

}  // namespace embedforge::core
